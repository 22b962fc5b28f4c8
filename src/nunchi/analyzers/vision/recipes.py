"""Embedding recipes: which crops of a photo the backbone sees and how their features combine.

A recipe turns one photo into one unit-length embedding: each *view* (a square crop of the
photo, optionally mirrored) is resized to the backbone's input, the backbone's pooled features
of every view get a power transform (``x ** power``, a square root by default, which evens out
a few very large activations), are scaled to unit length, averaged and scaled to unit length
again. Two recipes ship (measured in docs/vision-app.md, 10 photos per class of the flowers):

- ``accurate``: the four corner squares of 3/4 of the shorter side and their mirror images
  (8 backbone runs a photo);
- ``fast``: the reference centre crop only (1 run).

The square crops are resized like the backbone's own preprocessing (bicubic, from the photo's
pixels); :meth:`EmbeddingRecipe.arrays` gives the views so that an exported model
(:mod:`nunchi.analyzers.vision.onnx_views`) can be fed exactly what :meth:`embed` computes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from nunchi.analyzers.vision.backbone import Backbone
from nunchi.analyzers.vision.preprocess import CROP_PADDING, ImageInput, load_rgb
from nunchi.analyzers.vision.vectors import l2_normalize
from nunchi.errors import InvalidInput

__all__ = ["CENTRE_SCALE", "DEFAULT_RECIPE", "RECIPES", "EmbeddingRecipe", "View", "recipe"]

F32 = NDArray[np.float32]


@dataclass(frozen=True)
class View:
    """A square crop of ``scale`` times the shorter side, placed at ``(x, y)`` (0 = left/top,
    0.5 = centred, 1 = right/bottom), mirrored left-right when ``flip``."""

    scale: float
    x: float
    y: float
    flip: bool = False

    def box(self, width: int, height: int) -> tuple[int, int, int, int]:
        """The crop ``(left, top, right, bottom)`` in a ``width`` x ``height`` photo."""
        side = max(1, int(self.scale * min(width, height)))
        left = int(self.x * (width - side) + 0.5)
        top = int(self.y * (height - side) + 0.5)
        return left, top, left + side, top + side

    def to_dict(self) -> dict[str, float | bool]:
        """A JSON-ready description (the exported model's metadata)."""
        return {"scale": self.scale, "x": self.x, "y": self.y, "flip": self.flip}


@dataclass(frozen=True)
class EmbeddingRecipe:
    """How a photo becomes one embedding: its views and the power transform."""

    name: str
    views: tuple[View, ...]
    power: float = 0.5

    def arrays(self, image: ImageInput, size: int) -> F32:
        """The views of one photo as backbone inputs ``(views, 3, size, size)``, RGB 0..255."""
        smallest = min(v.scale for v in self.views)
        img = load_rgb(image, min_side=int(np.ceil(size / smallest)))
        out = np.empty((len(self.views), 3, size, size), dtype=np.float32)
        for i, view in enumerate(self.views):
            crop = img.resize(
                (size, size), Image.Resampling.BICUBIC, box=view.box(img.width, img.height)
            )
            pixels = np.asarray(crop, dtype=np.float32).transpose(2, 0, 1)
            out[i] = pixels[:, :, ::-1] if view.flip else pixels
        return out

    def combine(self, features: NDArray[np.floating]) -> F32:
        """Pooled backbone features ``(n * views, d)`` (photo by photo) to embeddings ``(n, d)``."""
        k = len(self.views)
        x = np.asarray(features, dtype=np.float32)
        if x.ndim != 2 or len(x) % k:
            raise InvalidInput(f"features of shape {x.shape} are not {k} views per photo")
        x = l2_normalize(np.power(np.maximum(x, 0.0), self.power))
        return l2_normalize(x.reshape(len(x) // k, k, x.shape[1]).mean(axis=1))

    def embed(
        self, backbone: Backbone, images: Sequence[ImageInput], *, batch_size: int = 4
    ) -> F32:
        """Unit-length embeddings ``(n, d)`` of ``images``, ``batch_size`` photos per backbone
        run (each photo is ``len(views)`` inputs)."""
        if batch_size < 1:
            raise InvalidInput("batch_size must be at least 1")
        size = backbone.input_size
        out: list[F32] = []
        for start in range(0, len(images), batch_size):
            chunk = images[start : start + batch_size]
            batch = np.concatenate([self.arrays(image, size) for image in chunk])
            out.append(self.combine(backbone.run_array(batch).features))
        if not out:
            return np.zeros((0, backbone.feature_dim), np.float32)
        return np.concatenate(out)


CENTRE_SCALE = 224 / (224 + CROP_PADDING)
"""The reference centre crop of lite0: 224 of every 256 pixels of the shorter side."""
_CORNERS = tuple(View(0.75, x, y) for y in (0.0, 1.0) for x in (0.0, 1.0))

RECIPES: dict[str, EmbeddingRecipe] = {
    "accurate": EmbeddingRecipe(
        "accurate", _CORNERS + tuple(View(v.scale, v.x, v.y, True) for v in _CORNERS)
    ),
    "fast": EmbeddingRecipe("fast", (View(CENTRE_SCALE, 0.5, 0.5),)),
}
"""The recipes a project can choose, by name."""
DEFAULT_RECIPE = "accurate"


def recipe(name: str) -> EmbeddingRecipe:
    """The recipe called ``name``; :class:`InvalidInput` naming the known ones otherwise."""
    found = RECIPES.get(name)
    if found is None:
        raise InvalidInput(f"unknown embedding recipe {name!r}; choose {' or '.join(RECIPES)}")
    return found
