"""Helpers for the bus tests: fresh names and polling until a condition holds."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence

from nunchi.bus import Consumer, Record

__all__ = ["JOIN_TIMEOUT", "collect", "fresh", "total", "wait_for_split"]

JOIN_TIMEOUT = 30.0
"""Seconds allowed for a group to (re)balance; Kafka on Tansu needs several."""


def fresh(prefix: str) -> str:
    """A name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def collect(
    consumers: Sequence[Consumer],
    until: Callable[[list[list[Record]]], bool],
    *,
    commit: bool = False,
    timeout: float = JOIN_TIMEOUT,
    poll_timeout: float = 0.1,
) -> list[list[Record]]:
    """Poll every consumer in turn (committing each batch if ``commit``) until
    ``until(records_per_consumer)`` holds; fail after ``timeout`` seconds."""
    got: list[list[Record]] = [[] for _ in consumers]
    deadline = time.monotonic() + timeout
    while not until(got):
        if time.monotonic() > deadline:
            counts = [len(g) for g in got]
            raise AssertionError(f"condition not met within {timeout}s; records so far {counts}")
        for i, consumer in enumerate(consumers):
            batch = consumer.poll(timeout=poll_timeout)
            got[i].extend(batch)
            if commit and batch:
                consumer.commit(batch)
    return got


def wait_for_split(consumers: Sequence[Consumer], topic: str, partitions: int) -> None:
    """Poll (an empty topic) until every consumer owns some partitions and together they own
    each of them exactly once."""

    def split(got: list[list[Record]]) -> bool:
        assert not any(got), "the topic should be empty while the group balances"
        owned = [c.assignment() for c in consumers]
        flat = [tp for tps in owned for tp in tps]
        return all(owned) and sorted(flat) == [(topic, p) for p in range(partitions)]

    collect(consumers, split)


def total(n: int) -> Callable[[list[list[Record]]], bool]:
    """A ``collect`` condition: ``n`` records in all."""
    return lambda got: sum(len(g) for g in got) >= n
