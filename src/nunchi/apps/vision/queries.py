"""Lookups the vision services share: a project by name, its tags, iterations as API objects."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from nunchi.apps.vision.models import VisionIteration, VisionProject, VisionTag, tags_table
from nunchi.apps.vision.schemas import NAME_PATTERN, IterationOut
from nunchi.errors import InvalidInput, NotFound
from nunchi.store.types import utcnow

__all__ = [
    "MAX_TAG",
    "check_project_name",
    "clean_tag",
    "ensure_tags",
    "iteration_out",
    "project_row",
]

MAX_TAG = 100
_NAME = re.compile(NAME_PATTERN)


def check_project_name(name: str) -> str:
    """``name`` if it is a valid project name, else :class:`InvalidInput` saying the rule."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInput(
            f"bad project name {name!r}: use 1-64 lowercase letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (it appears in URLs)"
        )
    return name


def clean_tag(tag: str | None) -> str:
    """A tag as stored: NFC, trimmed, 1-100 characters without control characters."""
    text = unicodedata.normalize("NFC", (tag or "").strip())
    if not text:
        raise InvalidInput("every image needs a tag: give one (e.g. the folder name)")
    if len(text) > MAX_TAG:
        raise InvalidInput(f"tag {text[:20]!r}… is {len(text)} characters; at most {MAX_TAG}")
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in text):
        raise InvalidInput(f"tag {text!r} contains control characters; use plain text")
    return text


def project_row(session: Session, name: str) -> VisionProject:
    """The project called ``name``; :class:`NotFound` otherwise."""
    row = session.scalar(select(VisionProject).where(VisionProject.name == name))
    if row is None:
        raise NotFound(
            f"no vision project {name!r}; create it first (POST /api/v1/vision/projects)"
        )
    return row


def ensure_tags(
    sessions: sessionmaker[Session], project_id: str, names: Iterable[str]
) -> dict[str, int]:
    """Tag name -> id for ``names`` in the project, creating the missing ones (safe when
    another process creates the same tag at once)."""
    wanted = set(names)
    for _ in range(4):
        try:
            with sessions.begin() as s:
                rows = s.execute(
                    select(VisionTag.name, VisionTag.id).where(
                        VisionTag.project_id == project_id, VisionTag.name.in_(wanted)
                    )
                ).all()
                found: dict[str, int] = {str(n): int(i) for n, i in rows}
                missing = sorted(wanted - set(found))
                if not missing:
                    return found
                now = utcnow()
                s.execute(
                    insert(tags_table),
                    [{"project_id": project_id, "name": n, "created_at": now} for n in missing],
                )
        except IntegrityError:
            continue  # another process created one of them meanwhile: read again
    raise InvalidInput("the tags could not be created; try again")  # pragma: no cover


def iteration_out(row: VisionIteration) -> IterationOut:
    """An iteration row as the API shows it."""
    return IterationOut(
        number=row.number,
        status=row.status,  # type: ignore[arg-type]
        settings=row.settings or {},
        metrics=row.metrics,
        error=row.error,
        job_id=row.job_id,
        image_count=row.image_count,
        published=row.published,
        published_at=row.published_at,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )
