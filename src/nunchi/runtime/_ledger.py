"""The shared, locked state of one running stage: records in flight, counters, stop state.

The poll thread, the handler threads and ``Worker.stats()`` all go through one lock here;
the in-flight gauge is kept in step with the tracker."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from nunchi.bus.base import Record
from nunchi.runtime._offsets import OffsetTracker, Ticket, TopicPartition
from nunchi.runtime.metrics import StageMetrics

__all__ = ["Ledger", "StageStats"]


@dataclass(frozen=True)
class StageStats:
    """A snapshot of one stage's counters in this worker (since the worker was created)."""

    processed: int = 0
    """Records handled successfully."""
    failed: int = 0
    """Failed attempts (a record retried twice then handled counts 2)."""
    retried: int = 0
    """Attempts scheduled for retry."""
    dead_lettered: int = 0
    """Records published to the dead-letter topic."""
    in_flight: int = 0
    """Records polled but not yet committed."""
    lag: int | None = None
    """Records in the topic not yet committed by the group, at the last refresh (None: unknown)."""
    last_error: str | None = None
    """``Type: message`` of the latest failure (handler, bus or dead-letter publish)."""


class Ledger:
    """Thread-safe bookkeeping of one stage in one worker."""

    def __init__(self, metrics: StageMetrics) -> None:
        self._metrics = metrics
        self._cond = threading.Condition()
        self._tracker = OffsetTracker()
        self._stopping = False
        self._deadline = math.inf
        self._live_handlers = 0
        self._processed = self._failed = self._retried = self._dead_lettered = 0
        self._lag: int | None = None
        self._last_error: str | None = None

    # -- records in flight -----------------------------------------------------------------

    def admit(self, records: list[Record]) -> list[Ticket] | None:
        """Track freshly polled records; None once stopping (then they are not handled)."""
        with self._cond:
            if self._stopping:
                return None
            before = len(self._tracker)
            tickets = [self._tracker.add(record)[0] for record in records]
            added = len(self._tracker) - before
        self._metrics.in_flight.inc(added)
        return tickets

    def finish(self, tickets: list[Ticket], *, dead_lettered: bool) -> None:
        """Mark records handled (or dead-lettered) and wake the poll thread to commit."""
        if not tickets:
            return
        with self._cond:
            if dead_lettered:
                self._dead_lettered += len(tickets)
            else:
                self._processed += len(tickets)
            for ticket in tickets:
                self._tracker.finish(ticket)
            self._cond.notify_all()
        counter = self._metrics.dead_lettered if dead_lettered else self._metrics.processed
        counter.inc(len(tickets))
        wall = time.time()
        for ticket in tickets:
            if ticket.record.timestamp > 0:
                self._metrics.end_to_end.observe(max(0.0, wall - ticket.record.timestamp))

    def take_committable(self) -> list[Record]:
        """Records to commit (one per partition that moved); they leave the in-flight count."""
        with self._cond:
            before = len(self._tracker)
            ready = self._tracker.take_committable()
            released = before - len(self._tracker)
        if released:
            self._metrics.in_flight.dec(released)
        return ready

    def drop_lost(self, owned: set[TopicPartition]) -> tuple[set[TopicPartition], int]:
        """Forget partitions not in ``owned``; returns them and how many records were dropped."""
        with self._cond:
            lost = self._tracker.partitions() - owned
            dropped = self._tracker.drop(lost) if lost else 0
        if dropped:
            self._metrics.in_flight.dec(dropped)
        return lost, dropped

    def drop_all(self) -> int:
        """Forget every partition (the consumer left its group); returns the records dropped."""
        with self._cond:
            dropped = self._tracker.drop(self._tracker.partitions())
        if dropped:
            self._metrics.in_flight.dec(dropped)
        return dropped

    def wait_for_room(self, limit: int, timeout: float) -> int:
        """How many more records may be polled; at ``limit``, first wait up to ``timeout``
        for a record to finish (the caller commits, then asks again)."""
        with self._cond:
            free = limit - len(self._tracker)
            if free <= 0 and not self._stopping:
                self._cond.wait(timeout)
            return free

    # -- counters --------------------------------------------------------------------------

    def count_failure(self, description: str) -> None:
        """Count a failed attempt."""
        with self._cond:
            self._failed += 1
            self._last_error = description
        self._metrics.failed.inc()

    def count_retry(self) -> None:
        """Count an attempt scheduled for retry."""
        with self._cond:
            self._retried += 1
        self._metrics.retried.inc()

    def note_error(self, description: str) -> None:
        """Remember a failure that is not a handler's (bus, dead-letter publish)."""
        with self._cond:
            self._last_error = description

    def set_lag(self, lag: int | None) -> None:
        """Store the latest consumer lag."""
        with self._cond:
            self._lag = lag
        if lag is not None:
            self._metrics.lag.set(lag)

    def snapshot(self) -> StageStats:
        """The counters now."""
        with self._cond:
            return StageStats(
                processed=self._processed,
                failed=self._failed,
                retried=self._retried,
                dead_lettered=self._dead_lettered,
                in_flight=len(self._tracker),
                lag=self._lag,
                last_error=self._last_error,
            )

    # -- stopping --------------------------------------------------------------------------

    def handlers_started(self, count: int) -> None:
        """Note ``count`` live handler threads."""
        with self._cond:
            self._live_handlers += count

    def handler_exited(self) -> None:
        """Note a handler thread's exit."""
        with self._cond:
            self._live_handlers -= 1
            self._cond.notify_all()

    def begin_stop(self, deadline: float) -> bool:
        """Enter the stopping state (False if already there)."""
        with self._cond:
            if self._stopping:
                return False
            self._stopping = True
            self._deadline = deadline
            self._cond.notify_all()
            return True

    def out_of_time(self) -> bool:
        """Stopping and past the deadline: abandon what is left."""
        with self._cond:
            return self._stopping and time.monotonic() >= self._deadline

    def wait_handlers(self) -> None:
        """Wait until every handler thread has exited, or the stop deadline passes."""
        with self._cond:
            while self._live_handlers > 0:
                remaining = self._deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._cond.wait(remaining)
