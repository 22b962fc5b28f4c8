"""How well a classifier head does on held-out, tagged features: per tag and as a whole.

True tags the head does not know are allowed: for those the right answer is "unknown"
(``None``), which is how the abstain threshold is judged on images of unseen kinds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nunchi.analyzers.vision.calibration import expected_calibration_error
from nunchi.analyzers.vision.head import ClassifierHead
from nunchi.errors import InvalidInput

__all__ = ["Evaluation", "TagMetrics", "evaluate"]


@dataclass(frozen=True)
class TagMetrics:
    """Precision, recall and F1 of one tag, and how many held-out rows carry it."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Evaluation:
    """Scores of a head on held-out rows.

    ``confusion[i, j]`` counts rows whose true tag is ``labels[i]`` answered ``labels[j]``;
    the last label is ``None``: "unknown" as an answer, "not a tag of the head" as truth.
    """

    labels: tuple[str | None, ...]
    confusion: NDArray[np.int64]
    per_tag: dict[str, TagMetrics]
    accuracy: float
    """Right answers over all rows (an abstention on a known tag counts as wrong)."""
    coverage: float
    """Share of known-tag rows the head answered (did not abstain on)."""
    answered_accuracy: float
    """Right answers among the known-tag rows it answered."""
    unknown_rejected: float | None
    """Share of rows with a tag the head does not know that it answered ``None`` (if any)."""
    log_loss: float
    ece: float
    threshold: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "labels": list(self.labels),
            "confusion": self.confusion.tolist(),
            "per_tag": {t: vars(m) for t, m in self.per_tag.items()},
            "accuracy": self.accuracy,
            "coverage": self.coverage,
            "answered_accuracy": self.answered_accuracy,
            "unknown_rejected": self.unknown_rejected,
            "log_loss": self.log_loss,
            "ece": self.ece,
            "threshold": self.threshold,
        }


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def evaluate(
    head: ClassifierHead,
    features: NDArray[np.floating],
    tags: Sequence[str],
    *,
    threshold: float | None = None,
) -> Evaluation:
    """Score ``head`` on held-out ``features`` with their true ``tags``."""
    if len(tags) != len(features):
        raise InvalidInput(f"{len(tags)} tags for {len(features)} feature rows")
    if not len(tags):
        raise InvalidInput("nothing to evaluate: no rows")
    limit = head.threshold if threshold is None else threshold
    k = len(head.tags)
    index = {t: i for i, t in enumerate(head.tags)}
    truth = np.array([index.get(t, k) for t in tags], dtype=np.int64)
    probs = head.probabilities(features)
    best = probs.argmax(axis=1)
    answer = np.where(probs.max(axis=1) >= limit, best, k)
    confusion = np.zeros((k + 1, k + 1), dtype=np.int64)
    np.add.at(confusion, (truth, answer), 1)
    per_tag: dict[str, TagMetrics] = {}
    for i, tag in enumerate(head.tags):
        tp = float(confusion[i, i])
        precision = _ratio(tp, float(confusion[:, i].sum()))
        recall = _ratio(tp, float(confusion[i, :].sum()))
        f1 = _ratio(2 * precision * recall, precision + recall)
        per_tag[tag] = TagMetrics(precision, recall, f1, int(confusion[i, :].sum()))
    known = truth < k
    n_known = int(known.sum())
    answered = known & (answer < k)
    if n_known:
        logp = np.log(np.clip(probs[known, truth[known]].astype(np.float64), 1e-12, 1.0))
        log_loss = -float(logp.mean())
        ece = expected_calibration_error(probs[known], truth[known])
    else:
        log_loss = ece = 0.0
    return Evaluation(
        labels=(*head.tags, None),
        confusion=confusion,
        per_tag=per_tag,
        accuracy=float(np.trace(confusion)) / len(truth),
        coverage=_ratio(float(answered.sum()), n_known),
        answered_accuracy=_ratio(
            float((answer[answered] == truth[answered]).sum()), float(answered.sum())
        ),
        unknown_rejected=(float((answer[~known] == k).mean()) if (~known).any() else None),
        log_loss=log_loss,
        ece=ece,
        threshold=float(limit),
    )
