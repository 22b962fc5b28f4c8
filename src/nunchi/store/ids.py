"""Time-ordered ids for rows (jobs, batches, webhook deliveries, app records): UUIDv7 as 32
lowercase hex digits, so ordering by id is ordering by creation and list pages can use the id
as a cursor."""

from __future__ import annotations

import os
import threading
import time

__all__ = ["ID_PATTERN", "new_id"]

ID_PATTERN = r"^[0-9a-f]{32}$"
"""What an id looks like (for path and query validation)."""

_ID_LOCK = threading.Lock()
_last_ms = 0
_seq = 0


def new_id() -> str:
    """A new UUIDv7 as 32 hex digits; ids made later in this process sort after earlier ones.

    48 bits of Unix milliseconds, a 12-bit sequence that keeps ids strictly increasing
    within a millisecond (borrowing the next millisecond on overflow), 62 random bits."""
    global _last_ms, _seq
    with _ID_LOCK:
        ms = time.time_ns() // 1_000_000
        if ms > _last_ms:
            _last_ms = ms
            _seq = int.from_bytes(os.urandom(2), "big") & 0x3FF  # leave room to count up
        else:
            _seq += 1
            if _seq > 0xFFF:
                _last_ms += 1
                _seq = 0
        ms, seq = _last_ms, _seq
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | seq << 64 | 0b10 << 62 | rand_b
    return f"{value:032x}"
