"""HTTP metrics (default Prometheus registry): requests by route template and status, and
their latency. Labels use the matched route's path template, never the raw path, so ids in
URLs do not explode the label set."""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["HTTP_REQUESTS", "HTTP_REQUEST_SECONDS", "HttpMetricsMiddleware"]

HTTP_REQUESTS = Counter(
    "nunchi_http_requests", "HTTP requests answered.", ["method", "route", "status"]
)
HTTP_REQUEST_SECONDS = Histogram(
    "nunchi_http_request_seconds",
    "Time to answer an HTTP request (until the response started).",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _route_label(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "<unmatched>"


class HttpMetricsMiddleware:
    """Counts and times every HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        begun = time.perf_counter()
        status = 500

        async def watching_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                method = scope["method"] if scope["method"] in _METHODS else "OTHER"
                HTTP_REQUEST_SECONDS.labels(method, _route_label(scope)).observe(
                    time.perf_counter() - begun
                )
            await send(message)

        try:
            await self.app(scope, receive, watching_send)
        finally:
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            HTTP_REQUESTS.labels(method, _route_label(scope), str(status)).inc()
