"""The home page: every app as a card with its live figure, and the platform's pages."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from nunchi.assembly import Platform
from nunchi.web.deps import PlatformDep
from nunchi.web.i18n import choose_language
from nunchi.web.pages.rendering import render

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

    return router
