"""The vision app's API (``/api/v1/vision``): projects, tags, images (uploads, zips, URL
lists), training iterations, publishing, predictions and the one-file ONNX export.

Scopes as the jobs API: ``read`` to read, ``submit`` to change a project (images, training,
predictions), ``admin`` to publish and to delete projects or tags.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Query, Request, Response, UploadFile
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from nunchi.apps.base import App
from nunchi.apps.vision.schemas import (
    NAME_PATTERN,
    ImagePage,
    ImportReport,
    IterationOut,
    PredictionOut,
    ProjectCreate,
    ProjectOut,
    ProjectUpdate,
    TrainRequest,
)
from nunchi.apps.vision.service import VisionServices
from nunchi.errors import InvalidInput, PayloadTooLarge
from nunchi.inputs.images import DEFAULT_MAX_IMAGE_BYTES
from nunchi.jobs.schemas import JobOut
from nunchi.store.ids import ID_PATTERN
from nunchi.web.auth import AdminPrincipal, ReadPrincipal, SubmitPrincipal
from nunchi.web.deps import app_services
from nunchi.web.routes.jobs import error_responses
from nunchi.web.uploads import read_upload

__all__ = ["MAX_PREDICT_FILES", "vision_api"]

MAX_PREDICT_FILES = 16
"""Photos one predict request classifies while the caller waits (more: a vision.predict job)."""
_URL_LIST_BYTES = 8 * 1024 * 1024
_ZIP_BYTES = 1 << 30

Name = Annotated[str, Path(description="The project's name.", pattern=NAME_PATTERN)]
Number = Annotated[int, Path(description="The iteration number (1, 2, ...).", ge=1)]
ImageId = Annotated[str, Path(description="An image id (32 hex digits).", pattern=ID_PATTERN)]


class TagIn(BaseModel):
    """A tag to add."""

    name: str = Field(min_length=1, max_length=100)


class UrlImportOut(BaseModel):
    """The queued ``vision.import_urls`` job and the list's rows left out (in words)."""

    job: JobOut
    skipped_rows: list[str]


class TrainOut(BaseModel):
    """The queued iteration and the ``vision.train`` job that runs it."""

    iteration: IterationOut
    job: JobOut


class FilePrediction(PredictionOut):
    """A prediction for one uploaded file."""

    file: str | None


class PredictOut(BaseModel):
    """Predictions of the published iteration, one per file, in order."""

    project: str
    iteration: int
    predictions: list[FilePrediction]


async def _read_all(files: list[UploadFile], max_bytes: int) -> list[tuple[str | None, bytes]]:
    return [(f.filename, await read_upload(f, max_bytes=max_bytes)) for f in files]


