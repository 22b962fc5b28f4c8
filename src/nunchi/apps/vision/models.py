"""The vision app's tables: projects, their tags and images, training iterations, seeds.

An image keeps what training needs and what a page shows: its embedding (float16 bytes of
the project's recipe), a thumbnail in the blob store and its sha256 (dedupe within the
project). The original photo is kept only when the project asks (``keep_originals``).
An iteration records its settings, its held-out metrics and its head file (a blob).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from nunchi.store.base import Base
from nunchi.store.types import BigSerial, JSONDocument, UTCDateTime, utcnow

__all__ = [
    "IMAGE_SOURCES",
    "ITERATION_STATUSES",
    "VisionImage",
    "VisionIteration",
    "VisionProject",
    "VisionSeed",
    "VisionTag",
    "images_table",
    "iterations_table",
    "projects_table",
    "seeds_table",
    "tags_table",
]

IMAGE_SOURCES = ("upload", "url", "zip", "folder")
ITERATION_STATUSES = ("queued", "training", "done", "failed")


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


class VisionProject(Base):
    """A classifier project: a name (unique, used in URLs), tags, images and iterations."""

    __tablename__ = "vision_projects"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    recipe: Mapped[str] = mapped_column(String(16))
    keep_originals: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    published_iteration_id: Mapped[str | None] = mapped_column(String(32))
    """The iteration predictions use (None until one is published)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class VisionTag(Base):
    """A tag (class) of a project."""

    __tablename__ = "vision_tags"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_vision_tags_project_name"),)

    id: Mapped[int] = mapped_column(BigSerial, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("vision_projects.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class VisionImage(Base):
    """A tagged photo of a project: embedding, thumbnail, where it came from."""

    __tablename__ = "vision_images"
    __table_args__ = (
        UniqueConstraint("project_id", "sha256", name="uq_vision_images_project_sha256"),
        CheckConstraint(f"source IN ({_in(IMAGE_SOURCES)})", name="source"),
        Index("ix_vision_images_project_tag_id", "project_id", "tag_id", "id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("vision_projects.id", ondelete="CASCADE")
    )
    tag_id: Mapped[int] = mapped_column(BigSerial, ForeignKey("vision_tags.id", ondelete="CASCADE"))
    sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(8))
    source_url: Mapped[str | None] = mapped_column(String(2048))
    filename: Mapped[str | None] = mapped_column(String(255))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    recipe: Mapped[str] = mapped_column(String(16))
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    """float16 little-endian, the recipe's embedding (unit length)."""
    thumbnail_key: Mapped[str] = mapped_column(String(64))
    original_key: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class VisionIteration(Base):
    """One training of a project: settings, status, held-out metrics, the head file."""

    __tablename__ = "vision_iterations"
    __table_args__ = (
        UniqueConstraint("project_id", "number", name="uq_vision_iterations_project_number"),
        CheckConstraint(f"status IN ({_in(ITERATION_STATUSES)})", name="status"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("vision_projects.id", ondelete="CASCADE")
    )
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    settings: Mapped[Any] = mapped_column(JSONDocument)
    metrics: Mapped[Any | None] = mapped_column(JSONDocument)
    error: Mapped[str | None] = mapped_column(Text)
    head_key: Mapped[str | None] = mapped_column(String(64))
    job_id: Mapped[str | None] = mapped_column(String(32))
    image_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    published: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class VisionSeed(Base):
    """A built-in project that was seeded once (so a deleted demo is not seeded again)."""

    __tablename__ = "vision_seeds"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


projects_table = cast(Table, VisionProject.__table__)
tags_table = cast(Table, VisionTag.__table__)
images_table = cast(Table, VisionImage.__table__)
iterations_table = cast(Table, VisionIteration.__table__)
seeds_table = cast(Table, VisionSeed.__table__)
