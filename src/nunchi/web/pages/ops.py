"""The Operations page: per-stage counters from the worker, job counts by kind and status
and webhook deliveries by state, refreshed by htmx every few seconds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from nunchi.web.pages.rendering import render
from nunchi.web.pages.views import count_table, stage_rows

__all__ = ["REFRESH_SECONDS", "ops_pages_router"]

REFRESH_SECONDS = 5


def _panel(request: Request) -> dict[str, Any]:
    provider = getattr(request.app.state, "worker_stats", None)
    jobs = getattr(request.app.state, "jobs", None)
    webhooks = getattr(request.app.state, "webhooks", None)
    return {
        "has_worker": provider is not None,
        "stages": stage_rows(provider() if provider is not None else None),
        "has_jobs": jobs is not None,
        "counts": count_table(jobs.counts() if jobs is not None else {}),
        "webhook_counts": webhooks.counts() if webhooks is not None else None,
        "updated_at": datetime.now(UTC),
        "refresh_seconds": REFRESH_SECONDS,
    }


def ops_pages_router() -> APIRouter:
    """Routes of the Operations page and its auto-refreshing panel."""
    router = APIRouter(include_in_schema=False)

    @router.get("/ops")
    def ops_page(request: Request) -> Response:
        return render(request, "ops.html", _panel(request))

    @router.get("/ops/panel")
    def ops_panel(request: Request) -> Response:
        return render(request, "_ops_panel.html", _panel(request))

    return router
