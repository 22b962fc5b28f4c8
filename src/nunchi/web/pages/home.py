"""The home page: every app as a card with its live figure (pushed over server-sent events),
and the platform's pages."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from nunchi.assembly import Platform
from nunchi.jobs.service import JOBS_CHANNEL
from nunchi.web.deps import PlatformDep
from nunchi.web.i18n import choose_language
from nunchi.web.pages.rendering import render
from nunchi.web.sse import ServerEvent, event_stream

__all__ = ["home_cards", "home_pages_router"]


def home_cards(platform: Platform, lang: str) -> list[dict[str, Any]]:
    """One card per app: title, summary, link and its figure now (None without one)."""
    cards = []
    for app in platform.apps:
        figure = app.figure(platform.services(app)) if app.figure is not None else None
        cards.append(
            {
                "name": app.name,
                "title": app.text(app.title, lang),
                "summary": app.text(app.summary, lang),
                "href": app.path,
                "figure": figure,
            }
        )
    return cards


def home_pages_router() -> APIRouter:
    """The route of the home page."""
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    def home(request: Request, platform: PlatformDep) -> Response:
        lang = choose_language(request, request.app.state.settings.default_language).lang
        counts = platform.jobs.counts()
        totals = {"jobs": sum(sum(by.values()) for by in counts.values())}
        totals["failed"] = sum(by.get("failed", 0) for by in counts.values())
        return render(request, "home.html", {"cards": home_cards(platform, lang), "totals": totals})

    @router.get("/home/events")
    def home_events(request: Request, platform: PlatformDep) -> Response:
        """The cards' figures as they change (checked every few seconds, and when jobs
        change state)."""

        def fetch(cursor: str | None) -> tuple[list[ServerEvent], str | None]:
            figures = {
                app.name: _shown(app.figure(platform.services(app)).value)
                for app in platform.apps
                if app.figure is not None
            }
            key = hashlib.sha256(json.dumps(figures, sort_keys=True).encode()).hexdigest()[:16]
            if key == cursor:
                return [], cursor
            return [
                ServerEvent({"name": n, "value": v}, "figure", key) for n, v in figures.items()
            ], key

        return event_stream(
            request, fetch, nudges=platform.core.nudges, channels=[JOBS_CHANNEL],
            interval=5.0, min_gap=1.0, max_seconds=platform.settings.live_max_seconds,
        )  # fmt: skip

    return router


def _shown(value: int | float | str) -> str:
    """A figure as the card shows it (thousands separators)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"
