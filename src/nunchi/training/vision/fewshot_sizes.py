"""Few-shot at other input sizes, and two backbones at once (session 9's study; the
``precise`` recipe came out of it).

:mod:`nunchi.training.vision.fewshot_more` measured second backbones and other layers at
each network's own input size. The flower photos are 227 pixels a side and the recipe's
views are 3/4 of that, so each view is *enlarged* to the network's input; this study feeds
the same views at larger sides (the networks pool globally, so any side works) and joins
lite0's and lite2's embeddings, each measured with the eight views of ``accurate`` and with
its four corners alone. Give the backbones as ``--onnx FILE:SIDE``, exported by
``export_backbone`` (``--size`` makes a graph serve several sides when its paddings agree)::

    python -m nunchi.training.vision.export_backbone --variant lite0 --out /tmp/bb \\
        --size 224 --size 288 --size 320 --size 384
    python -m nunchi.training.vision.export_backbone --variant lite2 --out /tmp/bb --size 360
    python -m nunchi.training.vision.fewshot_sizes --data ../shared/data/images/flowers \\
        --onnx /tmp/bb/lite0.onnx:224 --onnx /tmp/bb/lite0.onnx:288 \\
        --onnx /tmp/bb/lite0.onnx:320 --onnx /tmp/bb/lite0.onnx:384 \\
        --onnx /tmp/bb/lite2.onnx:360 --cache-dir /tmp/fewshot-sizes

Every lite2 entry is also paired with every other entry. Since the sizes and
pairs were chosen on seeds 10-49, they are measured again on 200 splits no study has used
(seeds 50-249). Prints one JSON line like ``fewshot_variants``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nunchi.analyzers.vision.backbone import Backbone
from nunchi.analyzers.vision.recipes import RECIPES
from nunchi.training.vision.fewshot import load_labelled
from nunchi.training.vision.fewshot_more import _cached, _embed, _lda
from nunchi.training.vision.fewshot_variants import Scorer, _unit, study_report

__all__ = ["main"]

_ACCURATE = RECIPES["accurate"]
_CORNERS = slice(0, 4)
"""The accurate recipe's first four views: the corner squares, not mirrored."""


def _views(backbone: Backbone, side: int, files: list[Path]) -> dict[str, NDArray[Any]]:
    runs = [backbone.run_array(_ACCURATE.arrays(f, side)).features for f in files]
    return {"pooled": np.stack(runs)}


def main(argv: list[str] | None = None) -> None:
    """Measure every size and pair; print one JSON line."""
    ap = argparse.ArgumentParser(description="Few-shot at other input sizes and backbone pairs.")
    ap.add_argument("--data", type=Path, default=Path("../shared/data/images/flowers"))
    ap.add_argument("--shots", type=int, default=10)
    ap.add_argument("--onnx", action="append", required=True, help="FILE:SIDE (repeatable)")
    ap.add_argument("--cache-dir", type=Path, default=None)
    args = ap.parse_args(argv)
    files, tags, y, k = load_labelled(args.data)
    pooled: dict[str, NDArray[np.float64]] = {}
    for spec in args.onnx:
        path, _, side = spec.rpartition(":")
        net = Backbone(Path(path))
        label = f"{net.variant}@{side}"
        cache = None if args.cache_dir is None else args.cache_dir / f"{label}.npz"
        got = _cached(cache, lambda n=net, s=int(side): _views(n, s, files))
        pooled[label] = got["pooled"]
    partners = [label for label in pooled if label.startswith("lite2")]
    found: dict[str, Scorer] = {}
    for label, views in pooled.items():
        found[f"{label}, 8 views"] = _lda(_embed(views), y, k)
    for label, views in pooled.items():
        for partner in [] if label in partners else partners:
            other = pooled[partner]
            for what, cut in (("8 views", slice(None)), ("4 corners", _CORNERS)):
                # each backbone's embedding alone (power, unit, mean over views, unit), joined
                mine, theirs = _unit(_mean(views[:, cut])), _unit(_mean(other[:, cut]))
                found[f"{label} + {partner}, {what}"] = _lda(_unit(np.hstack([mine, theirs])), y, k)
    protocol = {
        "data": str(args.data),
        "seeds": "0-9, 10-49 and 50-249",
        "recipe": "accurate views (or their 4 corners), sqrt, shrinkage LDA s=0.5",
    }
    report = study_report(found, tags, y, args.shots, protocol, more=range(50, 250))
    print(json.dumps(report, ensure_ascii=False))


def _mean(views: NDArray[np.float64]) -> NDArray[np.float64]:
    """``(n, views, d)`` pooled features to the mean of their square-rooted unit rows."""
    out: NDArray[np.float64] = _unit(np.sqrt(np.maximum(views, 0.0))).mean(1)
    return out


if __name__ == "__main__":
    main()
