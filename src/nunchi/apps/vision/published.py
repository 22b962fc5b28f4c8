"""Published classifiers, read-only, for any app: predictions from a project's published
iteration, embeddings with the shared backbone, and the backbone's own ImageNet labels.

This is the vision app's stable surface for other apps (the catalog's food lens and plant
guard)::

    from nunchi.apps.vision.published import PublishedModels

    models = PublishedModels(core)               # cheap; one per app is enough
    models.predict("plants-demo", [photo_bytes], top_k=3)   # -> [Prediction(tag, p, top)]
    models.model("plants-demo")                  # -> PublishedModel | None (tags, iteration)
    models.embed([photo_bytes], recipe="accurate")           # -> (n, 1280) float32, unit rows
    models.imagenet([photo_bytes], top_k=5)      # -> [[(label, p), ...]] (ImageNet-1k)

A photo is raw file bytes (read safely by :func:`nunchi.inputs.load_image`: sniffed, size
and pixel limits, bomb guard), a :class:`~nunchi.inputs.images.SafeImage`, or a Pillow
image. ``Prediction.tag`` is ``None`` when the classifier abstains (its best probability is
under the iteration's threshold); ``top`` always lists the best tags with probabilities.
A project's head is loaded once and kept in memory; every call asks the database (one
indexed row) which iteration is published, so a newer publication is picked up at once.
Thread-safe.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from sqlalchemy import select

from nunchi.analyzers.vision.backbone import Backbone
from nunchi.analyzers.vision.head import ClassifierHead, Prediction
from nunchi.analyzers.vision.recipes import DEFAULT_RECIPE, EmbeddingRecipe
from nunchi.analyzers.vision.recipes import recipe as recipe_named
from nunchi.apps.vision.models import VisionIteration, VisionProject
from nunchi.core import Core
from nunchi.errors import InvalidInput, NotFound
from nunchi.inputs.images import SafeImage, load_image

__all__ = ["Photo", "PublishedModel", "PublishedModels"]

Photo = bytes | SafeImage | Image.Image
"""What the methods take as a photo."""


@dataclass(frozen=True)
class PublishedModel:
    """A project's published classifier: which iteration, its tags, recipe and threshold."""

    project: str
    iteration: int
    iteration_id: str
    tags: tuple[str, ...]
    recipe: str
    threshold: float
    head: ClassifierHead


def _pixels(photos: Sequence[Photo]) -> list[Image.Image]:
    out: list[Image.Image] = []
    for photo in photos:
        if isinstance(photo, SafeImage):
            out.append(photo.image)
        elif isinstance(photo, Image.Image):
            out.append(photo)
        elif isinstance(photo, bytes | bytearray | memoryview):
            out.append(load_image(bytes(photo)).image)
        else:
            raise InvalidInput(f"a photo is bytes, a SafeImage or a Pillow image, not {photo!r}")
    return out


class PublishedModels:
    """See the module docstring."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self._lock = threading.Lock()
        self._loaded: dict[str, PublishedModel] = {}

    @staticmethod
    def backbone() -> Backbone:
        """The shared backbone (loaded once per process)."""
        return Backbone.load()

    def model(self, project: str) -> PublishedModel | None:
        """The published classifier of ``project`` (None when it has none; NotFound when
        there is no such project)."""
        with self.core.sessions() as s:
            found = s.execute(
                select(VisionProject.published_iteration_id, VisionProject.recipe).where(
                    VisionProject.name == project
                )
            ).first()
            if found is None:
                raise NotFound(f"no vision project {project!r}")
            iteration_id, recipe_name = found
            if iteration_id is None:
                return None
            with self._lock:
                cached = self._loaded.get(project)
            if cached is not None and cached.iteration_id == iteration_id:
                return cached
            it = s.get(VisionIteration, iteration_id)
            if it is None or it.head_key is None:
                return None
            number, key = it.number, it.head_key
        head = ClassifierHead.from_bytes(self.core.blobs.get(key))
        loaded = PublishedModel(
            project, number, iteration_id, head.tags, str(recipe_name), head.threshold, head
        )
        with self._lock:
            self._loaded[project] = loaded
        return loaded

    def embed(self, photos: Sequence[Photo], recipe: str = DEFAULT_RECIPE) -> NDArray[np.float32]:
        """Unit-length embeddings ``(n, d)`` of ``photos`` with ``recipe`` (d = 1280 a
        backbone it runs)."""
        chosen: EmbeddingRecipe = recipe_named(recipe)
        return chosen.embed(_pixels(photos))

    def predict(
        self,
        project: str,
        photos: Sequence[Photo] | NDArray[np.floating],
        top_k: int = 3,
    ) -> list[Prediction]:
        """One :class:`Prediction` per photo (or per embedding row made by :meth:`embed`
        with the project's recipe) from the project's published iteration. NotFound when
        the project does not exist or has nothing published."""
        loaded = self.model(project)
        if loaded is None:
            raise NotFound(
                f"project {project!r} has no published iteration; train one and publish it "
                f"on /vision/{project}"
            )
        if isinstance(photos, np.ndarray):
            vectors = np.asarray(photos, dtype=np.float32)
        else:
            if not photos:
                return []
            vectors = self.embed(photos, loaded.recipe)
        return loaded.head.predict(vectors, top_k=top_k)

    def imagenet(self, photos: Sequence[Photo], top_k: int = 5) -> list[list[tuple[str, float]]]:
        """The backbone's ImageNet-1k labels for each photo (centre crop), best first."""
        return self.backbone().imagenet(_pixels(photos), top_k)
