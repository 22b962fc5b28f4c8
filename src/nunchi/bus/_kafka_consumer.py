"""A consumer group member on Kafka (confluent-kafka), and the translation of Kafka errors."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn, Self

from confluent_kafka import Consumer as _RdConsumer
from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition

from nunchi.bus._common import check_poll_args, commit_positions
from nunchi.bus.base import Consumer, Record
from nunchi.errors import BusError, BusUnavailable

__all__ = ["KafkaConsumer", "raise_bus_error", "to_record"]

log = logging.getLogger(__name__)

_UNAVAILABLE = {
    KafkaError._TRANSPORT,
    KafkaError._ALL_BROKERS_DOWN,
    KafkaError._TIMED_OUT,
    KafkaError._RESOLVE,
    KafkaError._MSG_TIMED_OUT,
    KafkaError.REQUEST_TIMED_OUT,
    KafkaError.NETWORK_EXCEPTION,
    KafkaError.BROKER_NOT_AVAILABLE,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
}
_LOST_GROUP = {
    KafkaError.REBALANCE_IN_PROGRESS,
    KafkaError.ILLEGAL_GENERATION,
    KafkaError.UNKNOWN_MEMBER_ID,
    KafkaError.FENCED_INSTANCE_ID,
    KafkaError._ASSIGNMENT_LOST,
    KafkaError._NO_OFFSET,
}
"""Commit errors that mean the member lost its partitions: the commit is ignored."""


def raise_bus_error(what: str, error: BaseException) -> NoReturn:
    """Raise the :class:`BusError` (or :class:`BusUnavailable`) for a Kafka failure."""
    kerr = error.args[0] if error.args and isinstance(error.args[0], KafkaError) else None
    if isinstance(error, KafkaError):
        kerr = error
    if kerr is not None and kerr.code() in _UNAVAILABLE:
        raise BusUnavailable(f"{what}: Kafka is unreachable ({kerr.str()})") from error
    detail = kerr.str() if kerr is not None else str(error)
    raise BusError(f"{what}: {detail}") from error


def to_record(message: Message) -> Record:
    """A confluent-kafka message as a :class:`Record`."""
    _, ts_ms = message.timestamp()
    headers: dict[str, bytes] = {}
    raw = message.headers() or []
    for name, item in raw.items() if isinstance(raw, dict) else raw:
        headers[name] = item.encode() if isinstance(item, str) else (item or b"")
    value = message.value()
    key = message.key()
    return Record(
        topic=message.topic() or "",
        partition=message.partition() or 0,
        offset=message.offset() or 0,
        value=value.encode() if isinstance(value, str) else (value or b""),
        key=key.encode() if isinstance(key, str) else key,
        headers=headers,
        timestamp=ts_ms / 1000.0 if ts_ms and ts_ms > 0 else 0.0,
    )


class KafkaConsumer(Consumer):
    """One member of a Kafka consumer group: manual, synchronous commits of explicit
    offsets; the assignment tracked through rebalance callbacks."""

    def __init__(self, config: Mapping[str, Any], group: str, topics: Sequence[str]) -> None:
        self.group = group
        """The consumer group this member belongs to."""
        self.topics = tuple(topics)
        """The topics this member subscribed to."""
        conf = {
            "auto.offset.reset": "earliest",
            "enable.partition.eof": False,
            "allow.auto.create.topics": False,
            **config,
            "group.id": group,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
        }
        self._owned: set[tuple[str, int]] = set()
        self._closed = False
        try:
            self._consumer = _RdConsumer(conf)
            self._consumer.subscribe(
                list(topics),
                on_assign=self._on_assign,
                on_revoke=self._on_revoke,
                on_lost=self._on_revoke,
            )
        except KafkaException as e:
            raise_bus_error(f"cannot join group {group!r}", e)

    def _on_assign(self, _consumer: object, partitions: list[TopicPartition]) -> None:
        self._owned |= {(tp.topic, tp.partition) for tp in partitions}

    def _on_revoke(self, _consumer: object, partitions: list[TopicPartition]) -> None:
        self._owned -= {(tp.topic, tp.partition) for tp in partitions}

    def poll(self, max_records: int = 500, timeout: float = 1.0) -> list[Record]:
        """Up to ``max_records`` records, waiting up to ``timeout`` for the first: one
        blocking ``consume`` for the first record, then what is already fetched."""
        max_records, timeout = check_poll_args(max_records, timeout)
        self._check_open()
        deadline = time.monotonic() + timeout
        out: list[Record] = []
        while len(out) < max_records:
            remaining = 0.0 if out else max(0.0, deadline - time.monotonic())
            want = max_records - len(out) if out else 1
            try:
                batch = self._consumer.consume(num_messages=want, timeout=remaining)
            except KafkaException as e:
                raise_bus_error("poll failed", e)
            for message in batch:
                error = message.error()
                if error is None:
                    out.append(to_record(message))
                elif error.code() == KafkaError._PARTITION_EOF:
                    continue
                elif error.fatal():
                    raise_bus_error("the consumer failed", KafkaException(error))
                else:
                    log.warning("consumer of group %s: %s", self.group, error.str())
            if not batch and (out or remaining <= 0):
                break
        return out

    def commit(self, records: Sequence[Record]) -> None:
        """Synchronously commit ``max(offset) + 1`` for the owned partitions of ``records``."""
        positions = commit_positions(records)
        self._check_open()
        owned = self.assignment()
        offsets = [
            TopicPartition(topic, partition, offset)
            for (topic, partition), offset in positions.items()
            if (topic, partition) in owned
        ]
        if not offsets:
            return
        try:
            result = self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as e:
            if e.args and isinstance(e.args[0], KafkaError) and e.args[0].code() in _LOST_GROUP:
                log.info("commit of group %s ignored: partitions were revoked", self.group)
                return
            raise_bus_error("commit failed", e)
        for tp in result or []:
            if tp.error is not None and tp.error.code() not in _LOST_GROUP:
                raise_bus_error(
                    f"commit of {tp.topic}[{tp.partition}] failed", KafkaException(tp.error)
                )

    def assignment(self) -> set[tuple[str, int]]:
        """The ``(topic, partition)`` pairs assigned to this member at the last rebalance."""
        return set() if self._closed else set(self._owned)

    def __enter__(self) -> Self:
        """Use as a context manager; ``close()`` on exit."""
        return self

    def close(self) -> None:
        """Leave the group (commits nothing); the others take over at the next rebalance."""
        if self._closed:
            return
        self._closed = True
        self._owned.clear()
        try:
            self._consumer.close()
        except (KafkaException, RuntimeError) as e:
            log.warning("closing the consumer of group %s: %s", self.group, e)

    def _check_open(self) -> None:
        if self._closed:
            raise BusError("this consumer is closed")
