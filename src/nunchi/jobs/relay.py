"""OutboxRelay: a background thread that publishes outbox messages their writer left behind."""

from __future__ import annotations

import logging
import threading

from nunchi.jobs.service import JobService

__all__ = ["OutboxRelay"]

log = logging.getLogger(__name__)


class OutboxRelay:
    """Every ``interval`` seconds, publishes outbox rows older than ``grace`` seconds.

    Run one in every process that serves the API or runs job stages (``nunchi up``,
    ``nunchi worker``); several relays at once only cause harmless duplicate messages."""

    def __init__(self, service: JobService, interval: float = 10.0, grace: float = 30.0) -> None:
        if interval <= 0 or grace < 0:
            raise ValueError("interval must be positive and grace not negative")
        self.service = service
        self.interval = interval
        self.grace = grace
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """Relay everything overdue now; returns how many messages were published."""
        total = 0
        while True:
            n = self.service.relay_outbox(older_than=self.grace)
            total += n
            if n == 0 or self._stop.is_set():
                return total

    def start(self) -> None:
        """Start the background thread (a no-op if already running)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="nunchi-outbox-relay", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread and wait up to ``timeout`` seconds for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception as e:  # keep relaying after a database or bus outage
                log.warning("outbox relay failed: %s", e)
            self._stop.wait(self.interval)
