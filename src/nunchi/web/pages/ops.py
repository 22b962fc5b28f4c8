"""The Operations page: jobs finished and failed per minute over the last hour (a chart that
moves live), per-stage counters from the worker, job counts by kind and status and webhook
deliveries by state (refreshed by htmx every few seconds)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from nunchi.assembly import Platform
from nunchi.jobs.service import JOBS_CHANNEL
from nunchi.web.deps import PlatformDep
from nunchi.web.pages.rendering import render, translator
from nunchi.web.pages.views import count_table, stage_rows
from nunchi.web.sse import ServerEvent, event_stream

__all__ = ["REFRESH_SECONDS", "ops_pages_router"]

REFRESH_SECONDS = 5


def _panel(platform: Platform) -> dict[str, Any]:
    return {
        "has_worker": platform.worker is not None,
        "stages": stage_rows(platform.stats()),
        "stage_processes": platform.processes.states() if platform.processes else [],
        "has_jobs": True,
        "counts": count_table(platform.jobs.counts()),
        "webhook_counts": platform.webhooks.counts(),
        "updated_at": datetime.now(UTC),
        "refresh_seconds": REFRESH_SECONDS,
    }


TIMELINE_MINUTES = 60


def _timeline(request: Request, platform: Platform) -> dict[str, Any]:
    """The chart data of jobs finished per minute (succeeded and failed, stacked)."""
    t = translator(request)
    line = platform.jobs.timeline(TIMELINE_MINUTES)
    return {
        "x": [m.isoformat() for m in line.minutes],
        "x_type": "time",
        "stack": True,
        "series": [
            {"name": t("status.succeeded"), "values": line.succeeded, "color": "#1e7b45"},
            {"name": t("status.failed"), "values": line.failed, "color": "#b3261e"},
        ],
    }


def _chart_labels(request: Request) -> dict[str, str]:
    t = translator(request)
    return {
        "png": t("chart.png"),
        "csv": t("chart.csv"),
        "x": t("ops.timeline.minute"),
        "y": t("ops.timeline.jobs"),
        "empty": t("ops.timeline.empty"),
        "filename": "nunchi-jobs-per-minute",
    }


def ops_pages_router() -> APIRouter:
    """Routes of the Operations page, its live chart and its auto-refreshing panel."""
    router = APIRouter(include_in_schema=False)

    @router.get("/ops")
    def ops_page(request: Request, platform: PlatformDep) -> Response:
        context = {
            **_panel(platform),
            "timeline": _timeline(request, platform),
            "chart_labels": _chart_labels(request),
        }
        return render(request, "ops.html", context)

    @router.get("/ops/events")
    def ops_events(request: Request, platform: PlatformDep) -> Response:
        """The chart's live updates: nudged by every job change, at most once a second."""

        def fetch(cursor: str | None) -> tuple[list[ServerEvent], str | None]:
            data = _timeline(request, platform)
            key = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
            if key == cursor:
                return [], cursor
            return [ServerEvent({"id": "ops-timeline", "data": data}, "chart", key)], key

        return event_stream(
            request, fetch, nudges=platform.core.nudges, channels=[JOBS_CHANNEL],
            interval=10.0, min_gap=1.0, max_seconds=platform.settings.live_max_seconds,
        )  # fmt: skip

    @router.get("/ops/panel")
    def ops_panel(request: Request, platform: PlatformDep) -> Response:
        return render(request, "_ops_panel.html", _panel(platform))

    return router
