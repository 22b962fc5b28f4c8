"""The catalog app's API, mounted under ``/api/v1/catalog``.

``GET /{kind}/items?q=&<attr>_min=&<attr>_max=&category=&sort=&cursor=&limit=`` searches a
catalog (``food``, ``plant`` or any imported kind); ``GET /{kind}/items/{id}`` is one item
(with its nutrition facts per serving for food, its warning card for plants);
``GET /{kind}/rankings`` the most identified items (``window=hour`` or ``all``);
``POST /{kind}/identify`` takes a photo and answers 202 with the identify job
(``Location``: poll it, or pass nothing and watch the page); ``POST /{kind}/import`` imports a
table with a column mapping (admin).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Query, Request, Response, UploadFile
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from nunchi.apps.base import App
from nunchi.apps.catalog.foods import FOOD_KIND, nutrition_facts
from nunchi.apps.catalog.mapping import ColumnMapping
from nunchi.apps.catalog.plant_guard import emergency, plant_card
from nunchi.apps.catalog.query import SearchQuery
from nunchi.apps.catalog.records import KIND_PATTERN
from nunchi.apps.catalog.services import CatalogServices
from nunchi.apps.catalog.shipped import PLANT_KIND
from nunchi.jobs.schemas import JobOut
from nunchi.web.auth import AdminPrincipal, ReadPrincipal, SubmitPrincipal
from nunchi.web.deps import RowId, app_services
from nunchi.web.routes.jobs import error_responses
from nunchi.web.uploads import read_upload, upload_image

__all__ = ["ItemId", "SearchPageOut", "catalog_api", "item_detail"]

_Kind = Annotated[str, Path(description="The catalog: food, plant or an imported kind.",
                            pattern=KIND_PATTERN)]
ItemId = RowId
_MAX_IMPORT_BYTES = 50 * 1024 * 1024


class SearchPageOut(BaseModel):
    """One page of a catalog search, best (or first by the sort) first."""

    items: list[dict[str, Any]]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page.")
    sort: str
    truncated: bool = Field(
        description="With q and another sort than relevance: only the best 5,000 text "
        "matches were sorted.")


def item_detail(item: dict[str, Any]) -> dict[str, Any]:
    """An item with what its kind adds: nutrition facts (food) or the warning card and the
    emergency help (plant)."""
    out = dict(item)
    if item["kind"] == FOOD_KIND:
        out["nutrition"] = nutrition_facts(item)
    elif item["kind"] == PLANT_KIND:
        out["card"] = plant_card(item)
        out["emergency"] = emergency()
    return out


def catalog_api(app: App[CatalogServices]) -> APIRouter:
    """The catalog API routes."""
    router = APIRouter()

    @router.get("", summary="The catalogs and their sizes")
    def catalogs(request: Request, principal: ReadPrincipal) -> dict[str, Any]:
        """Every catalog with its active items and identifications."""
        services = app_services(request, app)
        services.ready()
        return {"catalogs": [{"kind": s.kind, "items": s.items, "identified": s.identified}
                             for s in services.store.kinds()]}  # fmt: skip

    @router.get("/{kind}/items", response_model=SearchPageOut,
                responses=error_responses(401, 403, 422), summary="Search a catalog")
    def search_items(
        request: Request, kind: _Kind, principal: ReadPrincipal,
        q: Annotated[str | None, Query(description="Text: typos, ㄱㅊ, rlacl all match.")] = None,
        sort: Annotated[str | None, Query(description="relevance, name, -name, popular, "
                                          "popular_hour, <attr> or -<attr>.")] = None,
        cursor: Annotated[str | None, Query(description="next_cursor of the last page.")] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        category: str | None = None,
    ) -> dict[str, Any]:
        """Keyword and typo-tolerant Korean text over name, aliases, maker and category,
        numeric ranges over any attributes (``energy_kcal_min=100&protein_g_max=20``),
        a category, any sort; pages follow ``next_cursor`` without a ceiling."""
        params = dict(request.query_params)
        params.pop("lang", None)
        query = SearchQuery.from_params(kind, params)
        return app_services(request, app).find(query).to_dict()

    @router.get("/{kind}/items/{item_id}", responses=error_responses(401, 403, 404),
                summary="One catalog item")
    def get_item(request: Request, kind: _Kind, item_id: ItemId,
                 principal: ReadPrincipal) -> dict[str, Any]:
        """The item, its attribution and what its kind adds (nutrition facts per serving for
        food; the toxicity card and the emergency help for plants)."""
        return item_detail(app_services(request, app).item(kind, item_id))

    @router.get("/{kind}/rankings", responses=error_responses(401, 403, 422),
                summary="The most identified items")
    def rankings(
        request: Request, kind: _Kind, principal: ReadPrincipal,
        window: Annotated[str, Query(pattern="^(hour|all)$")] = "all",
        limit: Annotated[int, Query(ge=1, le=100)] = 10,
    ) -> dict[str, Any]:
        """Items by identifications: in the last hour or of all time."""
        rows = app_services(request, app).rankings(kind, window, limit)
        return {"window": window, "items": [{"id": r["item"]["id"], "name": r["item"]["name"],
                                             "count": r["count"]} for r in rows]}

    @router.get("/{kind}/sources", summary="Where a catalog's data comes from")
    def sources(request: Request, kind: _Kind, principal: ReadPrincipal) -> dict[str, Any]:
        """The imports of a catalog with their attribution, newest first."""
        services = app_services(request, app)
        services.ready()
        return {"sources": services.store.sources(kind)}

    @router.post("/{kind}/identify", status_code=202, response_model=JobOut,
                 responses=error_responses(401, 403, 413, 415, 422),
                 summary="Identify the dish or plant in a photo")
    async def identify(request: Request, response: Response, kind: _Kind,
                       principal: SubmitPrincipal,
                       image: Annotated[UploadFile, File(description="The photo.")]) -> JobOut:
        """Store the photo (re-encoded, without metadata) and queue its identify job
        (``catalog.food_lens`` or ``catalog.plant_guard``); poll ``Location``. A damaged,
        oversized or non-image upload is refused (413/415/422) and nothing is stored."""
        photo = await upload_image(image)
        services = app_services(request, app)
        job = await run_in_threadpool(services.submit_identify, kind, photo, principal.name)
        response.headers["Location"] = f"/api/v1/jobs/{job.id}"
        return job

    @router.post("/{kind}/import", responses=error_responses(401, 403, 413, 415, 422),
                 summary="Import a table into a catalog")
    async def import_table(
        request: Request, kind: _Kind, principal: AdminPrincipal,
        file: Annotated[UploadFile, File(description="CSV, TSV, JSON lines or xlsx.")],
        mapping: Annotated[str, Form(description="column=target,... (as nunchi catalog import)")],
        source: Annotated[str, Form(description="Who published the data (the attribution).")],
        null_values: Annotated[str, Form(description="Values that mean empty, comma-separated.")]
        = "",
        licence: Annotated[str | None, Form()] = None,
        url: Annotated[str | None, Form()] = None,
    ) -> dict[str, Any]:
        """Import CSV (UTF-8 or CP949), TSV, JSON lines or xlsx with a column mapping."""
        data = await read_upload(file, max_bytes=_MAX_IMPORT_BYTES)
        nulls = [v.strip() for v in null_values.split(",") if v.strip()]
        column_mapping = ColumnMapping.parse(mapping, nulls)
        services = app_services(request, app)
        return await run_in_threadpool(
            lambda: services.import_table(kind, data, column_mapping, source=source,
                                          file=file.filename, url=url, licence=licence))

    return router
