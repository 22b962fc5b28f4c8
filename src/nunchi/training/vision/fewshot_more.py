"""Few-shot variants past the committed backbone's pooled features (session 7's study).

:mod:`nunchi.training.vision.fewshot_variants` settled the views, the square root and the
shrinkage LDA head on lite0's pooled features. This study asks whether other features move the
fresh-split figure past 85%, with the same protocol, views (recipe ``accurate``) and head:

* **second backbones**: lite1 / lite2 embeddings beside lite0's (concatenated, each unit
  length), from ONNX files that ``export_backbone --variant lite1 --out DIR`` writes;
* **other layers and poolings** of lite0 (the PyTorch network: needs the ``train`` extra):
  max and generalised-mean (p=3) pooling of the last feature map, and mean-pooled outputs of
  the last blocks beside the pooled features;
* **colour**: an HSV histogram of the photo's centre beside the features (the errors left are
  daisy / dandelion and roses / tulips).

::

    python -m nunchi.training.vision.fewshot_more --data ../shared/data/images/flowers \\
        --onnx /tmp/bb/lite1.onnx --onnx /tmp/bb/lite2.onnx --cache-dir /tmp/fewshot

Prints one JSON line like ``fewshot_variants``: ``{"protocol": ..., "variants": {name:
{"seeds_0_9": {mean, min, max}, "seeds_10_49": {...}}}}``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from nunchi.analyzers.vision.backbone import Backbone
from nunchi.analyzers.vision.lda import lda_affine
from nunchi.analyzers.vision.recipes import RECIPES
from nunchi.training.vision.fewshot import load_labelled
from nunchi.training.vision.fewshot_variants import Scorer, _unit, study_report

__all__ = ["backbone_views", "colour_histograms", "layer_views", "main"]

F64 = NDArray[np.float64]
_ACCURATE = RECIPES["accurate"]
_BLOCKS = (10, 12, 14, 15)
"""lite0 blocks whose mean-pooled outputs are tried beside the pooled features."""


def _cached(path: Path | None, make: Any) -> dict[str, F64]:
    if path is not None and path.is_file():
        with np.load(path) as z:
            return {k: z[k].astype(np.float64) for k in z.files}
    out: dict[str, NDArray[Any]] = make()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, Any] = {k: v.astype(np.float32) for k, v in out.items()}
        np.savez(path, **arrays)
    return {k: v.astype(np.float64) for k, v in out.items()}


def backbone_views(backbone: Backbone, files: Sequence[Path]) -> dict[str, NDArray[Any]]:
    """``{"pooled": (n, views, d)}``: the backbone's pooled features of the accurate views."""
    size = backbone.input_size
    runs = [backbone.run_array(_ACCURATE.arrays(f, size)).features for f in files]
    return {"pooled": np.stack(runs)}


def layer_views(files: Sequence[Path]) -> dict[str, NDArray[Any]]:
    """lite0 (PyTorch) over the accurate views: ``mean`` / ``max`` / ``gem3`` poolings of the
    last feature map and ``b<i>`` mean-pooled block outputs, each ``(n, views, d)``."""
    import torch

    from nunchi.training.vision.export_backbone import MEAN_RGB, STDDEV_RGB, load_torch_model

    torch.set_num_threads(1)
    with contextlib.redirect_stdout(sys.stderr):  # the weights package prints a line
        net: Any = load_torch_model("lite0")
    out: dict[str, list[NDArray[Any]]] = {}
    with torch.no_grad():
        for f in files:
            h = (torch.from_numpy(_ACCURATE.arrays(f, 224)) - MEAN_RGB) / STDDEV_RGB
            h = net._swish(net._bn0(net._conv_stem(h)))
            got: dict[str, Any] = {}
            for i, block in enumerate(net._blocks):
                h = block(h, drop_connect_rate=None)
                if i in _BLOCKS:
                    got[f"b{i}"] = h.mean((2, 3))
            fmap = net._swish(net._bn1(net._conv_head(h)))
            got["mean"] = fmap.mean((2, 3))
            got["max"] = fmap.amax((2, 3))
            got["gem3"] = fmap.clamp(min=1e-6).pow(3).mean((2, 3)).pow(1 / 3)
            for k, v in got.items():
                out.setdefault(k, []).append(v.numpy())
    return {k: np.stack(v) for k, v in out.items()}


