"""A delay queue with one thread: items come due after their delay and are handed on in bulk.

Records waiting for a retry wait here, not in a sleeping handler thread, so a record's
backoff never holds back the records behind it."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["DelayQueue"]

T = TypeVar("T")

_log = logging.getLogger("nunchi.runtime")


class DelayQueue(Generic[T]):
    """Calls ``on_due(items)`` from its thread with the items whose delay has passed."""

    def __init__(self, on_due: Callable[[list[T]], None], *, name: str) -> None:
        self._on_due = on_due
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, T]] = []
        self._seq = itertools.count()
        self._stopped = False
        self.thread = threading.Thread(target=self._loop, name=name, daemon=True)
        """The thread that hands items on."""

    def __len__(self) -> int:
        """Items waiting."""
        with self._cond:
            return len(self._heap)

    def start(self) -> None:
        """Start handing items on."""
        self.thread.start()

    def schedule(self, item: T, delay: float) -> bool:
        """Hand ``item`` on after ``delay`` seconds; False (and dropped) once stopped."""
        with self._cond:
            if self._stopped:
                return False
            due = time.monotonic() + max(0.0, delay)
            heapq.heappush(self._heap, (due, next(self._seq), item))
            if self._heap[0][2] is item:
                self._cond.notify()
            return True

    def stop(self) -> None:
        """Stop the thread; items still waiting are dropped."""
        with self._cond:
            self._stopped = True
            self._heap.clear()
            self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopped:
                        return
                    now = time.monotonic()
                    if self._heap and self._heap[0][0] <= now:
                        break
                    self._cond.wait(self._heap[0][0] - now if self._heap else None)
                due: list[T] = []
                while self._heap and self._heap[0][0] <= now:
                    due.append(heapq.heappop(self._heap)[2])
            try:
                self._on_due(due)
            except Exception:
                _log.exception("%s: handing on due items failed", self.thread.name)
