"""The Operations page: per-stage counters from the worker, job counts by kind and status
and webhook deliveries by state, refreshed by htmx every few seconds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from nunchi.assembly import Platform
from nunchi.web.deps import PlatformDep
from nunchi.web.pages.rendering import render
from nunchi.web.pages.views import count_table, stage_rows

__all__ = ["REFRESH_SECONDS", "ops_pages_router"]

REFRESH_SECONDS = 5


def _panel(platform: Platform) -> dict[str, Any]:
    return {
        "has_worker": platform.worker is not None,
        "stages": stage_rows(platform.stats()),
        "has_jobs": True,
        "counts": count_table(platform.jobs.counts()),
        "webhook_counts": platform.webhooks.counts(),
        "updated_at": datetime.now(UTC),
        "refresh_seconds": REFRESH_SECONDS,
    }


def ops_pages_router() -> APIRouter:
    """Routes of the Operations page and its auto-refreshing panel."""
    router = APIRouter(include_in_schema=False)

    @router.get("/ops")
    def ops_page(request: Request, platform: PlatformDep) -> Response:
        return render(request, "ops.html", _panel(platform))

    @router.get("/ops/panel")
    def ops_panel(request: Request, platform: PlatformDep) -> Response:
        return render(request, "_ops_panel.html", _panel(platform))

    return router
