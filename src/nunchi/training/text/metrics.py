"""Binary classification figures shared by the trainers, ``nunchi models eval`` and benchmarks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["binary_metrics"]


def binary_metrics(
    labels: Sequence[int] | npt.NDArray[np.integer],
    predicted: Sequence[bool] | npt.NDArray[np.bool_] | npt.NDArray[np.integer],
    *,
    digits: int | None = None,
) -> dict[str, float]:
    """Precision, recall and F1 of the positive class (label 1), accuracy, and ``n`` rows.

    ``predicted`` holds one verdict per label (truthy = positive). A ratio with nothing to
    count (no positive prediction, no positive label) is 0.0. ``digits`` rounds the four
    figures (``n`` stays exact).
    """
    y = np.asarray(labels) == 1
    pred = np.asarray(predicted).astype(bool)
    if y.shape != pred.shape:
        raise ValueError(f"{y.size} labels but {pred.size} predictions")
    tp = float(np.sum(pred & y))
    fp = float(np.sum(pred & ~y))
    fn = float(np.sum(~pred & y))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    accuracy = float(np.mean(pred == y)) if y.size else 0.0
    figures = {"precision": precision, "recall": recall, "f1": f1, "accuracy": accuracy}
    if digits is not None:
        figures = {k: round(v, digits) for k, v in figures.items()}
    return {**figures, "n": float(y.size)}
