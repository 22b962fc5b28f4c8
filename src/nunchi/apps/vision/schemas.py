"""What the vision services return and the API answers: projects, tags, images, iterations,
import reports, predictions; and the request bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from nunchi.analyzers.vision.head import DEFAULT_L2, DEFAULT_THRESHOLD
from nunchi.analyzers.vision.lda import DEFAULT_SHRINKAGE
from nunchi.analyzers.vision.trainer import TrainSettings

__all__ = [
    "NAME_PATTERN",
    "ImageOut",
    "ImagePage",
    "ImportFailure",
    "ImportReport",
    "IterationOut",
    "PredictionOut",
    "ProjectCreate",
    "ProjectOut",
    "ProjectUpdate",
    "TagOut",
    "TrainRequest",
]

NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
"""A project name: lowercase letters, digits, ``.``, ``_``, ``-``; it appears in URLs."""


class TagOut(BaseModel):
    """A tag and how many images carry it."""

    name: str
    images: int


class ProjectOut(BaseModel):
    """A project with its tags and the iteration predictions use."""

    id: str
    name: str
    description: str
    recipe: str = Field(description="Embedding recipe: precise, accurate or fast.")
    keep_originals: bool
    images: int
    tags: list[TagOut]
    iterations: int
    published_iteration: int | None = Field(description="Number of the published iteration.")
    created_at: datetime


class ProjectCreate(BaseModel):
    """A new project."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN, description="Unique; lowercase, used in URLs.")
    description: str = Field(default="", max_length=2000)
    recipe: Literal["precise", "accurate", "fast"] = Field(
        default="precise",
        description="How photos become embeddings (fixed once the project has images): precise "
        "(two backbones, 4 views; 241 ms a photo measured on a 2-core machine), accurate (one "
        "backbone, 8 views; 84 ms), fast (centre crop; 10 ms).",
    )
    keep_originals: bool = Field(
        default=False, description="Keep the original photos too (default: thumbnail only)."
    )


class ProjectUpdate(BaseModel):
    """Changes to a project (the recipe is fixed once it has images)."""

    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(default=None, max_length=2000)
    keep_originals: bool | None = None


class ImageOut(BaseModel):
    """A stored image of a project (its thumbnail at ``thumbnail_url``)."""

    id: str
    tag: str
    source: Literal["upload", "url", "zip", "folder"]
    source_url: str | None
    filename: str | None
    width: int
    height: int
    original_kept: bool
    thumbnail_url: str
    created_at: datetime


class ImagePage(BaseModel):
    """A page of images, newest first; ``next_cursor`` continues it."""

    items: list[ImageOut]
    next_cursor: str | None


class ImportFailure(BaseModel):
    """An item of an import that was not added, and why."""

    item: str = Field(description="The file name, archive path or URL (row number for URLs).")
    reason: str
    message: str


class ImportReport(BaseModel):
    """What an import added, what it already had, what it refused."""

    added: int
    duplicates: int
    failed: list[ImportFailure]
    image_ids: list[str] = Field(description="Ids of the images added (at most 1,000 listed).")


class IterationOut(BaseModel):
    """One training of a project."""

    number: int
    status: Literal["queued", "training", "done", "failed"]
    settings: dict[str, Any]
    metrics: dict[str, Any] | None
    error: str | None
    job_id: str | None
    image_count: int
    published: bool
    published_at: datetime | None
    created_at: datetime
    finished_at: datetime | None


class PredictionOut(BaseModel):
    """A photo's answer: ``tag`` is null when the classifier is unsure (below its threshold)."""

    tag: str | None
    probability: float
    top: list[tuple[str, float]]


class TrainRequest(BaseModel):
    """How to train (every field optional)."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["lda", "logistic"] = "lda"
    shrinkage: float = Field(default=DEFAULT_SHRINKAGE, gt=0.0, le=1.0)
    l2: float = Field(default=DEFAULT_L2, gt=0.0, le=10.0)
    holdout: float = Field(default=0.2, ge=0.0, le=0.5)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    threshold: float = Field(default=DEFAULT_THRESHOLD, ge=0.0, le=1.0)
    refit_all: bool = True

    def settings(self) -> TrainSettings:
        """As the trainer's settings."""
        return TrainSettings(**self.model_dump())
