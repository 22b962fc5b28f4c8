"""In-process event log: partitions, consumer groups and committed offsets in memory.

For unit tests and single-process tools. Thread-safe; nothing survives the process."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Self

from nunchi.bus._common import (
    assign_partitions,
    check_group,
    check_message,
    check_partitions,
    check_poll_args,
    check_topic_name,
    check_topics,
    commit_positions,
    partition_for_key,
)
from nunchi.bus.base import Bus, Consumer, Message, Record
from nunchi.errors import BusError, NotFound

__all__ = ["MemoryBus", "MemoryConsumer"]


@dataclass
class _Topic:
    partitions: list[list[Record]]
    round_robin: itertools.count[int] = field(default_factory=itertools.count)


@dataclass
class _Group:
    members: dict[str, list[str]] = field(default_factory=dict)
    """member id -> subscribed topics, in join order."""
    generation: int = 0
    assignment: dict[str, set[tuple[str, int]]] = field(default_factory=dict)


class MemoryBus(Bus):
    """A thread-safe in-memory :class:`Bus`.

    One lock guards everything; a condition on it wakes pollers when records arrive or a
    group rebalances, so ``poll`` blocks without busy waiting."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._topics: dict[str, _Topic] = {}
        self._groups: dict[str, _Group] = {}
        self._committed: dict[tuple[str, str, int], int] = {}
        self._closed = False

    # -- topics and publishing -------------------------------------------------------------

    def ensure_topic(self, name: str, partitions: int = 1) -> None:
        """Create the topic with ``partitions`` partitions if it does not exist."""
        check_topic_name(name)
        check_partitions(partitions)
        with self._cond:
            self._check_open()
            if name not in self._topics:
                self._topics[name] = _Topic([[] for _ in range(partitions)])

    def partitions(self, topic: str) -> int:
        """How many partitions ``topic`` has; NotFound if it does not exist."""
        with self._cond:
            return len(self._topic(topic).partitions)

    def publish_batch(self, messages: Sequence[Message]) -> None:
        """Append all messages atomically (all or none)."""
        checked = [check_message(m) for m in messages]
        if not checked:
            return
        now = time.time()
        with self._cond:
            self._check_open()
            for message in checked:
                self._topic(message.topic)  # every topic exists before anything is appended
            for message in checked:
                topic = self._topics[message.topic]
                count = len(topic.partitions)
                if message.key is None:
                    partition = next(topic.round_robin) % count
                else:
                    partition = partition_for_key(message.key, count)
                log = topic.partitions[partition]
                log.append(
                    Record(
                        topic=message.topic,
                        partition=partition,
                        offset=len(log),
                        value=message.value,
                        key=message.key,
                        headers=dict(message.headers),
                        timestamp=now,
                    )
                )
            self._cond.notify_all()

    # -- consumers -------------------------------------------------------------------------

    def consumer(self, group: str, topics: Sequence[str]) -> MemoryConsumer:
        """Join ``group`` as a new member subscribed to ``topics`` (which must exist)."""
        check_group(group)
        names = check_topics(topics)
        with self._cond:
            self._check_open()
            for name in names:
                self._topic(name)
            member_id = f"{group}-{uuid.uuid4().hex[:12]}"
            state = self._groups.setdefault(group, _Group())
            state.members[member_id] = names
            self._rebalance(state)
            self._cond.notify_all()
        return MemoryConsumer(self, group, member_id, names)

    def lag(self, group: str, topic: str) -> int | None:
        """Records in ``topic`` not yet committed by ``group``."""
        with self._cond:
            logs = self._topic(topic).partitions
            return sum(
                len(log) - self._committed.get((group, topic, partition), 0)
                for partition, log in enumerate(logs)
            )

    def __enter__(self) -> Self:
        """Use as a context manager; ``close()`` on exit."""
        return self

    def close(self) -> None:
        """Stop accepting work; pollers wake up and return what they have."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # -- internals used by MemoryConsumer (call with the lock held) --------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise BusError("this MemoryBus is closed")

    def _topic(self, name: str) -> _Topic:
        try:
            return self._topics[name]
        except KeyError:
            raise NotFound(
                f"topic {name!r} does not exist: call bus.ensure_topic({name!r}, partitions) first"
            ) from None

    def _rebalance(self, group: _Group) -> None:
        counts = {name: len(t.partitions) for name, t in self._topics.items()}
        group.assignment = assign_partitions(list(group.members.items()), counts)
        group.generation += 1

    def _leave(self, group_name: str, member_id: str) -> None:
        group = self._groups.get(group_name)
        if group is None or member_id not in group.members:
            return
        del group.members[member_id]
        self._rebalance(group)
        self._cond.notify_all()


class MemoryConsumer(Consumer):
    """A member of a :class:`MemoryBus` consumer group."""

    def __init__(self, bus: MemoryBus, group: str, member_id: str, topics: list[str]) -> None:
        self._bus = bus
        self._group = group
        self.member_id = member_id
        """This member's id within its group."""
        self.topics = tuple(topics)
        """The topics this member subscribed to."""
        self._positions: dict[tuple[str, int], int] = {}
        self._generation = -1
        self._rotation = 0
        self._closed = False

    def _sync(self) -> set[tuple[str, int]]:
        """Follow the group's current assignment (lock held); return the owned partitions."""
        state = self._bus._groups[self._group]
        owned = state.assignment.get(self.member_id, set())
        if state.generation != self._generation:
            self._generation = state.generation
            for tp in list(self._positions):
                if tp not in owned:
                    del self._positions[tp]
            for tp in owned:
                if tp not in self._positions:
                    self._positions[tp] = self._bus._committed.get((self._group, *tp), 0)
        return owned

    def _take(self, max_records: int) -> list[Record]:
        owned = sorted(self._sync())
        if not owned:
            return []
        self._rotation = (self._rotation + 1) % len(owned)
        order = owned[self._rotation :] + owned[: self._rotation]
        out: list[Record] = []
        for tp in order:
            log = self._bus._topics[tp[0]].partitions[tp[1]]
            start = self._positions[tp]
            batch = log[start : start + max_records - len(out)]
            if batch:
                out.extend(batch)
                self._positions[tp] = start + len(batch)
                if len(out) >= max_records:
                    break
        return out

    def poll(self, max_records: int = 500, timeout: float = 1.0) -> list[Record]:
        """Up to ``max_records`` records from owned partitions, waiting up to ``timeout``."""
        max_records, timeout = check_poll_args(max_records, timeout)
        deadline = time.monotonic() + timeout
        with self._bus._cond:
            self._check_open()
            while True:
                records = self._take(max_records)
                if records or self._bus._closed:
                    return records
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._bus._cond.wait(remaining)

    def commit(self, records: Sequence[Record]) -> None:
        """Store ``max(offset) + 1`` per owned partition of ``records``."""
        positions = commit_positions(records)
        with self._bus._cond:
            self._check_open()
            owned = self._sync()
            for tp, offset in positions.items():
                if tp in owned:
                    self._bus._committed[(self._group, *tp)] = offset

    def assignment(self) -> set[tuple[str, int]]:
        """The ``(topic, partition)`` pairs this member owns right now."""
        with self._bus._cond:
            if self._closed:
                return set()
            return set(self._sync())

    def __enter__(self) -> Self:
        """Use as a context manager; ``close()`` on exit."""
        return self

    def close(self) -> None:
        """Leave the group; the remaining members take over its partitions."""
        with self._bus._cond:
            if self._closed:
                return
            self._closed = True
            self._bus._leave(self._group, self.member_id)

    def _check_open(self) -> None:
        if self._closed:
            raise BusError("this consumer is closed")
