"""Plant guard's pages (``/catalog/plants``): a photo -> a warning card (pushed live when the
job is done) with the emergency help always in view; the encyclopedia as an infinite list
(htmx ``revealed`` + cursor) with search as you type; the rankings of the last hour and of
all time; one page per plant."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from nunchi.apps.base import App
from nunchi.apps.catalog.api import ItemId, item_detail
from nunchi.apps.catalog.page_support import identify_upload, page_search, rows_context
from nunchi.apps.catalog.plant_guard import emergency
from nunchi.apps.catalog.services import CatalogServices
from nunchi.apps.catalog.shipped import PLANT_KIND
from nunchi.web.deps import app_services
from nunchi.web.pages.rendering import render

__all__ = ["plant_routes"]

_RANKED = 10


def _rankings(services: CatalogServices) -> dict[str, Any]:
    return {"hour": services.rankings(PLANT_KIND, "hour", _RANKED),
            "all": services.rankings(PLANT_KIND, "all", _RANKED)}  # fmt: skip


def plant_routes(router: APIRouter, app: App[CatalogServices]) -> None:
    """Add Plant guard's routes to ``router``."""

    @router.get("/catalog/plants")
    def plants_page(request: Request) -> Response:
        services = app_services(request, app)
        query = page_search(PLANT_KIND, request)
        page = services.find(query)
        context = {**rows_context("/catalog/plants/items", request, page), "q": query.q or "",
                   "rankings": _rankings(services), "help": emergency()}  # fmt: skip
        return render(request, "catalog/plants.html", context)

    @router.get("/catalog/plants/items")
    def plant_rows(request: Request) -> Response:
        services = app_services(request, app)
        page = services.find(page_search(PLANT_KIND, request))
        context = rows_context("/catalog/plants/items", request, page)
        return render(request, "catalog/_plant_rows.html", context)

    @router.get("/catalog/plants/rankings")
    def plant_rankings(request: Request) -> Response:
        services = app_services(request, app)
        return render(request, "catalog/_rankings.html", {"rankings": _rankings(services)})

    @router.get("/catalog/plants/items/{item_id}")
    def plant_item(request: Request, item_id: ItemId) -> Response:
        item = item_detail(app_services(request, app).item(PLANT_KIND, item_id))
        return render(request, "catalog/plant_item.html", {
            "item": item, "card": item["card"], "help": item["emergency"]})

    @router.post("/catalog/plants/identify")
    async def plant_identify(request: Request) -> Response:
        services = app_services(request, app)
        return await identify_upload(request, services, PLANT_KIND, "catalog/_pending.html")
