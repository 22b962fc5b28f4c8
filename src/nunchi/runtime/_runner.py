"""One stage inside a Worker: a poll thread, a retry scheduler and ``concurrency`` handler threads.

The poll thread owns the consumer (consumers are not thread-safe): it polls, commits and
follows the partition assignment. Handler threads make attempts and mark records finished
(handled or dead-lettered) in the :class:`Ledger`; the poll thread commits only the
contiguous run of finished records per partition. Records waiting for a retry sit in a
:class:`DelayQueue`, not in a handler thread, so one record's backoff blocks no other.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

from nunchi.bus.base import Bus, Consumer, Record
from nunchi.bus.topics import dlq_topic, is_dlq
from nunchi.runtime._attempts import Attempts, Item
from nunchi.runtime._ledger import Ledger, StageStats
from nunchi.runtime._offsets import TopicPartition
from nunchi.runtime._scheduler import DelayQueue
from nunchi.runtime.failures import describe
from nunchi.runtime.metrics import StageMetrics
from nunchi.runtime.stage import Stage

__all__ = ["StageRunner", "StageStats"]

_log = logging.getLogger("nunchi.runtime")

_POLL_MAX = 500
"""Most records one poll asks for."""
_BATCH_CHUNK = 500
"""Most deliveries one ``handle_batch`` call gets."""


def _fresh(work: list[Item]) -> bool:
    """Whether every item of ``work`` is a first delivery to handle (none to dead-letter)."""
    return all(i.dead is None for i in work)


class _Backoff:
    """Exponential delays for the poll loop while the bus fails."""

    def __init__(self, base: float = 0.1, cap: float = 5.0) -> None:
        self._base, self._cap, self._n = base, cap, 0

    def next(self) -> float:
        delay = min(self._cap, self._base * 2.0**self._n)
        self._n = min(self._n + 1, 30)
        return delay

    def reset(self) -> None:
        self._n = 0


class StageRunner:
    """Runs one :class:`Stage` for a Worker: ``open``, ``start``, ``begin_stop``, ``join``."""

    def __init__(
        self,
        bus: Bus,
        stage: Stage,
        *,
        partitions: int,
        poll_timeout: float,
        worker_name: str,
        lag_wake: threading.Event | None = None,
    ) -> None:
        self.stage = stage
        self._bus = bus
        self._partitions = partitions
        self._poll_timeout = poll_timeout
        self._prefix = f"nunchi-{worker_name}-{stage.name}"
        metrics = StageMetrics.for_stage(stage.name, stage.topic)
        self._ledger = Ledger(metrics)
        self._delayed: DelayQueue[Item] = DelayQueue(self._dispatch, name=f"{self._prefix}-retry")
        self._attempts = Attempts(stage, bus, self._ledger, metrics, self._delayed.schedule)
        self._queue: queue.SimpleQueue[list[Item] | None] = queue.SimpleQueue()
        self._consumer: Consumer | None = None
        self._poll_thread: threading.Thread | None = None
        self._threads: list[threading.Thread] = []
        self._stop_event = threading.Event()
        self._pending: dict[TopicPartition, Record] = {}
        """Commit positions not yet stored (poll thread only)."""
        self._owned: set[TopicPartition] | None = None
        """The assignment last seen (poll thread only); None before the first look."""
        self._lag_wake = lag_wake
        self.lag_stale = False
        """A commit moved the group's offsets since the lag was last asked for."""

    # -- life cycle ------------------------------------------------------------------------

    def open(self) -> None:
        """Create the topic and its dead-letter topic, and join the consumer group."""
        self._bus.ensure_topic(self.stage.topic, self._partitions)
        if not is_dlq(self.stage.topic):
            partitions = self._bus.partitions(self.stage.topic)
            self._bus.ensure_topic(dlq_topic(self.stage.topic), partitions)
        self._consumer = self._bus.consumer(self.stage.consumer_group, [self.stage.topic])

    def close_unstarted(self) -> None:
        """Leave the group without having started (a sibling stage failed to open)."""
        if self._consumer is not None and self._poll_thread is None:
            self._consumer.close()

    def start(self) -> None:
        """Start the poll, retry and handler threads."""
        if self._consumer is None:
            raise RuntimeError("StageRunner.open() must be called before start()")
        self._poll_thread = threading.Thread(
            target=self._poll_loop, args=(self._consumer,), name=f"{self._prefix}-poll", daemon=True
        )
        self._threads = [self._poll_thread, self._delayed.thread]
        for i in range(self.stage.concurrency):
            self._threads.append(
                threading.Thread(target=self._handler_loop, name=f"{self._prefix}-{i}", daemon=True)
            )
        self._ledger.handlers_started(self.stage.concurrency)
        for thread in self._threads:
            thread.start()

    def begin_stop(self, deadline: float) -> None:
        """Stop polling and retrying; handler threads finish queued work until ``deadline``
        (a ``time.monotonic()`` value), then the poll thread commits and leaves the group."""
        if not self._ledger.begin_stop(deadline):
            return
        self._delayed.stop()  # records waiting for a retry stay uncommitted: delivered again
        self._stop_event.set()
        for _ in range(self.stage.concurrency):
            self._queue.put(None)

    def join(self, deadline: float) -> bool:
        """Wait for the threads; True if all ended. The poll thread (which commits and closes
        the consumer) gets one poll timeout of grace past ``deadline``."""
        if self._poll_thread is not None:
            grace = max(0.0, deadline - time.monotonic()) + self._poll_timeout + 1.0
            self._poll_thread.join(grace)
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            _log.warning(
                "stage %s: %d thread(s) still busy after stop; their records stay uncommitted",
                self.stage.name,
                len(alive),
            )
        return not alive

    def stats(self) -> StageStats:
        """A snapshot of this stage's counters."""
        return self._ledger.snapshot()

    def refresh_lag(self) -> None:
        """Ask the bus for the group's lag on the stage's topic (errors leave it unchanged)."""
        self.lag_stale = False
        try:
            lag = self._bus.lag(self.stage.consumer_group, self.stage.topic)
        except Exception as err:
            _log.debug("stage %s: lag unavailable (%s)", self.stage.name, type(err).__name__)
            return
        self._ledger.set_lag(lag)

    # -- poll thread -----------------------------------------------------------------------

    def _poll_loop(self, consumer: Consumer) -> None:
        backoff = _Backoff()
        while not self._stop_event.is_set():
            try:
                self._commit_ready(consumer)
                self._follow_assignment(consumer)
                room = self._ledger.wait_for_room(self.stage.max_in_flight, self._poll_timeout)
                if room <= 0:
                    continue
                started = time.monotonic()
                records = consumer.poll(min(room, _POLL_MAX), self._poll_timeout)
                if records:
                    tickets = self._ledger.admit(records)
                    if tickets is not None:  # None: stopping; they will be delivered again
                        self._dispatch([Item(t) for t in tickets])
                elif time.monotonic() - started < self._poll_timeout / 10:
                    # A poll that returns at once with nothing (a closing bus): do not spin.
                    self._stop_event.wait(min(self._poll_timeout, 0.05))
                backoff.reset()
            except Exception as err:
                delay = backoff.next()
                self._ledger.note_error(describe(err))
                _log.warning(
                    "stage %s: poll loop error (%s); retrying in %.2fs",
                    self.stage.name,
                    type(err).__name__,
                    delay,
                    exc_info=True,
                )
                self._stop_event.wait(delay)
        self._finish(consumer)

    def _commit_ready(self, consumer: Consumer) -> None:
        for record in self._ledger.take_committable():
            self._pending[(record.topic, record.partition)] = record
        if self._pending:
            consumer.commit(list(self._pending.values()))
            self._pending.clear()
            self.lag_stale = True  # the lag just fell: have it asked for again soon
            if self._lag_wake is not None:
                self._lag_wake.set()

    def _follow_assignment(self, consumer: Consumer) -> None:
        owned = consumer.assignment()
        if owned != self._owned:
            self._owned = set(owned)
            _log.info(
                "stage %s: assigned partitions %s",
                self.stage.name,
                ", ".join(f"{t}[{p}]" for t, p in sorted(owned)) or "(none)",
            )
        lost, dropped = self._ledger.drop_lost(owned)
        if not lost:
            return
        for tp in lost:
            self._pending.pop(tp, None)
        _log.info(
            "stage %s: lost %d partition(s); %d uncommitted record(s) will be delivered elsewhere",
            self.stage.name,
            len(lost),
            dropped,
        )

    def _finish(self, consumer: Consumer) -> None:
        self._ledger.wait_handlers()
        try:
            self._commit_ready(consumer)
        except Exception as err:
            _log.warning(
                "stage %s: final commit failed (%s); finished records will be delivered again",
                self.stage.name,
                type(err).__name__,
            )
        try:
            consumer.close()
        except Exception as err:
            _log.warning(
                "stage %s: leaving the group failed (%s)", self.stage.name, type(err).__name__
            )
        left = self._ledger.drop_all()
        if left:
            _log.info(
                "stage %s: stopped with %d uncommitted record(s); they will be delivered again",
                self.stage.name,
                left,
            )

    # -- handler threads -------------------------------------------------------------------

    def _gather(self, work: list[Item]) -> tuple[list[Item], list[Item] | None]:
        """``work`` with the fresh batches queued behind it, up to ``_BATCH_CHUNK`` (a handler
        that fell behind then handles several polls in one call); the first batch that did
        not fit comes back to be handled next."""
        gathered = list(work)
        while len(gathered) < _BATCH_CHUNK:
            try:
                more = self._queue.get_nowait()
            except queue.Empty:
                break
            if more is None:  # a handler's stop: back in the queue, after this batch
                self._queue.put(None)
                break
            if not _fresh(more) or len(gathered) + len(more) > _BATCH_CHUNK:
                return gathered, more
            gathered.extend(more)
        return gathered, None

    def _dispatch(self, items: list[Item]) -> None:
        """Queue items for the handler threads: one each, or in chunks for ``handle_batch``."""
        items = [i for i in items if not i.ticket.dropped]
        if self.stage.handle_batch is None:
            for item in items:
                self._queue.put([item])
            return
        fresh = [i for i in items if i.dead is None]
        for item in items:
            if item.dead is not None:
                self._queue.put([item])
        for start in range(0, len(fresh), _BATCH_CHUNK):
            self._queue.put(fresh[start : start + _BATCH_CHUNK])

    def _handler_loop(self) -> None:
        held: list[Item] | None = None
        try:
            while True:
                work = held if held is not None else self._queue.get()
                held = None
                if work is None or self._ledger.out_of_time():
                    return  # stopped; past the deadline the rest stays uncommitted
                if self.stage.handle_batch is not None and _fresh(work):
                    work, held = self._gather(work)
                live = [i for i in work if not i.ticket.dropped]
                if not live:
                    continue
                try:
                    self._attempts.run(live)
                except Exception:
                    _log.exception("stage %s: runtime error while handling", self.stage.name)
        finally:
            self._ledger.handler_exited()
