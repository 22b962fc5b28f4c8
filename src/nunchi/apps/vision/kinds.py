"""The vision app's job kinds.

- ``vision.import_urls``: fetch a list of image URLs into a project (each failed URL is
  reported in the result, the rest imported; duplicates of photos already there skipped).
- ``vision.train``: train an iteration (created ``queued`` by the API, or by the job itself
  when submitted directly with ``settings``).
- ``vision.predict``: classify photos already in the blob store with a project's published
  iteration (large batches, and the end-to-end path that ``nunchi bench vision`` times).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from nunchi.apps.vision.imports import UrlRow
from nunchi.apps.vision.schemas import NAME_PATTERN, TrainRequest
from nunchi.apps.vision.service import IMPORT_URLS_KIND, VisionServices
from nunchi.apps.vision.training import TRAIN_KIND
from nunchi.core import Core
from nunchi.errors import NunchiError, PermanentError
from nunchi.inputs.images import load_image
from nunchi.jobs.kinds import JobContext, JobKind
from nunchi.runtime.stage import RetryPolicy

__all__ = [
    "PREDICT_KIND",
    "ImportUrlsInput",
    "PredictInput",
    "TrainInput",
    "UrlItem",
    "vision_kinds",
]

PREDICT_KIND = "vision.predict"
_PREDICT_CHUNK = 8
"""Photos decoded and embedded at a time (so a large job holds a few decoded photos)."""


@contextmanager
def _permanent() -> Iterator[None]:
    """The caller's mistakes (4xx: no such project, not a photo) fail the job at once;
    trying again would not help."""
    try:
        yield
    except NunchiError as e:
        if e.status >= 500 or isinstance(e, PermanentError):
            raise
        raise PermanentError(str(e)) from e




class UrlItem(BaseModel):
    """One URL to import, its tag and its row in the uploaded list."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2048)
    tag: str | None = Field(default=None, max_length=100)
    row: int = Field(default=0, ge=0)


class ImportUrlsInput(BaseModel):
    """Input of ``vision.import_urls``."""

    model_config = ConfigDict(extra="forbid")

    project: str = Field(pattern=NAME_PATTERN)
    items: list[UrlItem] = Field(min_length=1, max_length=10_000)


class TrainInput(BaseModel):
    """Input of ``vision.train``: the iteration to run, or settings for a new one."""

    model_config = ConfigDict(extra="forbid")

    project: str = Field(pattern=NAME_PATTERN)
    iteration: int | None = Field(default=None, ge=1)
    settings: TrainRequest | None = None


class PredictInput(BaseModel):
    """Input of ``vision.predict``: photos by blob key (sha256 of the file)."""

    model_config = ConfigDict(extra="forbid")

    project: str = Field(pattern=NAME_PATTERN)
    images: list[str] = Field(min_length=1, max_length=256)
    top_k: int = Field(default=3, ge=1, le=20)


def vision_kinds(core: Core, services: VisionServices) -> list[JobKind[Any]]:
    """The three kinds, bound to ``services``."""

    def import_urls(ctx: JobContext, data: ImportUrlsInput) -> dict[str, Any]:
        rows = [UrlRow(i.row or n, i.url, i.tag) for n, i in enumerate(data.items, start=1)]
        with _permanent():
            return services.import_urls(data.project, rows)

    train_retry = RetryPolicy(max_attempts=2, base_delay=1.0)

    def train(ctx: JobContext, data: TrainInput) -> dict[str, Any]:
        settings = data.settings.settings() if data.settings is not None else None
        final = ctx.attempt >= train_retry.max_attempts
        done = services.iterations.run(
            data.project, data.iteration, settings, job_id=ctx.job_id, final_attempt=final
        )
        return {
            "project": data.project,
            "iteration": done.number,
            "status": done.status,
            "metrics": done.metrics,
        }

    def predict(ctx: JobContext, data: PredictInput) -> dict[str, Any]:
        blobs = ctx.blobs if ctx.blobs is not None else core.blobs
        out: list[dict[str, Any]] = []
        with _permanent():  # a missing photo or project, or a file that is no photo
            for start in range(0, len(data.images), _PREDICT_CHUNK):
                keys = data.images[start : start + _PREDICT_CHUNK]
                photos = [load_image(blobs.get(key), name=key[:12]) for key in keys]
                found = services.published.predict(data.project, photos, data.top_k)
                out += [
                    {
                        "image": key,
                        "tag": p.tag,
                        "probability": p.probability,
                        "top": [[t, q] for t, q in p.top],
                    }
                    for key, p in zip(keys, found, strict=True)
                ]
        return {"project": data.project, "predictions": out}

    return [
        JobKind(
            IMPORT_URLS_KIND,
            ImportUrlsInput,
            import_urls,
            retry=RetryPolicy(max_attempts=2, base_delay=2.0),
            description="Fetch image URLs (through the guarded client) into a project.",
            example={
                "project": "plants-demo",
                "items": [{"url": "https://example.com/tulip.jpg", "tag": "tulips"}],
            },
        ),
        JobKind(
            TRAIN_KIND,
            TrainInput,
            train,
            retry=train_retry,
            description="Train an iteration of a project's classifier.",
            example={"project": "plants-demo", "settings": {"method": "lda"}},
        ),
        JobKind(
            PREDICT_KIND,
            PredictInput,
            predict,
            retry=RetryPolicy(max_attempts=3, base_delay=0.5),
            description="Classify stored photos with a project's published classifier.",
            example={"project": "plants-demo", "images": ["0" * 64], "top_k": 3},
        ),
    ]
