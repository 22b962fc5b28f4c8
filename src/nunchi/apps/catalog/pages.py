"""The catalog app's pages: the hub (``/catalog``), Food lens (``/catalog/food``: photo or
camera -> result card with nutrition per serving; nutrient range sliders; keyword search;
item pages with a nutrient chart) and the live result of an identify job
(``/catalog/jobs/{id}``). Plant guard's pages are in :mod:`nunchi.apps.catalog.plant_pages`.
Page scripts live in ``nunchi/web/static/catalog/`` (no inline scripts)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from nunchi.apps.base import App
from nunchi.apps.catalog.api import ItemId, item_detail
from nunchi.apps.catalog.foods import FOOD_ATTRIBUTION, FOOD_KIND, SLIDERS, nutrient
from nunchi.apps.catalog.page_support import (
    identify_upload,
    job_result,
    live_result,
    page_search,
    rows_context,
)
from nunchi.apps.catalog.plant_pages import plant_routes
from nunchi.apps.catalog.services import CatalogServices
from nunchi.web.deps import app_services
from nunchi.web.pages.rendering import is_htmx, render, translator

__all__ = ["catalog_pages", "nutrient_chart"]

_CHART_ATTRS = ("carbohydrate_g", "protein_g", "fat_g", "sugars_g", "fiber_g",
                "saturated_fat_g")  # fmt: skip
_SORTS = ("relevance", "name", "energy_kcal", "-energy_kcal", "-protein_g", "fat_g",
          "sugars_g", "sodium_mg", "popular")  # fmt: skip


def _sliders(request: Request) -> list[dict[str, Any]]:
    lang = translator(request).lang
    out = []
    for attr, low, high, step in SLIDERS:
        n = nutrient(attr)
        assert n is not None
        chosen_low = request.query_params.get(f"{attr}_min") or low
        chosen_high = request.query_params.get(f"{attr}_max") or high
        out.append({"attr": attr, "label": n.ko if lang == "ko" else n.en, "unit": n.unit,
                    "min": low, "max": high, "step": step, "low": chosen_low,
                    "high": chosen_high})  # fmt: skip
    return out


def nutrient_chart(facts: dict[str, Any], lang: str) -> dict[str, Any]:
    """Bar chart data of a dish's main nutrients in grams (per serving when known)."""
    per = "per_serving" if facts["factor"] is not None else "per_100"
    rows = [r for r in facts["rows"] if r["attr"] in _CHART_ATTRS and r[per] is not None]
    return {"x": [r["ko"] if lang == "ko" else r["en"] for r in rows],
            "series": [{"name": "g", "values": [r[per] for r in rows]}]}  # fmt: skip


def catalog_pages(app: App[CatalogServices]) -> APIRouter:
    """Routes of the catalog pages."""
    router = APIRouter()

    @router.get("/catalog")
    def hub(request: Request) -> Response:
        services = app_services(request, app)
        services.ready()
        kinds = services.store.kinds()
        return render(request, "catalog/index.html", {
            "kinds": kinds, "today": services.identified_today()})

    @router.get("/catalog/food")
    def food_page(request: Request) -> Response:
        services = app_services(request, app)
        query = page_search(FOOD_KIND, request, SLIDERS)
        page = services.find(query)
        context = {**rows_context("/catalog/food/items", request, page),
                   "sliders": _sliders(request), "q": query.q or "", "sort": query.order,
                   "sorts": _SORTS, "attribution": FOOD_ATTRIBUTION}  # fmt: skip
        return render(request, "catalog/food.html", context)

    @router.get("/catalog/food/items")
    def food_rows(request: Request) -> Response:
        services = app_services(request, app)
        page = services.find(page_search(FOOD_KIND, request, SLIDERS))
        context = rows_context("/catalog/food/items", request, page)
        return render(request, "catalog/_food_rows.html", context)

    @router.get("/catalog/food/items/{item_id}")
    def food_item(request: Request, item_id: ItemId) -> Response:
        item = item_detail(app_services(request, app).item(FOOD_KIND, item_id))
        chart = nutrient_chart(item["nutrition"], translator(request).lang)
        return render(request, "catalog/food_item.html", {
            "item": item, "chart_data": chart, "attribution": FOOD_ATTRIBUTION})

    @router.post("/catalog/food/identify")
    async def food_identify(request: Request) -> Response:
        services = app_services(request, app)
        return await identify_upload(request, services, FOOD_KIND, "catalog/_pending.html")

    @router.get("/catalog/jobs/{job_id}")
    async def result_page(request: Request, job_id: str) -> Response:
        context = await run_in_threadpool(job_result, request, job_id)
        template = "catalog/_result.html" if is_htmx(request) else "catalog/job.html"
        return render(request, template, context)

    @router.get("/catalog/jobs/{job_id}/events")
    def result_events(request: Request, job_id: str) -> Response:
        """The live result of an identify job: the card, pushed once the job is done."""
        return live_result(request, job_id, "catalog/_result.html")

    plant_routes(router, app)
    return router
