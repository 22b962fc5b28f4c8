"""The cyclic garbage collector, tuned for long-running processes (``nunchi up``,
``nunchi worker``).

With CPython's defaults a collection of the youngest generation runs every 700 allocations,
and a stage that handles 500 messages at a time keeps each poll's objects alive across
several of them: they are promoted to the oldest generation, whose collections then walk
every object the process holds (models, indexes, the web app) several times a second.
Measured on ``nunchi bench chat``'s sustained run (session 8): 13% of ``nunchi up``'s time and
9% of the scorer process's went to the collector. :func:`settle` collects once after start-up,
freezes what is there (never garbage: it stays, unscanned, for the process's life) and lets
the youngest generation grow to 50,000 allocations before it is collected; a poll's objects
are then freed by their reference counts before any collection sees them.
"""

from __future__ import annotations

import gc

__all__ = ["YOUNG_THRESHOLD", "settle"]

YOUNG_THRESHOLD = 50_000


def settle(young: int = YOUNG_THRESHOLD) -> None:
    """Collect, freeze the start-up's objects, and collect the youngest generation every
    ``young`` allocations (the older generations keep their ratios)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young, middle, old)
