"""Figures for 3-class chat sentiment: confusion matrix, macro-F1, paired tests and intervals.

Classes are integers in :data:`nunchi.training.text.chat_data.LABELS` order (negative, neutral,
positive). Everything is numpy and the standard library, so the figures need no scikit-learn.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nunchi.training.text.chat_data import LABELS

__all__ = [
    "band_labels",
    "best_band",
    "bootstrap_difference",
    "classification_figures",
    "confusion",
    "macro_f1",
    "mcnemar",
]

Ints = NDArray[np.int64]
NEG, NEU, POS = 0, 1, 2


def confusion(y: Ints, pred: Ints, k: int = len(LABELS)) -> Ints:
    """``k x k`` counts: row = true class, column = predicted class."""
    out = np.zeros((k, k), dtype=np.int64)
    np.add.at(out, (y, pred), 1)
    return out


Floats = NDArray[np.float64]


def _per_class(matrix: Ints) -> tuple[Floats, Floats, Floats]:
    tp = np.diag(matrix).astype(np.float64)
    predicted = matrix.sum(axis=0).astype(np.float64)
    actual = matrix.sum(axis=1).astype(np.float64)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(tp), where=total > 0)
    return precision, recall, f1


def macro_f1(y: Ints, pred: Ints) -> float:
    """Unweighted mean of the three classes' F1."""
    return float(_per_class(confusion(y, pred))[2].mean())


def classification_figures(y: Ints, pred: Ints, digits: int = 4) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class P/R/F1 and the confusion matrix (rows = truth)."""
    matrix = confusion(y, pred)
    precision, recall, f1 = _per_class(matrix)
    per_class = {
        name: {"precision": round(float(precision[i]), digits),
               "recall": round(float(recall[i]), digits), "f1": round(float(f1[i]), digits)}
        for i, name in enumerate(LABELS)
    }
    return {
        "n": int(y.size),
        "accuracy": round(float(np.mean(y == pred)), digits) if y.size else 0.0,
        "macro_f1": round(float(f1.mean()), digits),
        "per_class": per_class,
        "confusion": {"rows_true_cols_pred": list(LABELS), "matrix": matrix.tolist()},
    }


def band_labels(p_positive: NDArray[np.float64], band: float) -> Ints:
    """3-class labels from P(positive): neutral when ``|p - 0.5| < band``."""
    out = np.where(p_positive >= 0.5, POS, NEG).astype(np.int64)
    out[np.abs(p_positive - 0.5) < band] = NEU
    return out


def best_band(y: Ints, p_positive: NDArray[np.float64], step: float = 0.01) -> float:
    """The half-width in [0, 0.5) with the highest macro-F1 on ``y`` (the smallest on ties)."""
    best, best_f1 = 0.0, -1.0
    for band in np.arange(0.0, 0.5, step):
        f1 = macro_f1(y, band_labels(p_positive, float(band)))
        if f1 > best_f1 + 1e-12:
            best, best_f1 = float(band), f1
    return round(best, 4)


def mcnemar(correct_a: NDArray[np.bool_], correct_b: NDArray[np.bool_]) -> dict[str, float]:
    """Exact two-sided McNemar test on paired right/wrong answers of two methods."""
    only_a = int(np.sum(correct_a & ~correct_b))
    only_b = int(np.sum(~correct_a & correct_b))
    n = only_a + only_b
    if n == 0:
        return {"only_a": 0, "only_b": 0, "p": 1.0}
    k = min(only_a, only_b)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / (1 << n)  # exact integers
    return {"only_a": only_a, "only_b": only_b, "p": float(f"{min(1.0, 2 * tail):.3g}")}


def bootstrap_difference(
    y: Ints, pred_a: Ints, pred_b: Ints, *, resamples: int = 2000, seed: int = 0,
) -> dict[str, list[float]]:
    """Paired bootstrap 95% intervals of (b - a) for accuracy and macro-F1."""
    rng = np.random.default_rng(seed)
    figures: dict[str, Callable[[Ints, Ints], float]] = {
        "accuracy": lambda t, p: float(np.mean(t == p)),
        "macro_f1": macro_f1,
    }
    diffs: dict[str, list[float]] = {name: [] for name in figures}
    for _ in range(resamples):
        idx = rng.integers(0, y.size, y.size)
        for name, fn in figures.items():
            diffs[name].append(fn(y[idx], pred_b[idx]) - fn(y[idx], pred_a[idx]))
    return {
        name: [round(float(np.percentile(values, q)), 4) for q in (2.5, 97.5)]
        for name, values in diffs.items()
    }
