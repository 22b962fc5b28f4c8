"""The few-shot study that chooses the backbone variant: accuracy over seeds, speed, size.

Protocol (flowers: 5 classes x 50 photos): per seed, ``--shots`` photos of each class train a
:class:`~nunchi.analyzers.vision.head.ClassifierHead` on the backbone's embeddings, the other
photos test it; accuracy is reported as mean / min / max over the seeds, with the calibrated
log-loss and ECE (and the ECE without calibration). Speed is ONNX Runtime on one intra-op and
one inter-op thread, sequential execution, one image per run, best of ``--rounds`` rounds, on
preprocessed arrays (``images_per_s``) and from the JPEG file (``images_per_s_with_decode``).
The abstain study trains on all classes but one and counts how often photos of the left-out
class are answered "unknown" at each threshold. Prints one JSON line::

    python -m nunchi.training.vision.fewshot --models DIR --variants lite0,lite1,lite2

``DIR`` holds ``<name>.onnx`` files from ``export_backbone``. No torch needed.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nunchi.analyzers.vision.backbone import Backbone
from nunchi.analyzers.vision.evaluation import evaluate
from nunchi.analyzers.vision.head import DEFAULT_L2, ClassifierHead

__all__ = [
    "abstain_study",
    "accuracy_study",
    "load_dataset",
    "load_labelled",
    "main",
    "speed",
    "split",
]

THRESHOLDS = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def load_dataset(root: Path) -> tuple[list[Path], list[str]]:
    """The ``*.jpg`` files under ``root/<class>/`` and their class names, in a fixed order."""
    files: list[Path] = []
    tags: list[str] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        found = sorted(folder.glob("*.jpg"))
        files += found
        tags += [folder.name] * len(found)
    if not files:
        raise SystemExit(f"no <class>/*.jpg under {root}")
    return files, tags


def load_labelled(root: Path) -> tuple[list[Path], list[str], NDArray[np.int64], int]:
    """:func:`load_dataset` with each photo's class as an index into the sorted class names,
    and the number of classes."""
    files, tags = load_dataset(root)
    names = sorted(set(tags))
    return files, tags, np.array([names.index(t) for t in tags], dtype=np.int64), len(names)


def split(
    tags: Sequence[str], shots: int, seed: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Indices of ``shots`` training rows per tag (random by ``seed``) and of the rest."""
    rng = np.random.default_rng(seed)
    arr = np.array(tags)
    train: list[int] = []
    test: list[int] = []
    for tag in sorted(set(tags)):
        idx = np.flatnonzero(arr == tag)
        rng.shuffle(idx)
        train += idx[:shots].tolist()
        test += idx[shots:].tolist()
    return np.array(sorted(train)), np.array(sorted(test))


