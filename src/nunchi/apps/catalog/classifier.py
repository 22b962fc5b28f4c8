"""The image classifiers the identify flows use, behind one small interface.

:class:`ImageClassifier` is what Food lens and Plant guard need: a published custom
classifier by project name (``food``, ``plants``, ``plants-demo``), or None when no such
project is published, and the backbone's own ImageNet top-k. Tests give a fake;
:class:`PublishedClassifier` is the real one, over the vision app.

Assumed of the vision app (``nunchi.apps.vision.published.PublishedModels(core)``, built in
parallel; the adapter is the one place to change if it differs):

- ``predict(project_name, images, top_k)`` takes Pillow RGB images and returns one result per
  image with ``tag`` (str, or None when it abstains), ``probability`` (float) and ``top``
  (``[(tag, p), ...]``, best first): an object with those attributes or a dict with those
  keys (the shape of ``nunchi vision predict``'s JSON lines);
- it raises :class:`~nunchi.errors.NotFound` when no model is published under that name;
- ``imagenet(images, top_k)``, if present, returns ``[[(label, p), ...], ...]`` like
  :meth:`nunchi.analyzers.vision.Backbone.imagenet`; without it (or without the vision app)
  the adapter runs the packaged backbone itself.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from PIL import Image

from nunchi.errors import NotFound

if TYPE_CHECKING:
    from nunchi.core import Core

__all__ = ["Classification", "ImageClassifier", "PublishedClassifier", "classification_of"]

_VISION = "nunchi.apps.vision.published"


@dataclass(frozen=True)
class Classification:
    """What a classifier said about one image: its ``tag`` (None when it abstained), that
    tag's ``probability`` (or the best guess's), the ``top`` guesses and which ``model``."""

    tag: str | None
    probability: float
    top: tuple[tuple[str, float], ...]
    model: str


class ImageClassifier(Protocol):
    """The classifiers of the identify flows."""

    def classify(self, project: str, image: Image.Image, top_k: int) -> Classification | None:
        """The published classifier of ``project`` on ``image``; None when none is published."""

    def imagenet(self, image: Image.Image, top_k: int) -> Classification:
        """The backbone's ImageNet top ``top_k`` (``tag`` is the best label)."""


def _field(result: Any, name: str) -> Any:
    if isinstance(result, Mapping):
        return result.get(name)
    return getattr(result, name, None)


def classification_of(result: Any, model: str) -> Classification:
    """A :class:`Classification` from a vision app result (object or dict; see above)."""
    top = tuple((str(t), float(p)) for t, p in (_field(result, "top") or ()))
    tag = _field(result, "tag")
    probability = _field(result, "probability")
    if probability is None:
        probability = top[0][1] if top else 0.0
    return Classification(None if tag is None else str(tag), float(probability), top, model)


class PublishedClassifier:
    """:class:`ImageClassifier` over the vision app's published models (see the module
    docstring); the backbone alone when the vision app is not installed."""

    def __init__(self, core: Core | None) -> None:
        self._core = core
        self._lock = threading.Lock()
        self._models: Any = None
        self._looked = False

    def _published(self) -> Any:
        with self._lock:
            if not self._looked:
                self._looked = True
                try:
                    module = importlib.import_module(_VISION)
                except ModuleNotFoundError as e:
                    if e.name is None or not _VISION.startswith(e.name):
                        raise
                else:
                    self._models = module.PublishedModels(self._core)
            return self._models

    def classify(self, project: str, image: Image.Image, top_k: int) -> Classification | None:
        """The published model of ``project``, if there is one."""
        models = self._published()
        if models is None:
            return None
        try:
            results: Sequence[Any] = models.predict(project, [image], top_k)
        except NotFound:
            return None
        return classification_of(results[0], f"project:{project}")

    def imagenet(self, image: Image.Image, top_k: int) -> Classification:
        """ImageNet labels from the vision app, else from the packaged backbone."""
        models = self._published()
        if models is not None and hasattr(models, "imagenet"):
            pairs = models.imagenet([image], top_k)[0]
        else:
            from nunchi.analyzers.vision.backbone import Backbone

            backbone = Backbone.load()
            pairs = backbone.imagenet([image], top_k)[0]
        top = tuple((str(t), float(p)) for t, p in pairs)
        return Classification(top[0][0] if top else None, top[0][1] if top else 0.0, top,
                              "imagenet")  # fmt: skip
