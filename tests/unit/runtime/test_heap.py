"""The collector settled after start-up: start-up objects frozen, young generation larger."""

from __future__ import annotations

import gc

from nunchi.runtime.heap import YOUNG_THRESHOLD, settle


def test_settle_freezes_start_up_and_raises_the_young_threshold() -> None:
    before = gc.get_threshold()
    try:
        settle()
        assert gc.get_threshold() == (YOUNG_THRESHOLD, before[1], before[2])
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