def _summary(values: Sequence[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=np.float64)
    return {
        "mean": round(float(a.mean()), 4),
        "min": round(float(a.min()), 4),
        "max": round(float(a.max()), 4),
        "std": round(float(a.std()), 4),
    }


def accuracy_study(
    features: NDArray[np.float32], tags: Sequence[str], *, shots: int, seeds: int, l2: float
) -> dict[str, Any]:
    """Few-shot accuracy, log-loss and ECE of the head over ``seeds`` random splits."""
    acc: list[float] = []
    loss: list[float] = []
    ece: list[float] = []
    ece_raw: list[float] = []
    fit_ms: list[float] = []
    for seed in range(seeds):
        train, test = split(tags, shots, seed)
        t0 = time.perf_counter()
        head = ClassifierHead.fit(features[train], [tags[i] for i in train], l2=l2, seed=seed)
        fit_ms.append((time.perf_counter() - t0) * 1000)
        truth = [tags[i] for i in test]
        ev = evaluate(head, features[test], truth, threshold=0.0)
        raw = ClassifierHead.fit(features[train], [tags[i] for i in train], l2=l2, calibrate=False)
        acc.append(ev.accuracy)
        loss.append(ev.log_loss)
        ece.append(ev.ece)
        ece_raw.append(evaluate(raw, features[test], truth, threshold=0.0).ece)
    return {
        "accuracy": _summary(acc),
        "accuracy_per_seed": [round(a, 4) for a in acc],
        "log_loss": _summary(loss)["mean"],
        "ece": _summary(ece)["mean"],
        "ece_uncalibrated": _summary(ece_raw)["mean"],
        "fit_ms": _summary(fit_ms)["mean"],
    }


def abstain_study(
    features: NDArray[np.float32], tags: Sequence[str], *, shots: int, seeds: int, l2: float
) -> dict[str, dict[str, float]]:
    """Per threshold: coverage and accuracy on known tags, share of an unseen tag rejected."""
    rows: dict[float, list[tuple[float, float, float]]] = {t: [] for t in THRESHOLDS}
    for seed in range(seeds):
        train, test = split(tags, shots, seed)
        for unseen in sorted(set(tags)):
            fit_rows = [i for i in train if tags[i] != unseen]
            eval_rows = [i for i in test if tags[i] != unseen] + [
                i for i in range(len(tags)) if tags[i] == unseen
            ]
            head = ClassifierHead.fit(
                features[fit_rows], [tags[i] for i in fit_rows], l2=l2, seed=seed
            )
            for t in THRESHOLDS:
                ev = evaluate(head, features[eval_rows], [tags[i] for i in eval_rows], threshold=t)
                rows[t].append((ev.coverage, ev.answered_accuracy, float(ev.unknown_rejected or 0)))
    out: dict[str, dict[str, float]] = {}
    for t, vals in rows.items():
        a = np.asarray(vals)
        out[f"{t:.1f}"] = {
            "coverage": round(float(a[:, 0].mean()), 4),
            "answered_accuracy": round(float(a[:, 1].mean()), 4),
            "unknown_rejected": round(float(a[:, 2].mean()), 4),
        }
    return out


def speed(
    backbone: Backbone, files: Sequence[Path], count: int, rounds: int = 3
) -> dict[str, float]:
    """Single-image throughput, with and without JPEG decoding; the best of ``rounds``.

    The best round is the one least disturbed by other work on a shared machine.
    """
    chosen = list(files[:count])
    arrays = [backbone.preprocess([f]) for f in chosen]
    for a in arrays[:5]:  # warm-up
        backbone.run_array(a)
    model_s = full_s = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for a in arrays:
            backbone.run_array(a)
        model_s = min(model_s, time.perf_counter() - t0)
        t0 = time.perf_counter()
        for f in chosen:
            backbone.run([f])
        full_s = min(full_s, time.perf_counter() - t0)
    return {
        "images_per_s": round(len(chosen) / model_s, 1),
        "ms_per_image": round(model_s / len(chosen) * 1000, 2),
        "images_per_s_with_decode": round(len(chosen) / full_s, 1),
    }


def main(argv: list[str] | None = None) -> None:
    """Run the study for each model and print the figures as one JSON line."""
    ap = argparse.ArgumentParser(description="Few-shot study of the backbone variants.")
    ap.add_argument("--models", type=Path, required=True, help="folder of <name>.onnx")
    ap.add_argument("--variants", default="lite0,lite1,lite2", help="comma-separated names")
    ap.add_argument("--data", type=Path, default=Path("../shared/data/images/flowers"))
    ap.add_argument("--shots", type=int, default=10)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--l2", type=float, default=DEFAULT_L2)
    ap.add_argument("--speed-images", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=3, help="speed rounds (the best is kept)")
    ap.add_argument("--no-abstain", action="store_true", help="skip the abstain study")
    args = ap.parse_args(argv)
    files, tags = load_dataset(args.data)
    report: dict[str, Any] = {
        "protocol": {
            "data": str(args.data),
            "classes": len(set(tags)),
            "images": len(files),
            "shots": args.shots,
            "seeds": args.seeds,
            "l2": args.l2,
            "threads": {"intra_op": 1, "inter_op": 1, "execution": "sequential"},
            "speed_rounds": args.rounds,
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        },
        "variants": {},
    }
    for name in args.variants.split(","):
        path = args.models / f"{name}.onnx"
        backbone = Backbone(path)
        features = backbone.embed(files)
        entry: dict[str, Any] = {
            "input_size": backbone.input_size,
            "feature_dim": backbone.feature_dim,
            "mb": round(path.stat().st_size / 1e6, 2),
            **speed(backbone, files, args.speed_images, args.rounds),
            **accuracy_study(features, tags, shots=args.shots, seeds=args.seeds, l2=args.l2),
        }
        if not args.no_abstain:
            entry["abstain"] = abstain_study(
                features, tags, shots=args.shots, seeds=args.seeds, l2=args.l2
            )
        report["variants"][name] = entry
    print(json.dumps(report))


if __name__ == "__main__":
    main()
