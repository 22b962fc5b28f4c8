"""Logic the backends share: input checks, key partitioning and partition assignment."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Mapping, Sequence

from nunchi.bus.base import Message, Record
from nunchi.errors import InvalidInput

__all__ = [
    "assign_partitions",
    "check_group",
    "check_message",
    "check_partitions",
    "check_poll_args",
    "check_topic_name",
    "check_topics",
    "commit_positions",
    "partition_for_key",
]

_TOPIC_RE = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


def check_topic_name(name: object) -> str:
    """Return ``name`` if it is a valid topic name, else raise InvalidInput saying why.

    The rules are Kafka's (ASCII letters, digits, ``.``, ``_``, ``-``; 1-249 characters) so
    a topic that works on one backend works on all of them."""
    if not isinstance(name, str):
        raise InvalidInput(f"topic name must be a str, got {type(name).__name__}")
    if not _TOPIC_RE.fullmatch(name) or name in {".", ".."}:
        raise InvalidInput(
            f"invalid topic name {name!r}: use 1-249 ASCII letters, digits, '.', '_' or '-'"
        )
    return name


def check_partitions(partitions: object) -> int:
    """Return ``partitions`` if it is a usable partition count, else raise InvalidInput."""
    if isinstance(partitions, bool) or not isinstance(partitions, int):
        raise InvalidInput(f"partitions must be an int, got {type(partitions).__name__}")
    if not 1 <= partitions <= 10_000:
        raise InvalidInput(f"partitions must be between 1 and 10000, got {partitions}")
    return partitions


def check_group(group: object) -> str:
    """Return ``group`` if it is a usable consumer group name, else raise InvalidInput."""
    if not isinstance(group, str) or not group or len(group) > 249:
        raise InvalidInput(
            f"consumer group must be a non-empty str of at most 249 characters, got {group!r}"
        )
    return group


def check_topics(topics: object) -> list[str]:
    """Return the de-duplicated topic list of a subscription, else raise InvalidInput."""
    if isinstance(topics, str | bytes) or not isinstance(topics, Sequence | set | frozenset):
        raise InvalidInput(
            f"topics must be a list of topic names, got {type(topics).__name__}"
            " (wrap a single topic in a list)"
        )
    names = [check_topic_name(t) for t in topics]
    if not names:
        raise InvalidInput("a consumer must subscribe to at least one topic")
    return list(dict.fromkeys(names))


def check_poll_args(max_records: object, timeout: object) -> tuple[int, float]:
    """Validate :meth:`Consumer.poll` arguments."""
    if isinstance(max_records, bool) or not isinstance(max_records, int) or max_records < 1:
        raise InvalidInput(f"max_records must be a positive int, got {max_records!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0:
        raise InvalidInput(f"timeout must be a number of seconds >= 0, got {timeout!r}")
    return max_records, float(timeout)


def check_message(message: object) -> Message:
    """Return ``message`` if its fields have the right types, else raise InvalidInput."""
    if not isinstance(message, Message):
        raise InvalidInput(f"expected a nunchi.bus.Message, got {type(message).__name__}")
    check_topic_name(message.topic)
    if not isinstance(message.value, bytes):
        raise InvalidInput(
            f"message value must be bytes, got {type(message.value).__name__} (encode it first)"
        )
    if message.key is not None and not isinstance(message.key, bytes):
        raise InvalidInput(f"message key must be bytes or None, got {type(message.key).__name__}")
    if not isinstance(message.headers, Mapping):
        raise InvalidInput(
            f"message headers must be a mapping of str to bytes,"
            f" got {type(message.headers).__name__}"
        )
    for name, value in message.headers.items():
        if not isinstance(name, str) or not isinstance(value, bytes):
            raise InvalidInput(
                f"message header {name!r} must map a str to bytes, got {type(value).__name__}"
            )
    return message


def partition_for_key(key: bytes, partitions: int) -> int:
    """The partition of ``key``: CRC32 modulo the partition count.

    This is librdkafka's default ``consistent_random`` partitioner for keyed messages, so a
    key lands in the same partition on every backend."""
    return zlib.crc32(key) % partitions


def commit_positions(records: Iterable[Record]) -> dict[tuple[str, int], int]:
    """``max(offset) + 1`` per ``(topic, partition)`` of ``records``."""
    positions: dict[tuple[str, int], int] = {}
    for record in records:
        if not isinstance(record, Record):
            raise InvalidInput(f"commit takes Records from poll, got {type(record).__name__}")
        tp = (record.topic, record.partition)
        positions[tp] = max(positions.get(tp, 0), record.offset + 1)
    return positions


def assign_partitions(
    members: Sequence[tuple[str, Iterable[str]]], partitions: Mapping[str, int]
) -> dict[str, set[tuple[str, int]]]:
    """Share partitions among group members, deterministically.

    ``members`` are ``(member_id, subscribed topics)`` in join order; ``partitions`` maps each
    topic to its partition count. Every partition of a subscribed topic goes to exactly one
    member subscribed to it, each to the eligible member holding the fewest so far (ties go to
    the earliest joined), so members with the same subscription differ by at most one."""
    subs = [(member, set(topics)) for member, topics in members]
    result: dict[str, set[tuple[str, int]]] = {member: set() for member, _ in subs}
    for topic in sorted(partitions):
        eligible = [member for member, topics in subs if topic in topics]
        if not eligible:
            continue
        for partition in range(partitions[topic]):
            owner = min(eligible, key=lambda m: len(result[m]))
            result[owner].add((topic, partition))
    return result
