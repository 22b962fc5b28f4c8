"""VisionServices: the vision app's projects, tags and images, with its importers, iterations
and published models (built once per process by the app; every method owns its
transaction). The demo project is seeded when the services are built (:mod:`.seed`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from nunchi.analyzers.vision.recipes import DEFAULT_RECIPE
from nunchi.analyzers.vision.recipes import recipe as recipe_named
from nunchi.apps.vision.imports import ImageImports, ImportLimits, UrlRow
from nunchi.apps.vision.models import (
    VisionImage,
    VisionIteration,
    VisionProject,
    VisionTag,
    images_table,
    projects_table,
    tags_table,
)
from nunchi.apps.vision.published import PublishedModels
from nunchi.apps.vision.queries import check_project_name, clean_tag, ensure_tags, project_row
from nunchi.apps.vision.schemas import ImageOut, ImagePage, ProjectOut, ProjectUpdate, TagOut
from nunchi.apps.vision.training import Iterations
from nunchi.core import Core
from nunchi.errors import Conflict, InvalidInput, NotFound
from nunchi.inputs.images import load_image
from nunchi.inputs.urllist import read_url_list
from nunchi.jobs.schemas import JobOut
from nunchi.store.ids import ID_PATTERN, new_id
from nunchi.store.types import utcnow

__all__ = ["IMPORT_URLS_KIND", "VisionServices"]

IMPORT_URLS_KIND = "vision.import_urls"
_PAGE = 60
_MAX_PAGE = 500


def thumbnail_url(image_id: str) -> str:
    """Where the API serves an image's thumbnail."""
    return f"/api/v1/vision/images/{image_id}/thumbnail"


class VisionServices:
    """See the module docstring."""

    def __init__(
        self, core: Core, limits: ImportLimits | None = None, *, seed: bool = True
    ) -> None:
        self.core = core
        self.imports = ImageImports(core, limits)
        self.iterations = Iterations(core)
        self.published = PublishedModels(core)
        if seed:
            from nunchi.apps.vision.seed import seed_demo

            seed_demo(core)

    # -- projects ----------------------------------------------------------------------------

    def create_project(
        self,
        name: str,
        description: str = "",
        recipe: str = DEFAULT_RECIPE,
        keep_originals: bool = False,
    ) -> ProjectOut:
        """A new, empty project; Conflict when the name is taken."""
        check_project_name(name)
        recipe_named(recipe)
        now = utcnow()
        try:
            with self.core.sessions.begin() as s:
                s.execute(
                    insert(projects_table),
                    [
                        {
                            "id": new_id(),
                            "name": name,
                            "description": description.strip(),
                            "recipe": recipe,
                            "keep_originals": keep_originals,
                            "published_iteration_id": None,
                            "created_at": now,
                            "updated_at": now,
                        }
                    ],
                )
        except IntegrityError:
            raise Conflict(f"a vision project called {name!r} exists already") from None
        return self.project(name)

    def project(self, name: str) -> ProjectOut:
        """The project called ``name`` with its tags and counts."""
        with self.core.sessions() as s:
            return _described(s, [project_row(s, name)])[0]

    def projects(self) -> list[ProjectOut]:
        """Every project, by name (three queries however many there are)."""
        with self.core.sessions() as s:
            rows = list(s.scalars(select(VisionProject).order_by(VisionProject.name)))
            return _described(s, rows)

    def update_project(self, name: str, change: ProjectUpdate) -> ProjectOut:
        """Change a project's description or whether it keeps originals."""
        values = change.model_dump(exclude_none=True)
        if values:
            with self.core.sessions.begin() as s:
                row = project_row(s, name)
                s.execute(
                    update(projects_table)
                    .where(projects_table.c.id == row.id)
                    .values(**values, updated_at=utcnow())
                )
        return self.project(name)

    def delete_project(self, name: str) -> None:
        """Delete a project with its tags, images and iterations (blobs stay: they are
        content-addressed and may be shared)."""
        with self.core.sessions.begin() as s:
            row = project_row(s, name)
            s.execute(delete(images_table).where(images_table.c.project_id == row.id))
            s.execute(delete(projects_table).where(projects_table.c.id == row.id))

    def published_count(self) -> int:
        """How many projects have a published classifier (the home card's figure)."""
        with self.core.sessions() as s:
            found = s.scalar(
                select(func.count()).where(VisionProject.published_iteration_id.is_not(None))
            )
        return int(found or 0)

    # -- tags and images ---------------------------------------------------------------------

    def add_tag(self, name: str, tag: str) -> ProjectOut:
        """Add a tag (no-op when it exists)."""
        with self.core.sessions() as s:
            project_id = project_row(s, name).id
        ensure_tags(self.core.sessions, project_id, [clean_tag(tag)])
        return self.project(name)

    def delete_tag(self, name: str, tag: str) -> ProjectOut:
        """Delete a tag and its images."""
        with self.core.sessions.begin() as s:
            row = project_row(s, name)
            tag_id = s.scalar(
                select(VisionTag.id).where(VisionTag.project_id == row.id, VisionTag.name == tag)
            )
            if tag_id is None:
                raise NotFound(f"project {name!r} has no tag {tag!r}")
            s.execute(delete(images_table).where(images_table.c.tag_id == tag_id))
            s.execute(delete(tags_table).where(tags_table.c.id == tag_id))
        return self.project(name)

    def images(
        self, name: str, tag: str | None = None, cursor: str | None = None, limit: int = _PAGE
    ) -> ImagePage:
        """A page of the project's images (optionally of one tag), newest first."""
        if not 1 <= limit <= _MAX_PAGE:
            raise InvalidInput(f"limit must be between 1 and {_MAX_PAGE}")
        with self.core.sessions() as s:
            row = project_row(s, name)
            query = (
                select(VisionImage, VisionTag.name)
                .join(VisionTag, VisionTag.id == VisionImage.tag_id)
                .where(VisionImage.project_id == row.id)
            )
            if tag is not None:
                query = query.where(VisionTag.name == tag)
            if cursor:
                query = query.where(VisionImage.id < cursor)
            found = s.execute(query.order_by(VisionImage.id.desc()).limit(limit + 1)).all()
        items = [
            ImageOut(
                id=img.id,
                tag=str(t),
                source=img.source,  # type: ignore[arg-type]
                source_url=img.source_url,
                filename=img.filename,
                width=img.width,
                height=img.height,
                original_kept=img.original_key is not None,
                thumbnail_url=thumbnail_url(img.id),
                created_at=img.created_at,
            )
            for img, t in found[:limit]
        ]
        return ImagePage(items=items, next_cursor=items[-1].id if len(found) > limit else None)

    def thumbnail(self, image_id: str) -> bytes:
        """The JPEG thumbnail of an image."""
        if not re.match(ID_PATTERN, image_id):
            raise NotFound(f"no image {image_id!r}")
        with self.core.sessions() as s:
            key = s.scalar(select(VisionImage.thumbnail_key).where(VisionImage.id == image_id))
        if key is None:
            raise NotFound(f"no image {image_id!r}")
        return self.core.blobs.get(key)

    def delete_image(self, name: str, image_id: str) -> None:
        """Remove an image from the project."""
        with self.core.sessions.begin() as s:
            row = project_row(s, name)
            found = s.scalar(
                select(VisionImage.id).where(
                    VisionImage.project_id == row.id, VisionImage.id == image_id
                )
            )
            if found is None:
                raise NotFound(f"project {name!r} has no image {image_id!r}")
            s.execute(delete(images_table).where(images_table.c.id == image_id))

    def submit_url_import(
        self, name: str, data: bytes, filename: str | None, actor: str | None
    ) -> tuple[JobOut, list[str]]:
        """Read a URL list (CSV ``url,tag`` …) and queue a ``vision.import_urls`` job for
        its rows; returns the job and the rows left out of the list, in words."""
        self.project(name)  # NotFound before reading anything
        listed = read_url_list(data, name=filename, max_urls=self.imports.limits.max_urls)
        if not listed.items:
            raise InvalidInput(
                "the URL list has no usable rows: " + "; ".join(listed.errors[:5])
                if listed.errors
                else "the URL list is empty"
            )
        items = [{"row": i.row, "url": i.url, "tag": i.tag} for i in listed.items]
        job = self.core.jobs.submit(
            IMPORT_URLS_KIND, {"project": name, "items": items}, actor=actor
        )
        return job, list(listed.errors)

    def import_urls(self, name: str, rows: list[UrlRow]) -> dict[str, object]:
        """Run a URL import (the job's work): the report as JSON."""
        return self.imports.urls(name, rows).model_dump()

    def predict_files(
        self, name: str, files: Sequence[tuple[str | None, bytes]], top_k: int
    ) -> tuple[int, list[dict[str, Any]]]:
        """Photos sent as ``(file name, bytes)`` read safely and classified by the project's
        published iteration (looked up once): its number and one row a file (``file``,
        ``tag`` or None when unsure, ``probability``, ``top``)."""
        loaded = self.published.model(name)
        if loaded is None:
            raise NotFound(f"project {name!r} has no published iteration; train one and publish it")
        photos = [load_image(data, name=filename) for filename, data in files]
        found = loaded.head.predict(self.published.embed(photos, loaded.recipe), top_k=top_k)
        return loaded.iteration, [
            {"file": filename, "tag": p.tag, "probability": p.probability, "top": p.top}
            for (filename, _), p in zip(files, found, strict=True)
        ]


