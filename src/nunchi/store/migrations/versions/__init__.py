"""Schema revisions. Ids are fixed (``0001_jobs``, ``0002_webhooks``, ...) so modules chain."""
