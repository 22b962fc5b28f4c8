"""Helpers for the runtime tests: fresh names, waiting on a condition, reading a topic."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence

from nunchi.bus.base import Bus, Consumer, Message, Record
from nunchi.bus.topics import is_dlq
from nunchi.errors import BusUnavailable

__all__ = ["FaultyBus", "FaultyConsumer", "drain", "fresh_name", "holds_for", "wait_for"]


def fresh_name(prefix: str) -> str:
    """A topic/group/stage name no other test uses."""
    return f"{prefix}.{uuid.uuid4().hex[:10]}"


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Wait until ``predicate()`` holds, failing the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.005)


def holds_for(predicate: Callable[[], bool], seconds: float) -> bool:
    """Whether ``predicate()`` stays true for ``seconds`` (for "this must not happen" checks)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not predicate():
            return False
        time.sleep(0.005)
    return predicate()


def drain(bus: Bus, topic: str, count: int, timeout: float = 10.0) -> list[Record]:
    """Read ``count`` records of ``topic`` with a fresh consumer group (fails if fewer come)."""
    consumer = bus.consumer(fresh_name("reader"), [topic])
    out: list[Record] = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"read {len(out)} of {count} records from {topic}")
            out.extend(consumer.poll(count - len(out), 0.05))
    finally:
        consumer.close()
    return out


class FaultyConsumer(Consumer):
    """A real consumer whose first ``poll_failures`` polls raise BusUnavailable and which
    sets ``closed`` when it leaves its group."""

    def __init__(self, inner: Consumer, poll_failures: int) -> None:
        self.inner = inner
        self.poll_failures = poll_failures
        self.closed = threading.Event()

    def poll(self, max_records: int = 500, timeout: float = 1.0) -> list[Record]:
        """Fail while failures are left, then poll the real consumer."""
        if self.poll_failures > 0:
            self.poll_failures -= 1
            raise BusUnavailable("injected: broker unreachable")
        return self.inner.poll(max_records, timeout)

    def commit(self, records: Sequence[Record]) -> None:
        """Commit on the real consumer."""
        self.inner.commit(records)

    def assignment(self) -> set[tuple[str, int]]:
        """The real consumer's assignment."""
        return self.inner.assignment()

    def close(self) -> None:
        """Close the real consumer and note it."""
        self.inner.close()
        self.closed.set()


class FaultyBus(Bus):
    """A real bus with injected faults: consumers fail their first polls, and publishing to
    a dead-letter topic fails ``dlq_failures`` times."""

    def __init__(self, inner: Bus, *, poll_failures: int = 0, dlq_failures: int = 0) -> None:
        self.inner = inner
        self.poll_failures = poll_failures
        self.dlq_failures = dlq_failures
        self.consumers: list[FaultyConsumer] = []
        self._lock = threading.Lock()

    def ensure_topic(self, name: str, partitions: int = 1) -> None:
        """Create the topic on the real bus."""
        self.inner.ensure_topic(name, partitions)

    def publish_batch(self, messages: Sequence[Message]) -> None:
        """Publish on the real bus unless a dead-letter failure is due."""
        with self._lock:
            if self.dlq_failures > 0 and any(is_dlq(m.topic) for m in messages):
                self.dlq_failures -= 1
                raise BusUnavailable("injected: dead-letter publish failed")
        self.inner.publish_batch(messages)

    def consumer(self, group: str, topics: Sequence[str]) -> FaultyConsumer:
        """A faulty wrapper around a real consumer."""
        consumer = FaultyConsumer(self.inner.consumer(group, topics), self.poll_failures)
        self.consumers.append(consumer)
        return consumer

    def partitions(self, topic: str) -> int:
        """Partitions of the topic on the real bus."""
        return self.inner.partitions(topic)

    def lag(self, group: str, topic: str) -> int | None:
        """Lag on the real bus."""
        return self.inner.lag(group, topic)
