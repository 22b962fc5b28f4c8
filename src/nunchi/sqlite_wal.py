"""WAL checkpoints of a SQLite file off the commit path, for the event log and the store alike.

SQLite's automatic checkpoint runs inside the commit that crosses 1,000 WAL pages and pays its
fsyncs there, so now and then one publish or one store transaction stalls (at 1,000 chat
messages a second, every few seconds: the live chat's p99 latency). :class:`WalCheckpoints`
runs a ``PASSIVE`` checkpoint (it waits for no reader or writer) once a second after writes, on
a daemon thread started by the first write, so the automatic one seldom has anything to do.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

__all__ = ["PASSIVE", "WalCheckpoints"]

log = logging.getLogger(__name__)

PASSIVE = "PRAGMA wal_checkpoint(PASSIVE)"
_EVERY = 1.0


class WalCheckpoints:
    """Calls ``checkpoint()`` once a second after :meth:`wrote` was called; ``checkpoint``
    returns False when what it checkpoints is gone (the thread then ends). An error of one
    round is logged at debug level: the next round, or SQLite itself, does it."""

    def __init__(self, checkpoint: Callable[[], bool], name: str) -> None:
        self._checkpoint = checkpoint
        self._name = name
        self._writes = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    def wrote(self) -> None:
        """A write was committed: checkpoint within a second (starts the thread if needed)."""
        self._writes += 1
        thread = self._thread
        if thread is not None and thread.is_alive():
            return
        with self._lock:
            if self._closed or (self._thread is not None and self._thread.is_alive()):
                return
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._run, args=(self._stop,), name=self._name, daemon=True
            )
            self._thread.start()

    def _run(self, stop: threading.Event) -> None:
        done = 0
        while not stop.wait(_EVERY):
            if self._writes == done:
                continue
            done = self._writes
            try:
                if not self._checkpoint():
                    return
            except Exception as e:
                log.debug("%s: checkpoint skipped: %s", self._name, e)

    def stop(self, *, close: bool = False, timeout: float = 0.0) -> None:
        """End the thread (waiting up to ``timeout`` seconds); a later write starts it again,
        unless ``close``."""
        with self._lock:
            self._closed = self._closed or close
            self._stop.set()
            thread = self._thread
        if thread is not None and timeout > 0 and thread is not threading.current_thread():
            thread.join(timeout)
