"""The event log interface every backend implements.

A *topic* has a fixed number of partitions. Records with the same key land in the same
partition and are delivered in order within it. A *consumer group* shares a topic's
partitions among its members; each record is delivered to one member of the group,
at least once: a member commits a record only after its effect is durable, and a record
that was not committed is delivered again (to this member or, after a rebalance, another).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Self

__all__ = ["Bus", "Consumer", "Message", "Record"]


@dataclass(frozen=True, slots=True)
class Message:
    """Something to publish."""

    topic: str
    value: bytes
    key: bytes | None = None
    headers: Mapping[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Record:
    """A message as stored in the log, with its position."""

    topic: str
    partition: int
    offset: int
    value: bytes
    key: bytes | None = None
    headers: Mapping[str, bytes] = field(default_factory=dict)
    timestamp: float = 0.0
    """Seconds since the epoch when the record was appended."""


class Consumer(abc.ABC):
    """One member of a consumer group. Not thread-safe: use it from one thread."""

    @abc.abstractmethod
    def poll(self, max_records: int = 500, timeout: float = 1.0) -> list[Record]:
        """Return up to ``max_records`` records from the partitions this member owns,
        waiting up to ``timeout`` seconds for the first. Records come in offset order per
        partition. Records handed out but not committed are not handed out again by this
        member unless it loses and regains the partition (then delivery resumes from the
        last committed offset)."""

    @abc.abstractmethod
    def commit(self, records: Sequence[Record]) -> None:
        """Mark these records (and everything before them in their partitions) consumed:
        stores ``max(offset) + 1`` per partition for the group. Durable on return.
        Records of partitions this member no longer owns are ignored."""

    @abc.abstractmethod
    def assignment(self) -> set[tuple[str, int]]:
        """The ``(topic, partition)`` pairs this member owns right now."""

    @abc.abstractmethod
    def close(self) -> None:
        """Leave the group so others take over its partitions. Commits nothing."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Bus(abc.ABC):
    """A durable, partitioned event log."""

    @abc.abstractmethod
    def ensure_topic(self, name: str, partitions: int = 1) -> None:
        """Create the topic with ``partitions`` partitions if it does not exist.
        An existing topic keeps its partition count. Cheap once the bus has seen the topic
        (every backend remembers it), so callers may ensure before each publish."""

    @abc.abstractmethod
    def publish_batch(self, messages: Sequence[Message]) -> None:
        """Append all messages; durable when this returns. Topics must exist.
        Raises :class:`nunchi.errors.NotFound` for a topic that does not exist and
        :class:`nunchi.errors.BusError` on failure (then none or some were written;
        callers that need exactly-once effects dedupe downstream)."""

    def publish(
        self,
        topic: str,
        value: bytes,
        *,
        key: bytes | None = None,
        headers: Mapping[str, bytes] | None = None,
    ) -> None:
        """Append one message; durable when this returns."""
        self.publish_batch([Message(topic, value, key, dict(headers or {}))])

    @abc.abstractmethod
    def consumer(self, group: str, topics: Sequence[str]) -> Consumer:
        """Join ``group`` as a new member subscribed to ``topics``."""

    @abc.abstractmethod
    def partitions(self, topic: str) -> int:
        """How many partitions ``topic`` has (raises NotFound if it does not exist)."""

    def lag(self, group: str, topic: str) -> int | None:
        """Records in ``topic`` not yet committed by ``group``, or None if unknown."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
