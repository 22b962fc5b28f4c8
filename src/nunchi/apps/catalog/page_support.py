"""What the catalog pages share: searches from a page's query string, the next-page link of
an infinite list, photo uploads into identify jobs, and the live result of such a job."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from nunchi.apps.catalog.plant_guard import emergency
from nunchi.apps.catalog.query import SearchQuery
from nunchi.apps.catalog.search import SearchPage
from nunchi.apps.catalog.services import IDENTIFY_KINDS, CatalogServices
from nunchi.apps.catalog.shipped import PLANT_KIND
from nunchi.errors import InvalidInput, NotFound
from nunchi.web.deps import web_state
from nunchi.web.pages.rendering import is_htmx, render, render_text
from nunchi.web.pages.security import check_csrf
from nunchi.web.sse import ServerEvent, event_stream
from nunchi.web.uploads import upload_image

__all__ = [
    "PAGE_ITEMS",
    "identify_upload",
    "job_result",
    "live_result",
    "page_search",
    "rows_context",
]

PAGE_ITEMS = 30
"""Rows per step of an infinite list."""
_LIVE_GAP = 0.25


def page_search(kind: str, request: Request,
                sliders: Sequence[tuple[str, float, float, float]] = ()) -> SearchQuery:
    """The search a page's query string asks for; a slider left at its end is no bound
    (``fat_g_min=0`` would otherwise hide every dish without a fat value)."""
    ends = {f"{attr}_min": low for attr, low, _, _ in sliders}
    ends.update({f"{attr}_max": high for attr, _, high, _ in sliders})
    params: dict[str, str] = {}
    for name, value in request.query_params.items():
        if name == "lang" or value == "":
            continue
        if name in ends:
            try:
                if float(value) == ends[name]:
                    continue
            except ValueError:
                pass
        params[name] = value
    params.setdefault("limit", str(PAGE_ITEMS))
    return SearchQuery.from_params(kind, params)


def rows_context(path: str, request: Request, page: SearchPage) -> dict[str, Any]:
    """The context of an infinite list's rows: the page and the URL of the next one."""
    next_url = None
    if page.next_cursor:
        params = {k: v for k, v in request.query_params.items() if k != "cursor"}
        params["cursor"] = page.next_cursor
        next_url = f"{path}?{urlencode(params)}"
    return {"page": page, "next_url": next_url}


def _field(value: object) -> UploadFile | None:
    return value if isinstance(value, UploadFile) else None


async def identify_upload(request: Request, services: CatalogServices, kind: str,
                          pending_template: str) -> Response:
    """A page's photo form: check CSRF, read the photo safely (4xx and nothing stored when
    it is not a readable image), queue its job; htmx gets the live pending fragment, a plain
    form post a redirect to the result page."""
    await check_csrf(request)
    form = await request.form()
    upload = _field(form.get("photo"))
    if upload is None or not (upload.filename or upload.size):
        raise InvalidInput("choose a photo (or take one with the camera) first")
    photo = await upload_image(upload)
    job = await run_in_threadpool(services.submit_identify, kind, photo, None)
    if not is_htmx(request):
        return RedirectResponse(f"/catalog/jobs/{job.id}", status_code=303)
    return render(request, pending_template, {"job_id": job.id, "status": job.status})


def job_result(request: Request, job_id: str) -> dict[str, Any]:
    """An identify job as a result card needs it (NotFound for another kind of job)."""
    job = web_state(request).platform.jobs.get(job_id)
    kinds = {v: k for k, v in IDENTIFY_KINDS.items()}
    if job.kind not in kinds:
        raise NotFound(f"job {job_id} is not a photo identification")
    error = job.error.get("message") if isinstance(job.error, Mapping) else None
    catalog = kinds[job.kind]
    return {"job_id": job.id, "status": job.status, "catalog": catalog, "result": job.result,
            "error": error, "help": emergency() if catalog == PLANT_KIND else None}


def live_result(request: Request, job_id: str, template: str) -> Response:
    """The live updates of an identify job's result: ``template`` again whenever the job's
    status changes (the card once it succeeded)."""
    platform = web_state(request).platform
    job_result(request, job_id)  # 404 now, not inside the stream

    def fetch(cursor: str | None) -> tuple[list[ServerEvent], str | None]:
        context = job_result(request, job_id)
        key = str(context["status"])
        if key == cursor:
            return [], cursor
        html = render_text(request, template, context)
        return [ServerEvent({"html": html}, "html", key)], key

    return event_stream(request, fetch, nudges=platform.core.nudges,
                        channels=[f"job:{job_id}"], min_gap=_LIVE_GAP,
                        max_seconds=platform.settings.live_max_seconds)  # fmt: skip
