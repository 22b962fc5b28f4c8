"""Helpers shared by the bus unit tests."""

from __future__ import annotations

import time

from nunchi.bus import Consumer, Record

__all__ = ["drain"]


def drain(consumer: Consumer, want: int, timeout: float = 10.0) -> list[Record]:
    """Poll ``consumer`` until it has returned ``want`` records, failing the test if it has
    not after ``timeout`` seconds."""
    got: list[Record] = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        got += consumer.poll(timeout=0.1)
    assert len(got) == want, f"expected {want} records, got {len(got)}"
    return got
