"""Which offsets a stage may commit: only up to the lowest record it has not finished.

Records of one partition may finish out of order (several handler threads, retries waiting
on a delay). The tracker keeps every polled record of a partition in poll order and hands
out a commit position only over a contiguous run of finished records, so a commit never
skips a record whose effect is not yet durable. Not thread-safe: the caller locks.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from nunchi.bus.base import Record

__all__ = ["OffsetTracker", "Ticket", "TopicPartition"]

TopicPartition = tuple[str, int]


@dataclass(eq=False, slots=True)
class Ticket:
    """One polled record being worked on. ``done`` once handled or dead-lettered;
    ``dropped`` once its partition was taken away (its work no longer counts)."""

    record: Record
    done: bool = False
    dropped: bool = False


class OffsetTracker:
    """Polled-but-uncommitted records per partition, and the commit positions they allow."""

    def __init__(self) -> None:
        self._open: dict[TopicPartition, deque[Ticket]] = {}
        self._tail: dict[TopicPartition, int] = {}
        """Highest offset added per partition (detects a rewind to the committed offset)."""
        self._taken: dict[TopicPartition, int] = {}
        """Highest offset handed out for commit per partition (commits never go backwards)."""
        self._count = 0

    def __len__(self) -> int:
        """Records polled and not yet handed out for commit (the in-flight count)."""
        return self._count

    def add(self, record: Record) -> tuple[Ticket, int]:
        """Track a freshly polled record. Returns its ticket and how many tickets of the same
        partition were dropped because the consumer rewound (redelivery from the committed
        offset after losing and regaining the partition)."""
        tp = (record.topic, record.partition)
        dropped = 0
        tail = self._tail.get(tp)
        if tail is not None and record.offset <= tail:
            dropped = self._drop_open(tp)
        self._tail[tp] = record.offset
        ticket = Ticket(record)
        self._open.setdefault(tp, deque()).append(ticket)
        self._count += 1
        return ticket, dropped

    @staticmethod
    def finish(ticket: Ticket) -> None:
        """Mark a ticket's record finished (a dropped ticket stays out of the count)."""
        ticket.done = True

    def take_committable(self) -> list[Record]:
        """For each partition, the last record of the leading run of finished records, if
        that moves the partition's commit position forward. Those records leave the tracker."""
        out: list[Record] = []
        for tp, tickets in self._open.items():
            last: Ticket | None = None
            while tickets and tickets[0].done:
                last = tickets.popleft()
                self._count -= 1
            if last is not None and last.record.offset > self._taken.get(tp, -1):
                self._taken[tp] = last.record.offset
                out.append(last.record)
        return out

    def partitions(self) -> set[TopicPartition]:
        """Partitions with tracked records or a commit position."""
        return set(self._open) | set(self._taken)

    def drop(self, partitions: Iterable[TopicPartition]) -> int:
        """Forget partitions this member no longer owns; returns how many tickets were dropped."""
        dropped = 0
        for tp in partitions:
            dropped += self._drop_open(tp)
            self._open.pop(tp, None)
            self._tail.pop(tp, None)
            self._taken.pop(tp, None)
        return dropped

    def lowest_unfinished(self, tp: TopicPartition) -> int | None:
        """Offset of the first unfinished record of ``tp``, or None if all are finished."""
        for ticket in self._open.get(tp, ()):
            if not ticket.done:
                return ticket.record.offset
        return None

    def _drop_open(self, tp: TopicPartition) -> int:
        tickets = self._open.get(tp)
        if not tickets:
            return 0
        for ticket in tickets:
            ticket.dropped = True
        n = len(tickets)
        tickets.clear()
        self._count -= n
        return n
