"""Running a stage's handler on records and settling each attempt's outcome.

An attempt ends one of three ways: the record is finished; it is scheduled for another
attempt after the policy's backoff; or it is published to the dead-letter topic (and only
then finished, so the commit never passes a record whose dead letter is not durable)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from nunchi.bus.base import Bus, Record
from nunchi.bus.topics import dlq_topic, is_dlq
from nunchi.runtime._ledger import Ledger
from nunchi.runtime._offsets import Ticket
from nunchi.runtime.deadletter import DeadLetter
from nunchi.runtime.failures import HandleBatchError, dead_letter_for, describe
from nunchi.runtime.metrics import StageMetrics
from nunchi.runtime.stage import Delivery, Stage, StageContext

__all__ = ["Attempts", "Item"]

_log = logging.getLogger("nunchi.runtime")


@dataclass(eq=False)
class Item:
    """A record on its way through the stage."""

    ticket: Ticket
    attempt: int = 1
    """The attempt to make next (1-based)."""
    dead: DeadLetter | None = None
    """Set once the record is to be dead-lettered (the publish may need retrying)."""
    dlq_tries: int = 0


class Attempts:
    """Makes attempts for one stage; ``retry_later(item, delay)`` parks an item for later
    (False when the stage is stopping, and the item is then abandoned, uncommitted)."""

    def __init__(
        self,
        stage: Stage,
        bus: Bus,
        ledger: Ledger,
        metrics: StageMetrics,
        retry_later: Callable[[Item, float], bool],
    ) -> None:
        self._stage = stage
        self._bus = bus
        self._ledger = ledger
        self._metrics = metrics
        self._retry_later = retry_later
        self._ctx = StageContext(stage=stage.name, bus=bus)
        # A stage on a dead-letter topic has no dead-letter topic of its own: its records are
        # retried (at the policy's longest delay) until they succeed, never dropped.
        self._dlq = None if is_dlq(stage.topic) else dlq_topic(stage.topic)

    def run(self, items: list[Item]) -> None:
        """Attempt ``items``: publish pending dead letters, run the handler on the rest."""
        for item in items:
            if item.dead is not None:
                self._publish_dead_letter(item, item.dead)
        todo = [i for i in items if i.dead is None]
        if not todo:
            return
        if self._stage.handle_batch is not None:
            self._run_batch(todo)
            return
        for item in todo:
            delivery = Delivery(item.ticket.record, item.attempt)
            started = time.perf_counter()
            error: BaseException | None = None
            try:
                self._stage.handle(delivery, self._ctx)
            except Exception as err:
                error = err
            self._metrics.latency.observe(time.perf_counter() - started)
            if error is None:
                self._ledger.finish([item.ticket], dead_lettered=False)
            else:
                self._failed(item, error)

    def _run_batch(self, items: list[Item]) -> None:
        assert self._stage.handle_batch is not None
        name = self._stage.name
        deliveries = [Delivery(i.ticket.record, i.attempt) for i in items]
        started = time.perf_counter()
        outcomes: list[object]
        try:
            outcomes = list(self._stage.handle_batch(deliveries, self._ctx))
        except Exception as err:
            outcomes = [err] * len(items)
        elapsed = (time.perf_counter() - started) / len(items)
        if len(outcomes) != len(items):
            bad = HandleBatchError(
                f"handle_batch of stage {name!r} returned {len(outcomes)} outcomes"
                f" for {len(items)} deliveries; return one (None or the error) per delivery"
            )
            outcomes = [bad] * len(items)
        succeeded: list[Ticket] = []
        for item, outcome in zip(items, outcomes, strict=True):
            self._metrics.latency.observe(elapsed)
            if outcome is None:
                succeeded.append(item.ticket)
            elif isinstance(outcome, BaseException):
                self._failed(item, outcome)
            else:
                self._failed(
                    item,
                    HandleBatchError(
                        f"handle_batch of stage {name!r} returned a {type(outcome).__name__}"
                        " outcome; return None or an exception"
                    ),
                )
        self._ledger.finish(succeeded, dead_lettered=False)  # one lock and wake-up per batch

    def _failed(self, item: Item, error: BaseException) -> None:
        """A failed attempt: schedule the next one, or dead-letter the record."""
        self._ledger.count_failure(describe(error))
        if self._should_retry(error, item.attempt):
            delay = self._retry_delay(item.attempt)
            item.attempt += 1
            if self._retry_later(item, delay):
                self._ledger.count_retry()
            return
        if self._dlq is None:
            _log.error(
                "stage %s: dead letter %s failed attempt %d (%s); retrying in %.0fs",
                self._stage.name,
                _where(item.ticket.record),
                item.attempt,
                type(error).__name__,
                self._stage.retry.max_delay,
            )
            item.attempt += 1
            if self._retry_later(item, float(self._stage.retry.max_delay)):
                self._ledger.count_retry()
            return
        item.dead = dead_letter_for(self._stage.name, item.ticket.record, error, item.attempt)
        self._publish_dead_letter(item, item.dead)

    def _should_retry(self, error: BaseException, attempt: int) -> bool:
        try:
            return self._stage.retry.should_retry(error, attempt)
        except Exception:
            _log.exception("stage %s: retry policy failed; dead-lettering", self._stage.name)
            return False

    def _retry_delay(self, attempt: int) -> float:
        policy = self._stage.retry
        try:
            return float(policy.delay(attempt))
        except Exception:  # e.g. OverflowError: the exponent went far past the cap
            return float(policy.max_delay)

    def _publish_dead_letter(self, item: Item, dead: DeadLetter) -> None:
        record = item.ticket.record
        where = f"{record.topic}[{record.partition}]@{record.offset}"
        try:
            assert self._dlq is not None
            self._bus.publish(self._dlq, dead.value, key=dead.key, headers=dead.headers())
        except Exception as err:
            item.dlq_tries += 1
            delay = min(30.0, 0.5 * 2.0 ** min(item.dlq_tries - 1, 10))
            self._ledger.note_error("dead-letter publish failed: " + describe(err))
            _log.warning(
                "stage %s: could not dead-letter %s (%s); retrying in %.1fs",
                self._stage.name,
                where,
                type(err).__name__,
                delay,
            )
            self._retry_later(item, delay)
            return
        self._ledger.finish([item.ticket], dead_lettered=True)
        _log.error(
            "stage %s: dead-lettered %s after %d attempt(s): %s",
            self._stage.name,
            where,
            dead.attempts,
            dead.error_type,
        )


def _where(record: Record) -> str:
    return f"{record.topic}[{record.partition}]@{record.offset}"
