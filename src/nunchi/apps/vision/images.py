"""Storing decoded photos in a project: dedupe by sha256, embed with the project's recipe,
thumbnail (and original, when the project keeps them) in the blob store, one row each.

Everything that can refuse a photo (decoding, limits) has happened before: callers pass
:class:`~nunchi.inputs.images.SafeImage` objects. Embeddings are computed before anything
is written; blobs are written before the rows that name them, in one transaction per batch,
so a row never names a missing blob. (A failed transaction can leave unnamed blobs behind:
content-addressed, harmless, shared with any later upload of the same photo.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from nunchi.analyzers.vision.recipes import recipe as recipe_named
from nunchi.apps.vision.models import VisionImage, VisionProject, images_table
from nunchi.apps.vision.queries import clean_tag, ensure_tags
from nunchi.core import Core
from nunchi.inputs.images import SafeImage
from nunchi.store.ids import new_id
from nunchi.store.types import utcnow

__all__ = [
    "THUMBNAIL_SIDE",
    "Candidate",
    "Stored",
    "decode_embedding",
    "encode_embedding",
    "store_images",
]

THUMBNAIL_SIDE = 256
"""Longest side of a stored thumbnail, in pixels."""
_EMBED_BATCH = 4


@dataclass(frozen=True)
class Candidate:
    """A decoded photo to add, with its tag and where it came from."""

    image: SafeImage
    tag: str
    source: str
    source_url: str | None = None
    filename: str | None = None


@dataclass(frozen=True)
class Stored:
    """What a batch did: ids of the images added, and how many were already there."""

    added: list[str]
    duplicates: int


def encode_embedding(vector: NDArray[np.floating]) -> bytes:
    """An embedding as stored: float16, little-endian."""
    return np.asarray(vector, dtype="<f2").tobytes()


def decode_embedding(data: bytes) -> NDArray[np.float32]:
    """A stored embedding as float32."""
    return np.frombuffer(data, dtype="<f2").astype(np.float32)


def _name(c: Candidate) -> str:
    return c.filename or c.source_url or c.image.sha256[:12]


def store_images(core: Core, project: VisionProject, candidates: Sequence[Candidate]) -> Stored:
    """Add ``candidates`` to ``project`` (see the module docstring); photos already in the
    project (same bytes) are counted as duplicates and not stored again."""
    fresh: dict[str, Candidate] = {}
    repeated: list[str] = []
    for c in candidates:
        if c.image.sha256 in fresh:
            repeated.append(_name(c))
        else:
            fresh[c.image.sha256] = Candidate(
                c.image, clean_tag(c.tag), c.source, c.source_url, c.filename
            )
    added: list[str] = []
    for _ in range(3):  # a concurrent import of the same photo: read the duplicates again
        with core.sessions() as s:
            known = set(
                s.scalars(
                    select(VisionImage.sha256).where(
                        VisionImage.project_id == project.id, VisionImage.sha256.in_(list(fresh))
                    )
                )
            )
        repeated += [_name(fresh.pop(sha)) for sha in known]
        if not fresh:
            break
        try:
            added = _insert(core, project, list(fresh.values()))
            break
        except IntegrityError:
            continue
    return Stored(added, len(repeated))


def _insert(core: Core, project: VisionProject, todo: list[Candidate]) -> list[str]:
    chosen = recipe_named(project.recipe)
    vectors = chosen.embed([c.image.image for c in todo], batch_size=_EMBED_BATCH)
    tag_ids = ensure_tags(core.sessions, project.id, {c.tag for c in todo})
    rows = []
    now = utcnow()
    for c, vector in zip(todo, vectors, strict=True):
        thumb = core.blobs.put(c.image.thumbnail(THUMBNAIL_SIDE), "image/jpeg")
        original = (
            core.blobs.put(c.image.encode("JPEG", quality=95), "image/jpeg")
            if project.keep_originals
            else None
        )
        rows.append(
            {
                "id": new_id(),
                "project_id": project.id,
                "tag_id": tag_ids[c.tag],
                "sha256": c.image.sha256,
                "source": c.source,
                "source_url": c.source_url,
                "filename": (c.filename or None) and c.filename[:255],
                "width": c.image.width,
                "height": c.image.height,
                "recipe": chosen.name,
                "embedding": encode_embedding(vector),
                "thumbnail_key": thumb,
                "original_key": original,
                "created_at": now,
            }
        )
    with core.sessions.begin() as s:
        s.execute(insert(images_table), rows)
    return [str(r["id"]) for r in rows]
