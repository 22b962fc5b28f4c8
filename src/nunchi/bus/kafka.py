"""The event log on Kafka (or any Kafka-protocol broker) through confluent-kafka.

Kafka exceptions are translated into :class:`~nunchi.errors.BusError` /
:class:`~nunchi.errors.BusUnavailable` here. Keyed messages go to ``crc32(key) % partitions``
(librdkafka's default, and what the other backends do), unkeyed ones round robin."""

from __future__ import annotations

import itertools
import logging
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from typing import Any, Self

from confluent_kafka import (
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec  # type: ignore[attr-defined]

from nunchi.bus._common import (
    check_group,
    check_message,
    check_partitions,
    check_topic_name,
    check_topics,
    partition_for_key,
)
from nunchi.bus._kafka_consumer import KafkaConsumer, raise_bus_error
from nunchi.bus.base import Bus, Message
from nunchi.errors import BusError, BusUnavailable, InvalidInput, NotFound

__all__ = ["KafkaBus", "KafkaConsumer"]

_librdkafka_log = logging.getLogger("nunchi.bus.kafka.librdkafka")


class KafkaBus(Bus):
    """A :class:`Bus` on a Kafka cluster.

    ``bootstrap``: ``host:port[,host:port]``. ``timeout``: seconds to wait for the cluster in
    admin calls and for publish deliveries. ``config`` applies to every client (e.g.
    security settings), ``producer_config`` and ``consumer_config`` to producers and
    consumers only (e.g. ``{"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000}``);
    the settings this backend relies on (idempotence, ``acks=all``, manual commits) cannot be
    overridden."""

    def __init__(
        self,
        bootstrap: str,
        *,
        timeout: float = 30.0,
        config: Mapping[str, Any] | None = None,
        producer_config: Mapping[str, Any] | None = None,
        consumer_config: Mapping[str, Any] | None = None,
        replication_factor: int = -1,
    ) -> None:
        hosts = [h.strip() for h in (bootstrap or "").split(",") if h.strip()]
        if not hosts or any(":" not in h for h in hosts):
            raise InvalidInput(
                f"Kafka bootstrap servers must be host:port[,host:port], got {bootstrap!r}"
            )
        if not timeout > 0:
            raise InvalidInput(f"timeout must be > 0 seconds, got {timeout}")
        self.bootstrap = ",".join(hosts)
        """The bootstrap servers."""
        self.timeout = float(timeout)
        self.replication_factor = replication_factor
        self._common: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap,
            "client.id": "nunchi",
            "logger": _librdkafka_log,  # librdkafka's own log lines go to Python logging
            **(config or {}),
        }
        self._producer_config: dict[str, Any] = {
            **self._common,
            "linger.ms": 5,
            "message.timeout.ms": int(self.timeout * 1000),
            **(producer_config or {}),
            "enable.idempotence": True,
            "acks": "all",
        }
        self._consumer_config: dict[str, Any] = {**self._common, **(consumer_config or {})}
        self._lock = threading.Lock()
        self._producer: Producer | None = None
        self._admin: AdminClient | None = None
        self._counts: dict[str, int] = {}
        self._round_robin: dict[str, itertools.count[int]] = {}
        self._consumers: weakref.WeakSet[KafkaConsumer] = weakref.WeakSet()
        self._closed = False

    # -- clients ---------------------------------------------------------------------------------

    def _admin_client(self) -> AdminClient:
        with self._lock:
            self._check_open()
            if self._admin is None:
                try:
                    self._admin = AdminClient(dict(self._common))
                except KafkaException as e:
                    raise_bus_error("cannot create the Kafka admin client", e)
            return self._admin

    def _producer_client(self) -> Producer:
        with self._lock:
            self._check_open()
            if self._producer is None:
                try:
                    self._producer = Producer(dict(self._producer_config))
                except KafkaException as e:
                    raise_bus_error("cannot create the Kafka producer", e)
            return self._producer

    def _check_open(self) -> None:
        if self._closed:
            raise BusError("this KafkaBus is closed")

    # -- topics ----------------------------------------------------------------------------------

    def ensure_topic(self, name: str, partitions: int = 1) -> None:
        """Create the topic with ``partitions`` partitions unless it exists; waits until the
        cluster's metadata shows it."""
        check_topic_name(name)
        check_partitions(partitions)
        if name in self._counts:
            return
        admin = self._admin_client()
        topic = NewTopic(
            name, num_partitions=partitions, replication_factor=self.replication_factor
        )
        try:
            future = admin.create_topics([topic], request_timeout=self.timeout)[name]
            future.result(timeout=self.timeout + 5)
        except KafkaException as e:
            error = e.args[0] if e.args else None
            if not (
                isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS
            ):
                raise_bus_error(f"cannot create topic {name!r}", e)
        except TimeoutError as e:
            raise BusUnavailable(f"creating topic {name!r} timed out after {self.timeout}s") from e
        deadline = time.monotonic() + self.timeout
        while (count := self._lookup(name)) is None:
            if time.monotonic() > deadline:
                raise BusUnavailable(f"topic {name!r} was created but its metadata never appeared")
            time.sleep(0.05)
        self._counts[name] = count

    def _lookup(self, name: str) -> int | None:
        """The topic's partition count from cluster metadata, None if unknown or not ready."""
        try:
            metadata = self._admin_client().list_topics(timeout=self.timeout)
        except KafkaException as e:
            raise_bus_error("cannot read the cluster metadata", e)
        topic = metadata.topics.get(name)
        if topic is None or topic.error is not None or not topic.partitions:
            return None
        if any(p.leader < 0 for p in topic.partitions.values()):
            return None
        return len(topic.partitions)

    def partitions(self, topic: str) -> int:
        """How many partitions ``topic`` has; NotFound if it does not exist."""
        count = self._counts.get(topic)
        if count is None:
            count = self._lookup(topic)
            if count is None:
                raise NotFound(
                    f"topic {topic!r} does not exist: call bus.ensure_topic({topic!r},"
                    " partitions) first"
                )
            self._counts[topic] = count
        return count

    # -- publishing ------------------------------------------------------------------------------

    def publish_batch(self, messages: Sequence[Message]) -> None:
        """Produce all messages, then flush; raises BusError if any delivery failed."""
        checked = [check_message(m) for m in messages]
        if not checked:
            return
        counts = {m.topic: self.partitions(m.topic) for m in checked}
        producer = self._producer_client()
        failures: list[KafkaError] = []

        def delivered(error: KafkaError | None, _message: object) -> None:
            if error is not None:
                failures.append(error)

        try:
            for m in checked:
                if m.key is not None:
                    partition = partition_for_key(m.key, counts[m.topic])
                else:
                    with self._lock:
                        rr = self._round_robin.setdefault(m.topic, itertools.count())
                        partition = next(rr) % counts[m.topic]
                headers: list[tuple[str, str | bytes | None]] | None = [
                    (name, value) for name, value in m.headers.items()
                ] or None
                while True:
                    try:
                        producer.produce(
                            m.topic,
                            value=m.value,
                            key=m.key,
                            partition=partition,
                            headers=headers,
                            on_delivery=delivered,
                        )
                        break
                    except BufferError:  # local queue full: let deliveries drain
                        producer.poll(0.05)
            left = producer.flush(self.timeout + 5)
        except KafkaException as e:
            raise_bus_error("publish failed", e)
        if left:
            raise BusUnavailable(f"{left} messages were not delivered within {self.timeout}s")
        if failures:
            raise_bus_error(
                f"{len(failures)} of {len(checked)} messages were not delivered",
                KafkaException(failures[0]),
            )

    # -- consuming -------------------------------------------------------------------------------

    def consumer(self, group: str, topics: Sequence[str]) -> KafkaConsumer:
        """Join ``group`` as a new member subscribed to ``topics`` (which must exist).

        The first poll takes part in the group's rebalance, which takes a few seconds."""
        check_group(group)
        names = check_topics(topics)
        for name in names:
            self.partitions(name)
        self._check_open()
        member = KafkaConsumer(self._consumer_config, group, names)
        self._consumers.add(member)
        return member

    def lag(self, group: str, topic: str) -> int | None:
        """Records in ``topic`` not yet committed by ``group``: end offsets minus committed
        offsets (approximate on brokers whose end offsets are approximate)."""
        count = self.partitions(topic)
        admin = self._admin_client()
        tps = [TopicPartition(topic, p) for p in range(count)]
        latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]
        earliest = OffsetSpec.earliest()  # type: ignore[no-untyped-call]
        try:
            request = ConsumerGroupTopicPartitions(group, tps)
            committed_future = admin.list_consumer_group_offsets(
                [request], request_timeout=self.timeout
            )[group]
            ends = admin.list_offsets({tp: latest for tp in tps}, request_timeout=self.timeout)
            starts = admin.list_offsets({tp: earliest for tp in tps}, request_timeout=self.timeout)
            committed = {
                tp.partition: tp.offset
                for tp in committed_future.result(timeout=self.timeout + 5).topic_partitions
            }
            total = 0
            for tp in tps:
                end = ends[tp].result(timeout=self.timeout + 5).offset
                start = starts[tp].result(timeout=self.timeout + 5).offset
                position = max(committed.get(tp.partition, -1), start, 0)
                total += max(0, end - position)
        except KafkaException as e:
            raise_bus_error(f"cannot compute the lag of group {group!r}", e)
        except TimeoutError as e:
            raise BusUnavailable(f"lag of group {group!r} timed out") from e
        return total

    def __enter__(self) -> Self:
        """Use as a context manager; ``close()`` on exit."""
        return self

    def close(self) -> None:
        """Flush the producer and close the consumers this bus opened."""
        for member in list(self._consumers):
            member.close()
        with self._lock:
            if self._closed:
                return
            self._closed = True
            producer, self._producer = self._producer, None
            self._admin = None
        if producer is not None:
            producer.flush(self.timeout)
