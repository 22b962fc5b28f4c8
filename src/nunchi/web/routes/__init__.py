"""HTTP routers: the JSON API (``/api/v1``), health and metrics, and the HTML pages."""