def _described(s: Session, rows: Sequence[VisionProject]) -> list[ProjectOut]:
    """``rows`` with their tags' image counts, iteration counts and published iteration
    numbers, read for all of them at once."""
    ids = [r.id for r in rows]
    tags: dict[str, list[TagOut]] = {i: [] for i in ids}
    for project_id, tag, images in s.execute(
        select(VisionTag.project_id, VisionTag.name, func.count(VisionImage.id))
        .outerjoin(VisionImage, VisionImage.tag_id == VisionTag.id)
        .where(VisionTag.project_id.in_(ids))
        .group_by(VisionTag.project_id, VisionTag.id, VisionTag.name)
        .order_by(VisionTag.name)
    ):
        tags[project_id].append(TagOut(name=str(tag), images=int(images)))
    iterations: dict[str, int] = {
        project_id: int(n)
        for project_id, n in s.execute(
            select(VisionIteration.project_id, func.count())
            .where(VisionIteration.project_id.in_(ids))
            .group_by(VisionIteration.project_id)
        )
    }
    published_ids = [r.published_iteration_id for r in rows if r.published_iteration_id]
    numbers: dict[str, int] = {
        iteration_id: int(number)
        for iteration_id, number in s.execute(
            select(VisionIteration.id, VisionIteration.number).where(
                VisionIteration.id.in_(published_ids)
            )
        )
    }
    return [
        ProjectOut(
            id=r.id,
            name=r.name,
            description=r.description,
            recipe=r.recipe,
            keep_originals=r.keep_originals,
            images=sum(t.images for t in tags[r.id]),
            tags=tags[r.id],
            iterations=iterations.get(r.id, 0),
            published_iteration=numbers.get(r.published_iteration_id or ""),
            created_at=r.created_at,
        )
        for r in rows
    ]