def colour_histograms(files: Sequence[Path], bins: tuple[int, int, int] = (8, 3, 3)) -> F64:
    """An HSV histogram (hue x saturation x value bins) of each photo's centre square (3/4
    of the shorter side), square-rooted, unit length: ``(n, bins)``."""
    hb, sb, vb = bins
    rows = []
    for f in files:
        with Image.open(f) as im:
            rgb = im.convert("RGB")
        w, h = rgb.size
        s = min(w, h) * 0.75
        box = ((w - s) / 2, (h - s) / 2, (w + s) / 2, (h + s) / 2)
        hsv = np.asarray(rgb.resize((96, 96), box=box).convert("HSV")).reshape(-1, 3)
        q = hsv.astype(np.int64) * np.array([hb, sb, vb]) // 256
        rows.append(np.bincount((q[:, 0] * sb + q[:, 1]) * vb + q[:, 2], minlength=hb * sb * vb))
    return _unit(np.sqrt(np.asarray(rows, dtype=np.float64)))


def _embed(views: F64) -> F64:
    """``(n, views, d)`` pooled features to embeddings, as the accurate recipe combines them."""
    return _ACCURATE.combine(views.reshape(-1, views.shape[2])).astype(np.float64)


def _embed_signed(views: F64) -> F64:
    """The same with a signed square root, for block outputs (which go below zero)."""
    return _unit(_unit(np.sign(views) * np.sqrt(np.abs(views))).mean(1))


def _lda(x: F64, y: NDArray[np.int64], k: int, shrinkage: float = 0.5) -> Scorer:
    def scores(tr: NDArray[np.int64], te: NDArray[np.int64]) -> F64:
        w, b = lda_affine(x[tr], y[tr], k, shrinkage)
        out: F64 = x[te] @ w + b
        return out

    return scores


def main(argv: list[str] | None = None) -> None:
    """Measure every variant and print one JSON line."""
    ap = argparse.ArgumentParser(description="Few-shot variants past lite0's pooled features.")
    ap.add_argument("--data", type=Path, default=Path("../shared/data/images/flowers"))
    ap.add_argument("--shots", type=int, default=10)
    ap.add_argument("--onnx", type=Path, action="append", default=[],
                    help="another backbone's ONNX file (export_backbone); repeatable")  # fmt: skip
    ap.add_argument("--no-layers", action="store_true", help="skip the PyTorch layer study")
    ap.add_argument("--cache-dir", type=Path, default=None)
    args = ap.parse_args(argv)
    files, tags, y, k = load_labelled(args.data)

    def cache(name: str) -> Path | None:
        return None if args.cache_dir is None else args.cache_dir / f"{name}.npz"

    base = Backbone.load()
    e0 = _embed(_cached(cache(base.variant), lambda: backbone_views(base, files))["pooled"])
    found: dict[str, Scorer] = {"lite0 (recipe accurate)": _lda(e0, y, k)}
    others = {}
    for path in args.onnx:
        other = Backbone(path)
        pooled = _cached(cache(other.variant), lambda o=other: backbone_views(o, files))
        others[other.variant] = e = _embed(pooled["pooled"])
        found[f"{other.variant} alone"] = _lda(e, y, k)
        found[f"lite0 + {other.variant}"] = _lda(_unit(np.hstack([e0, e])), y, k)
    if len(others) > 1:
        every = _unit(np.hstack([e0, *others.values()]))
        found[f"lite0 + {' + '.join(others)}"] = _lda(every, y, k)
        found[f"lite0 + {' + '.join(others)}, LDA s=0.7"] = _lda(every, y, k, 0.7)
    if not args.no_layers:
        layers = _cached(cache("lite0-layers"), lambda: layer_views(files))
        for pool in ("max", "gem3"):
            found[f"lite0, {pool} pooling"] = _lda(_embed(layers[pool]), y, k)
        for i in _BLOCKS:
            block = _embed_signed(layers[f"b{i}"])
            found[f"lite0 + block {i} (weight 0.5)"] = _lda(_unit(np.hstack([e0, 0.5 * block])),
                                                            y, k)  # fmt: skip
    hist = colour_histograms(files)
    for weight in (0.2, 0.35):
        found[f"lite0 + HSV histogram (weight {weight})"] = _lda(
            _unit(np.hstack([e0, weight * hist])), y, k
        )
    protocol = {"data": str(args.data), "seeds": "0-9 (protocol) and 10-49 (check)",
                "recipe": "accurate views, sqrt, shrinkage LDA s=0.5 unless named"}  # fmt: skip
    print(json.dumps(study_report(found, tags, y, args.shots, protocol), ensure_ascii=False))


if __name__ == "__main__":
    main()
