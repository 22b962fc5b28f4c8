"""The SQLite log's write transaction when other threads of the same process are busy (what
``nunchi up`` is: replays, the store stage and the web server share one interpreter lock):
wall time of a 500-record ``publish_batch`` with 0 and 2 CPU-bound threads beside it, and in
the same run the same rows inserted by ``executemany`` in one transaction (a step per row,
each step handing the interpreter lock over while the log's write lock is held). Prints one
JSON line.

``python -m benchmarks.log_contention``
"""

from __future__ import annotations

import json
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.pipeline import machine_info
from nunchi.bus import Message
from nunchi.bus.sqlite import SqliteBus

__all__ = ["measure"]

_BATCH = 500
_REPEATS = 30


def _with_busy_threads(threads: int, run: Callable[[], None]) -> list[float]:
    stop = threading.Event()

    def burn() -> None:
        x = 0
        while not stop.is_set():
            for i in range(1000):
                x += i * i

    busy = [threading.Thread(target=burn, daemon=True) for _ in range(threads)]
    for thread in busy:
        thread.start()
    times = []
    try:
        for _ in range(_REPEATS):
            started = time.perf_counter()
            run()
            times.append(time.perf_counter() - started)
    finally:
        stop.set()
        for thread in busy:
            thread.join()
    return times


def measure() -> dict[str, float]:
    """Median and p90 milliseconds of both ways, with 0 and 2 busy threads."""
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp, SqliteBus(Path(tmp) / "bus.db") as bus:
        bus.ensure_topic("t", 4)
        headers = {"kind": b"message", "received": b"1764000000.000000"}
        batch = [Message("t", b"x" * 300, b"k%d" % (i % 8), headers) for i in range(_BATCH)]
        bus.publish_batch(batch)  # the connection opened outside the timing
        offset = [10**9]

        def executemany() -> None:
            rows = [("t", 0, offset[0] + i, m.key, m.value, None, 0.0) for i, m in enumerate(batch)]
            offset[0] += _BATCH
            with bus._db.write() as c:
                c.executemany(
                    'INSERT INTO records (topic, "partition", "offset", key, value, headers, ts)'
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )

        for threads in (0, 2):
            for name, run in (("publish_batch", lambda: bus.publish_batch(batch)),
                              ("executemany", executemany)):  # fmt: skip
                times = sorted(_with_busy_threads(threads, run))
                key = f"{name}.busy{threads}"
                figures[f"{key}.median_ms"] = round(statistics.median(times) * 1000, 2)
                figures[f"{key}.p90_ms"] = round(times[int(len(times) * 0.9)] * 1000, 2)
    return figures


if __name__ == "__main__":
    print(json.dumps({"bench": "log_contention", "machine": machine_info(), "batch": _BATCH,
                      **measure()}))  # fmt: skip
