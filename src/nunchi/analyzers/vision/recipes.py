"""Embedding recipes: which crops of a photo the backbone sees and how their features combine.

A recipe turns one photo into one unit-length embedding: each *view* (a square crop of the
photo, optionally mirrored) is resized to a backbone's input side, the backbone's pooled
features of every view get a power transform (``x ** power``, a square root by default, which
evens out a few very large activations), are scaled to unit length, averaged and scaled to
unit length again; a recipe with two backbones (:class:`BackboneRun`) does so for each and
joins the two embeddings end to end, unit length again. Three recipes ship (measured in
docs/vision-app.md, 10 photos per class of the flowers):

- ``precise`` (the default for new projects): the four corner squares of 3/4 of the shorter
  side, through lite0 at 320 pixels and lite2 at 360 (8 backbone runs a photo, 2,560 numbers;
  0.850 on 200 fresh splits);
- ``accurate``: the same corners and their mirror images through lite0 at 224 (8 runs;
  0.834);
- ``fast``: the reference centre crop only (1 run).

The square crops are resized like the backbone's own preprocessing (bicubic, from the photo's
pixels); :meth:`EmbeddingRecipe.arrays` gives the views so that an exported model
(:mod:`nunchi.analyzers.vision.onnx_views`) can be fed exactly what :meth:`embed` computes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from nunchi.analyzers.vision.backbone import Backbone
from nunchi.analyzers.vision.preprocess import CROP_PADDING, ImageInput, load_rgb
from nunchi.analyzers.vision.vectors import l2_normalize
from nunchi.errors import InvalidInput

__all__ = [
    "CENTRE_SCALE",
    "DEFAULT_RECIPE",
    "RECIPES",
    "BackboneRun",
    "EmbeddingRecipe",
    "View",
    "recipe",
]

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
class BackboneRun:
    """One backbone a recipe runs, at one input side (None: the backbone's default)."""

    variant: str = "lite0"
    size: int | None = None

    def backbone(self, given: Mapping[str, Backbone] | None = None) -> Backbone:
        """The backbone of this run: from ``given`` by variant, else the committed one."""
        found = (given or {}).get(self.variant)
        return found if found is not None else Backbone.load(self.variant)

    def side(self, backbone: Backbone) -> int:
        """The input side this run feeds ``backbone``."""
        return self.size or backbone.input_size


@dataclass(frozen=True)
class EmbeddingRecipe:
    """How a photo becomes one embedding: its views, the backbones that see them and the
    power transform. With several backbones each one's embedding is made alone (power,
    unit length, mean over views, unit length), the embeddings joined end to end and scaled
    to unit length again."""

    name: str
    views: tuple[View, ...]
    power: float = 0.5
    runs: tuple[BackboneRun, ...] = (BackboneRun(),)

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

    def combine(self, *features: NDArray[np.floating]) -> F32:
        """Pooled backbone features ``(n * views, d)`` (photo by photo), one array per run of
        :attr:`runs`, to embeddings ``(n, sum of d)``."""
        if len(features) != len(self.runs):
            raise InvalidInput(f"{len(features)} feature arrays for {len(self.runs)} backbones")
        k = len(self.views)
        parts = []
        for feats in features:
            x = np.asarray(feats, dtype=np.float32)
            if x.ndim != 2 or len(x) % k:
                raise InvalidInput(f"features of shape {x.shape} are not {k} views per photo")
            x = l2_normalize(np.power(np.maximum(x, 0.0), self.power))
            parts.append(l2_normalize(x.reshape(len(x) // k, k, x.shape[1]).mean(axis=1)))
        return parts[0] if len(parts) == 1 else l2_normalize(np.concatenate(parts, axis=1))

    def embed(
        self,
        images: Sequence[ImageInput],
        *,
        batch_size: int = 4,
        backbones: Mapping[str, Backbone] | None = None,
    ) -> F32:
        """Unit-length embeddings ``(n, d)`` of ``images``, ``batch_size`` photos per backbone
        run (each photo is ``len(views)`` inputs); ``backbones`` by variant replace the
        committed ones (tests)."""
        if batch_size < 1:
            raise InvalidInput("batch_size must be at least 1")
        nets = [(run.backbone(backbones), run) for run in self.runs]
        out: list[F32] = []
        for start in range(0, len(images), batch_size):
            chunk = images[start : start + batch_size]
            by_side: dict[int, F32] = {}
            features = []
            for net, run in nets:
                side = run.side(net)
                if side not in by_side:
                    by_side[side] = np.concatenate([self.arrays(image, side) for image in chunk])
                features.append(net.run_array(by_side[side]).features)
            out.append(self.combine(*features))
        if not out:
            return np.zeros((0, sum(net.feature_dim for net, _ in nets)), np.float32)
        return np.concatenate(out)

    def describe(self) -> list[dict[str, Any]]:
        """The runs as JSON-ready dicts (variant and side), for metadata and reports."""
        return [{"variant": run.variant, "size": run.side(run.backbone())} for run in self.runs]


CENTRE_SCALE = 224 / (224 + CROP_PADDING)
"""The reference centre crop of lite0: 224 of every 256 pixels of the shorter side."""
_CORNERS = tuple(View(0.75, x, y) for y in (0.0, 1.0) for x in (0.0, 1.0))

RECIPES: dict[str, EmbeddingRecipe] = {
    "accurate": EmbeddingRecipe(
        "accurate", _CORNERS + tuple(View(v.scale, v.x, v.y, True) for v in _CORNERS)
    ),
    "fast": EmbeddingRecipe("fast", (View(CENTRE_SCALE, 0.5, 0.5),)),
    "precise": EmbeddingRecipe(
        "precise", _CORNERS, runs=(BackboneRun("lite0", 320), BackboneRun("lite2", 360))
    ),
}
"""The recipes a project can choose, by name."""
DEFAULT_RECIPE = "precise"


def recipe(name: str) -> EmbeddingRecipe:
    """The recipe called ``name``; :class:`InvalidInput` naming the known ones otherwise."""
    found = RECIPES.get(name)
    if found is None:
        raise InvalidInput(f"unknown embedding recipe {name!r}; choose {' or '.join(RECIPES)}")
    return found
