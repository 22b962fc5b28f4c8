"""binary_metrics: the one place precision / recall / F1 / accuracy are computed."""

from __future__ import annotations

import numpy as np
import pytest

from nunchi.training.text.metrics import binary_metrics


def test_counts_the_positive_class() -> None:
    # 2 true positives, 1 false positive, 1 false negative, 1 true negative
    figures = binary_metrics([1, 1, 0, 1, 0], [True, True, True, False, False])
    assert figures["precision"] == pytest.approx(2 / 3)
    assert figures["recall"] == pytest.approx(2 / 3)
    assert figures["f1"] == pytest.approx(2 / 3)
    assert figures["accuracy"] == pytest.approx(3 / 5)
    assert figures["n"] == 5


def test_nothing_to_count_is_zero_not_an_error() -> None:
    figures = binary_metrics(np.zeros(4, dtype=np.int64), np.zeros(4, dtype=bool))
    assert (figures["precision"], figures["recall"], figures["f1"]) == (0.0, 0.0, 0.0)
    assert figures["accuracy"] == 1.0


def test_rounds_only_the_ratios() -> None:
    figures = binary_metrics([1, 0, 1], np.array([1, 1, 1]), digits=2)
    assert figures == {"precision": 0.67, "recall": 1.0, "f1": 0.8, "accuracy": 0.67, "n": 3.0}


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="3 labels but 2 predictions"):
        binary_metrics([1, 0, 1], [True, False])
