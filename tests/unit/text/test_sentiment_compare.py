"""benchmarks.sentiment_compare: McNemar's counts and statistic."""

from __future__ import annotations

import numpy as np
import pytest
from benchmarks.sentiment_compare import mcnemar


def test_mcnemar_counts_the_discordant_pairs() -> None:
    a = np.array([True, True, False, False, True, False])
    b = np.array([True, False, True, True, True, False])
    result = mcnemar(a, b)
    assert (result["only_a"], result["only_b"]) == (1, 2)
    assert result["z"] == pytest.approx(1 / np.sqrt(3), abs=0.01)
    assert 0.4 < result["p"] < 0.7


def test_mcnemar_without_disagreement_is_not_significant() -> None:
    same = np.array([True, False, True])
    assert mcnemar(same, same) == {"only_a": 0, "only_b": 0, "z": 0.0, "p": 1.0}


def test_a_clear_difference_is_significant() -> None:
    a = np.zeros(200, dtype=bool)
    b = np.ones(200, dtype=bool)
    assert mcnemar(a, b)["p"] < 1e-6
