"""The vision app's pages: the list of projects, a project (tags, images, uploads, URL list,
training, iterations, "try it"), an iteration (metrics, confusion matrix, publish, export).

Forms post with the page's CSRF token; an action needs the scope its API route needs
(``submit``; ``admin`` to publish). Training and URL imports are jobs: the page links to the
job's live page. A refused upload answers the error page (4xx) and stores nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import RedirectResponse, Response

from nunchi.analyzers.vision.recipes import DEFAULT_RECIPE
from nunchi.apps.base import App
from nunchi.apps.vision.api import MAX_PREDICT_FILES
from nunchi.apps.vision.schemas import ImportReport, TrainRequest
from nunchi.apps.vision.service import VisionServices
from nunchi.errors import InvalidInput, NotFound
from nunchi.inputs.images import DEFAULT_MAX_IMAGE_BYTES
from nunchi.web.deps import app_services
from nunchi.web.pages.rendering import render, translator
from nunchi.web.pages.security import check_csrf, page_actor
from nunchi.web.uploads import read_upload

__all__ = ["vision_pages"]

_ADMIN = "admin"


def _field(form: Any, name: str, default: str = "") -> str:
    value = form.get(name, default)
    return value.strip() if isinstance(value, str) else default


def _files(form: Any, name: str) -> list[UploadFile]:
    return [f for f in form.getlist(name) if isinstance(f, UploadFile) and (f.filename or f.size)]


def _number(value: str, name: str, low: float, high: float, default: float) -> float:
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        raise InvalidInput(f"{name} must be a number between {low} and {high}") from None
    if not low <= number <= high:
        raise InvalidInput(f"{name} must be between {low} and {high}")
    return number


def _project_context(
    service: VisionServices, name: str, tag: str | None, cursor: str | None
) -> dict[str, Any]:
    project = service.project(name)
    page = service.images(name, tag or None, cursor or None, 48)
    return {
        "project": project,
        "images": page,
        "tag": tag or "",
        "iterations": service.iterations.list(name),
        "flash": None,
        "report": None,
        "predictions": None,
        "max_predict": MAX_PREDICT_FILES,
    }


def vision_pages(app: App[VisionServices]) -> APIRouter:
    """Routes of the vision app's pages."""
    router = APIRouter()

    def svc(request: Request) -> VisionServices:
        return app_services(request, app)

    async def project_page(request: Request, name: str, **extra: Any) -> Response:
        service = svc(request)
        context = await run_in_threadpool(_project_context, service, name, None, None)
        context.update(extra)
        return render(request, "vision/project.html", context)

    @router.get("/vision")
    def index(request: Request) -> Response:
        return render(request, "vision/index.html", {"projects": svc(request).projects()})

    @router.post("/vision/projects")
    async def create(request: Request) -> Response:
        await check_csrf(request)
        page_actor(request)
        form = await request.form()
        name = _field(form, "name")
        recipe = _field(form, "recipe", DEFAULT_RECIPE) or DEFAULT_RECIPE
        await run_in_threadpool(
            svc(request).create_project,
            name,
            _field(form, "description"),
            recipe,
            _field(form, "keep_originals") == "1",
        )
        return RedirectResponse(f"/vision/{name}", status_code=303)

    @router.get("/vision/images/{image_id}/thumbnail.jpg")
    def thumbnail(request: Request, image_id: str) -> Response:
        data = svc(request).thumbnail(image_id)
        return Response(
            data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"}
        )

    @router.get("/vision/{name}")
    def project(request: Request, name: str, tag: str = "", cursor: str = "") -> Response:
        context = _project_context(svc(request), name, tag, cursor)
        return render(request, "vision/project.html", context)

    @router.post("/vision/{name}/tags")
    async def add_tag(request: Request, name: str) -> Response:
        await check_csrf(request)
        page_actor(request)
        form = await request.form()
        await run_in_threadpool(svc(request).add_tag, name, _field(form, "tag"))
        return RedirectResponse(f"/vision/{name}", status_code=303)

    @router.post("/vision/{name}/images")
    async def upload(request: Request, name: str) -> Response:
        await check_csrf(request)
        page_actor(request)
        form = await request.form()
        service = svc(request)
        limit = service.imports.limits
        files = _files(form, "files")
        zipped = _files(form, "archive")
        if zipped:
            data = await read_upload(zipped[0], max_bytes=1 << 30)
            report: ImportReport = await run_in_threadpool(
                service.imports.archive, name, data, zipped[0].filename
            )
        else:
            if len(files) > limit.max_files:
                raise InvalidInput(f"{len(files)} files; at most {limit.max_files} at once")
            read = [
                (f.filename, await read_upload(f, max_bytes=limit.max_image_bytes)) for f in files
            ]
            report = await run_in_threadpool(
                service.imports.uploads, name, read, _field(form, "tag")
            )
        t = translator(request)
        text = t(
            "vision.flash.added",
            added=report.added,
            duplicates=report.duplicates,
            failed=len(report.failed),
        )
        return await project_page(request, name, flash={"kind": "ok", "text": text}, report=report)

    @router.post("/vision/{name}/urls")
    async def urls(request: Request, name: str) -> Response:
        await check_csrf(request)
        actor = page_actor(request)
        form = await request.form()
        lists = _files(form, "list")
        if not lists:
            raise InvalidInput("choose a URL list file (CSV of url,tag)")
        data = await read_upload(lists[0], max_bytes=8 * 1024 * 1024)
        job, skipped = await run_in_threadpool(
            svc(request).submit_url_import, name, data, lists[0].filename, actor.name
        )
        text = translator(request)("vision.flash.urls", skipped=len(skipped))
        return await project_page(request, name, flash={"kind": "ok", "text": text, "job": job.id})

    @router.post("/vision/{name}/train")
    async def train(request: Request, name: str) -> Response:
        await check_csrf(request)
        actor = page_actor(request)
        form = await request.form()
        body = TrainRequest(
            method="logistic" if _field(form, "method") == "logistic" else "lda",
            holdout=_number(_field(form, "holdout"), "holdout", 0.0, 0.5, 0.2),
            threshold=_number(_field(form, "threshold"), "threshold", 0.0, 1.0, 0.5),
        )
        iteration, job = await run_in_threadpool(
            svc(request).iterations.request, name, body.settings(), actor.name
        )
        text = translator(request)("vision.flash.training", number=iteration.number)
        return await project_page(request, name, flash={"kind": "ok", "text": text, "job": job.id})

    @router.post("/vision/{name}/predict")
    async def predict(request: Request, name: str) -> Response:
        await check_csrf(request)
        page_actor(request)
        form = await request.form()
        files = _files(form, "files")
        if not 1 <= len(files) <= MAX_PREDICT_FILES:
            raise InvalidInput(f"choose 1 to {MAX_PREDICT_FILES} photos")
        read = [
            (f.filename, await read_upload(f, max_bytes=DEFAULT_MAX_IMAGE_BYTES)) for f in files
        ]
        _, predictions = await run_in_threadpool(svc(request).predict_files, name, read, 3)
        return await project_page(request, name, predictions=predictions)

    @router.get("/vision/{name}/iterations/{number}")
    def iteration(request: Request, name: str, number: int) -> Response:
        service = svc(request)
        found = service.iterations.get(name, number)
        return render(
            request, "vision/iteration.html", {"project": service.project(name), "iteration": found}
        )

    @router.post("/vision/{name}/iterations/{number}/publish")
    async def publish(request: Request, name: str, number: int) -> Response:
        await check_csrf(request)
        page_actor(request, _ADMIN)
        await run_in_threadpool(svc(request).iterations.publish, name, number)
        return RedirectResponse(f"/vision/{name}/iterations/{number}", status_code=303)

    @router.get("/vision/{name}/export.onnx")
    def export(request: Request, name: str, iteration: int | None = None) -> Response:
        if iteration is not None and iteration < 1:
            raise NotFound(f"no iteration {iteration}")
        number, data = svc(request).iterations.export(name, iteration)
        filename = f"{name}-iteration-{number}.onnx"
        return Response(
            data,
            media_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    return router
