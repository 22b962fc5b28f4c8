"""Training a classifier on embeddings the way an iteration does (pure): a seeded, stratified
held-out split, a head fitted on the rest and scored on it, then (by default) the same
recipe refitted on every image; and few-shot runs that measure a recipe over several seeds.

The figures of an iteration (:attr:`TrainedClassifier.metrics`, JSON-ready) are those of the
head fitted without the held-out images; the head returned was refitted on all of them when
``refit_all`` is set, which is what the metrics then describe: the recipe, measured on photos
it did not see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from nunchi.analyzers.vision.evaluation import evaluate
from nunchi.analyzers.vision.head import DEFAULT_L2, DEFAULT_THRESHOLD, ClassifierHead
from nunchi.analyzers.vision.lda import DEFAULT_SHRINKAGE, fit_lda
from nunchi.errors import InvalidInput

__all__ = [
    "THRESHOLD_STEPS",
    "TrainSettings",
    "TrainedClassifier",
    "few_shot",
    "fit_head",
    "holdout_split",
    "train_classifier",
]

THRESHOLD_STEPS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
"""Thresholds whose coverage and accuracy an iteration's metrics list (the trade-off)."""


@dataclass(frozen=True)
class TrainSettings:
    """How an iteration trains: the head (``lda`` or ``logistic``), its regularisation, the
    share of each tag held out for the figures, the seed, the abstain threshold."""

    method: Literal["lda", "logistic"] = "lda"
    shrinkage: float = DEFAULT_SHRINKAGE
    l2: float = DEFAULT_L2
    holdout: float = 0.2
    seed: int = 0
    threshold: float = DEFAULT_THRESHOLD
    refit_all: bool = True

    def __post_init__(self) -> None:
        if self.method not in ("lda", "logistic"):
            raise InvalidInput(f"unknown method {self.method!r}: use lda or logistic")
        if not 0.0 <= self.holdout <= 0.5:
            raise InvalidInput("holdout must be between 0 and 0.5 (the share of each tag)")
        if not 0.0 <= self.threshold <= 1.0:
            raise InvalidInput("threshold must be between 0 and 1")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return asdict(self)


@dataclass(frozen=True)
class TrainedClassifier:
    """The head to use and the iteration's figures."""

    head: ClassifierHead
    metrics: dict[str, Any]


def fit_head(
    features: NDArray[np.floating], tags: Sequence[str], settings: TrainSettings, backbone: str
) -> ClassifierHead:
    """A calibrated head of ``settings.method`` on ``features`` / ``tags``."""
    if settings.method == "lda":
        return fit_lda(
            features,
            tags,
            shrinkage=settings.shrinkage,
            threshold=settings.threshold,
            seed=settings.seed,
            backbone=backbone,
        )
    return ClassifierHead.fit(
        features,
        tags,
        l2=settings.l2,
        threshold=settings.threshold,
        seed=settings.seed,
        backbone=backbone,
    )


def holdout_split(
    tags: Sequence[str], share: float, seed: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Rows to train on and rows held out: ``round(share * n)`` of each tag's ``n`` (at least
    one when ``share > 0`` and the tag has two or more; a tag with one image only trains)."""
    rng = np.random.default_rng(seed)
    arr = np.asarray(tags)
    train: list[int] = []
    held: list[int] = []
    for tag in sorted(set(tags)):
        idx = np.flatnonzero(arr == tag)
        rng.shuffle(idx)
        n_held = 0
        if share > 0 and len(idx) >= 2:
            n_held = min(len(idx) - 1, max(1, round(share * len(idx))))
        held += idx[:n_held].tolist()
        train += idx[n_held:].tolist()
    return np.array(sorted(train), dtype=np.int64), np.array(sorted(held), dtype=np.int64)


def _figures(head: ClassifierHead, x: NDArray[np.floating], tags: Sequence[str]) -> dict[str, Any]:
    ev = evaluate(head, x, tags)
    out = ev.to_dict()
    out["top1_accuracy"] = evaluate(head, x, tags, threshold=0.0).accuracy
    out["thresholds"] = []
    for t in THRESHOLD_STEPS:
        at = evaluate(head, x, tags, threshold=t)
        out["thresholds"].append(
            {"threshold": t, "coverage": at.coverage, "answered_accuracy": at.answered_accuracy}
        )
    return out


def train_classifier(
    features: NDArray[np.floating],
    tags: Sequence[str],
    settings: TrainSettings,
    *,
    backbone: str = "",
) -> TrainedClassifier:
    """Train as an iteration does (see the module docstring). Tags need two images each to be
    measured; every tag needs at least one, and two tags are needed."""
    if len(set(tags)) < 2:
        raise InvalidInput("training needs images of at least two tags")
    train, held = holdout_split(tags, settings.holdout, settings.seed)
    metrics: dict[str, Any] = {
        "images": len(tags),
        "train_images": len(train),
        "heldout_images": len(held),
        "per_tag_images": {t: int(sum(1 for x in tags if x == t)) for t in sorted(set(tags))},
        "refit_all": settings.refit_all,
    }
    train_tags = [tags[i] for i in train]
    if len(held):
        measured = fit_head(features[train], train_tags, settings, backbone)
        metrics.update(_figures(measured, features[held], [tags[i] for i in held]))
    else:
        measured = None
        metrics["note"] = "no held-out images (each tag needs two, and holdout above 0)"
    if settings.refit_all or measured is None:
        head = fit_head(features, tags, settings, backbone)
    else:
        head = measured
    return TrainedClassifier(head, metrics)


def few_shot(
    features: NDArray[np.floating],
    tags: Sequence[str],
    settings: TrainSettings,
    *,
    shots: int,
    seeds: int,
) -> dict[str, Any]:
    """Accuracy over ``seeds`` runs of ``shots`` training images per tag, tested on the rest
    (mean / min / max and per seed, answering always: threshold 0)."""
    if shots < 1 or seeds < 1:
        raise InvalidInput("shots and seeds must be at least 1")
    counts = {t: sum(1 for x in tags if x == t) for t in set(tags)}
    short = sorted(t for t, n in counts.items() if n <= shots)
    if short:
        raise InvalidInput(f"tags {', '.join(short)} have no images left to test at {shots} shots")
    arr = np.asarray(tags)
    accs: list[float] = []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        train: list[int] = []
        for tag in sorted(counts):
            idx = np.flatnonzero(arr == tag)
            rng.shuffle(idx)
            train += idx[:shots].tolist()
        chosen = np.zeros(len(tags), dtype=bool)
        chosen[train] = True
        rows = np.flatnonzero(chosen)
        head = fit_head(features[rows], [tags[int(i)] for i in rows], settings, "")
        test = np.flatnonzero(~chosen)
        ev = evaluate(head, features[test], [tags[int(i)] for i in test], threshold=0.0)
        accs.append(ev.accuracy)
    a = np.asarray(accs)
    return {
        "shots": shots,
        "seeds": seeds,
        "accuracy": {"mean": float(a.mean()), "min": float(a.min()), "max": float(a.max())},
        "accuracy_per_seed": [round(x, 4) for x in accs],
        "settings": settings.to_dict(),
    }