def vision_api(app: App[VisionServices]) -> APIRouter:
    """The vision app's API routes."""
    router = APIRouter()
    errors = error_responses(401, 403, 404, 422)

    def svc(request: Request) -> VisionServices:
        return app_services(request, app)

    @router.get(
        "/projects", response_model=list[ProjectOut], responses=errors, summary="List projects"
    )
    def list_projects(request: Request, _: ReadPrincipal) -> list[ProjectOut]:
        """Every project with its tags and counts."""
        return svc(request).projects()

    @router.post(
        "/projects",
        status_code=201,
        response_model=ProjectOut,
        responses=error_responses(401, 403, 409, 422),
        summary="Create a project",
    )
    def create_project(request: Request, body: ProjectCreate, _: SubmitPrincipal) -> ProjectOut:
        """A new project (409 when the name is taken). ``recipe`` fixes how photos are
        embedded: ``accurate`` (8 views a photo) or ``fast`` (1)."""
        return svc(request).create_project(
            body.name, body.description, body.recipe, body.keep_originals
        )

    @router.get(
        "/projects/{name}", response_model=ProjectOut, responses=errors, summary="Get a project"
    )
    def get_project(request: Request, name: Name, _: ReadPrincipal) -> ProjectOut:
        """The project with its tags, image counts and published iteration."""
        return svc(request).project(name)

    @router.patch(
        "/projects/{name}", response_model=ProjectOut, responses=errors, summary="Change a project"
    )
    def update_project(
        request: Request, name: Name, body: ProjectUpdate, _: SubmitPrincipal
    ) -> ProjectOut:
        """Change the description or whether original photos are kept from now on."""
        return svc(request).update_project(name, body)

    @router.delete(
        "/projects/{name}", status_code=204, responses=errors, summary="Delete a project"
    )
    def delete_project(request: Request, name: Name, _: AdminPrincipal) -> Response:
        """Delete the project, its tags, images and iterations."""
        svc(request).delete_project(name)
        return Response(status_code=204)

    @router.post(
        "/projects/{name}/tags", response_model=ProjectOut, responses=errors, summary="Add a tag"
    )
    def add_tag(request: Request, name: Name, body: TagIn, _: SubmitPrincipal) -> ProjectOut:
        """Add a tag (nothing happens when it exists)."""
        return svc(request).add_tag(name, body.name)

    @router.delete(
        "/projects/{name}/tags/{tag}",
        response_model=ProjectOut,
        responses=errors,
        summary="Delete a tag and its images",
    )
    def delete_tag(request: Request, name: Name, tag: str, _: AdminPrincipal) -> ProjectOut:
        """Delete the tag and every image carrying it."""
        return svc(request).delete_tag(name, tag)

    @router.get(
        "/projects/{name}/images", response_model=ImagePage, responses=errors, summary="List images"
    )
    def list_images(
        request: Request,
        name: Name,
        _: ReadPrincipal,
        tag: Annotated[str | None, Query(max_length=100)] = None,
        cursor: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 60,
    ) -> ImagePage:
        """Images newest first, each with its thumbnail's URL; ``next_cursor`` continues."""
        return svc(request).images(name, tag, cursor, limit)

    upload_errors = error_responses(401, 403, 404, 413, 415, 422)

    @router.post(
        "/projects/{name}/images",
        status_code=201,
        response_model=ImportReport,
        responses=upload_errors,
        summary="Upload tagged photos",
    )
    async def upload_images(
        request: Request,
        name: Name,
        _: SubmitPrincipal,
        files: Annotated[list[UploadFile], File(description="The photos (at most 100).")],
        tag: Annotated[str, Form(min_length=1, max_length=100)],
    ) -> ImportReport:
        """Photos with one tag. Formats are sniffed from the bytes; a malformed, truncated,
        huge, decompression-bomb or non-image file refuses the whole request (413, 415 or
        422) and nothing is stored. A photo already in the project counts as a duplicate."""
        service = svc(request)
        limit = service.imports.limits
        if len(files) > limit.max_files:
            raise PayloadTooLarge(f"{len(files)} files; at most {limit.max_files} a request")
        read = await _read_all(files, limit.max_image_bytes)
        return await run_in_threadpool(service.imports.uploads, name, read, tag)

    @router.post(
        "/projects/{name}/images/zip",
        status_code=201,
        response_model=ImportReport,
        responses=upload_errors,
        summary="Upload a zip of <tag>/<photo>",
    )
    async def upload_zip(
        request: Request,
        name: Name,
        _: SubmitPrincipal,
        file: Annotated[UploadFile, File(description="A zip of <tag>/<photo> entries.")],
    ) -> ImportReport:
        """Each entry's folder is its tag; entries that cannot be used are listed in
        ``failed`` and the rest stored (a damaged or oversized archive is refused whole)."""
        data = await read_upload(file, max_bytes=_ZIP_BYTES)
        return await run_in_threadpool(svc(request).imports.archive, name, data, file.filename)

    @router.delete(
        "/projects/{name}/images/{image_id}",
        status_code=204,
        responses=errors,
        summary="Remove an image",
    )
    def delete_image(
        request: Request, name: Name, image_id: ImageId, _: SubmitPrincipal
    ) -> Response:
        """Remove the image from the project."""
        svc(request).delete_image(name, image_id)
        return Response(status_code=204)

    @router.get(
        "/images/{image_id}/thumbnail",
        responses=errors,
        summary="An image's thumbnail",
        response_class=Response,
    )
    def thumbnail(request: Request, image_id: ImageId, _: ReadPrincipal) -> Response:
        """The thumbnail (JPEG, at most 256 pixels a side)."""
        data = svc(request).thumbnail(image_id)
        return Response(
            data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"}
        )

    @router.post(
        "/projects/{name}/urls",
        status_code=202,
        response_model=UrlImportOut,
        responses=upload_errors,
        summary="Import photos from a URL list",
    )
    async def import_urls(
        request: Request,
        name: Name,
        principal: SubmitPrincipal,
        file: Annotated[UploadFile, File(description="CSV of url,tag (or TSV, xlsx, ...).")],
    ) -> UrlImportOut:
        """Queue a ``vision.import_urls`` job for the list's rows; its result lists every URL
        that failed (refused or private address, redirect to one, HTTP error, timeout, not an
        image) with the reason, and the images added."""
        data = await read_upload(file, max_bytes=_URL_LIST_BYTES)
        job, skipped = await run_in_threadpool(
            svc(request).submit_url_import, name, data, file.filename, principal.name
        )
        return UrlImportOut(job=job, skipped_rows=skipped)

    @router.post(
        "/projects/{name}/train",
        status_code=202,
        response_model=TrainOut,
        responses=errors,
        summary="Train a new iteration",
    )
    def train(
        request: Request, name: Name, principal: SubmitPrincipal, body: TrainRequest | None = None
    ) -> TrainOut:
        """Queue an iteration and its ``vision.train`` job (follow it on /jobs/{id})."""
        settings = (body or TrainRequest()).settings()
        iteration, job = svc(request).iterations.request(name, settings, principal.name)
        return TrainOut(iteration=iteration, job=job)

    @router.get(
        "/projects/{name}/iterations",
        response_model=list[IterationOut],
        responses=errors,
        summary="List iterations",
    )
    def iterations(request: Request, name: Name, _: ReadPrincipal) -> list[IterationOut]:
        """Newest first, each with its settings and held-out metrics."""
        return svc(request).iterations.list(name)

    @router.get(
        "/projects/{name}/iterations/{number}",
        response_model=IterationOut,
        responses=errors,
        summary="Get an iteration",
    )
    def iteration(request: Request, name: Name, number: Number, _: ReadPrincipal) -> IterationOut:
        """Metrics: per-tag precision / recall / F1, the confusion matrix on held-out photos
        (rows: truth; columns: answer, the last one "unknown"), accuracy, coverage at the
        threshold, log-loss, calibration error, and the threshold trade-off."""
        return svc(request).iterations.get(name, number)

    @router.post(
        "/projects/{name}/iterations/{number}/publish",
        response_model=IterationOut,
        responses=error_responses(401, 403, 404, 409),
        summary="Publish an iteration",
    )
    def publish(request: Request, name: Name, number: Number, _: AdminPrincipal) -> IterationOut:
        """Predictions of the project use this iteration from now on (409 unless done)."""
        return svc(request).iterations.publish(name, number)

    @router.post(
        "/projects/{name}/predict",
        response_model=PredictOut,
        responses=upload_errors,
        summary="Classify photos",
    )
    async def predict(
        request: Request,
        name: Name,
        _: SubmitPrincipal,
        files: Annotated[list[UploadFile], File(description="1 to 16 photos.")],
        top_k: Annotated[int, Form(ge=1, le=20)] = 3,
    ) -> dict[str, Any]:
        """The published iteration's answer for each photo: ``tag`` (null when unsure),
        its probability and the ``top_k`` tags. More photos: a ``vision.predict`` job."""
        if not 1 <= len(files) <= MAX_PREDICT_FILES:
            raise InvalidInput(f"send 1 to {MAX_PREDICT_FILES} photos as 'files'")
        read = await _read_all(files, DEFAULT_MAX_IMAGE_BYTES)
        service = svc(request)
        iteration, predictions = await run_in_threadpool(service.predict_files, name, read, top_k)
        return {"project": name, "iteration": iteration, "predictions": predictions}

    @router.get(
        "/projects/{name}/export",
        responses=error_responses(401, 403, 404, 409),
        summary="Download the classifier as one ONNX file",
        response_class=Response,
    )
    def export(
        request: Request,
        name: Name,
        _: ReadPrincipal,
        iteration: Annotated[int | None, Query(ge=1)] = None,
    ) -> Response:
        """Backbone, view pooling and head in one ONNX file (default: the published
        iteration). Input ``views`` (batch, V, 3, 224, 224) float32 RGB 0..255, output
        ``probabilities``; the views, tags and threshold are in its metadata."""
        number, data = svc(request).iterations.export(name, iteration)
        filename = f"{name}-iteration-{number}.onnx"
        return Response(
            data,
            media_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    return router
