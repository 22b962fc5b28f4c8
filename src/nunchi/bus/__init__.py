"""The event log: one small interface, three backends (memory, sqlite, kafka)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nunchi.bus.base import Bus, Consumer, Message, Record
from nunchi.bus.topics import dlq_topic, is_dlq

if TYPE_CHECKING:
    from nunchi.config import Settings

__all__ = [
    "Bus",
    "Consumer",
    "Message",
    "Record",
    "dlq_topic",
    "is_dlq",
    "open_bus",
    "open_configured_bus",
]


def open_configured_bus(settings: Settings) -> Bus:
    """The event log named by ``settings`` (``bus_url``, ``bus_retention_hours``)."""
    return open_bus(settings.bus_url, retention_hours=settings.bus_retention_hours)


def open_bus(url: str, *, retention_hours: float = 0.0) -> Bus:
    """Open the backend named by ``url``: ``memory://``, ``sqlite:///path/bus.db`` or
    ``kafka://host:port[,host:port][?property=value&...]``.

    ``retention_hours`` (``sqlite://`` only; 0 keeps everything): delete records older than
    this once every consumer group still reading their topic has committed them (see
    :class:`~nunchi.bus.sqlite.SqliteBus`). The memory bus keeps everything; Kafka's retention
    is the broker's ``retention.ms``.

    Query parameters of a Kafka URL are librdkafka properties: ``consumer.NAME=VALUE`` applies
    to consumers only, ``producer.NAME=VALUE`` to producers only, and any other name to every
    client (e.g. ``kafka://broker:9092?client.id=worker-7&consumer.session.timeout.ms=6000``).
    Values are percent-decoded. :class:`~nunchi.errors.InvalidInput` for an unknown scheme or a
    malformed, empty or repeated parameter; an unknown property fails when the first client
    is created."""
    from nunchi.errors import InvalidInput

    if not retention_hours >= 0:
        raise InvalidInput(
            f"retention_hours must be >= 0 (0 keeps everything), got {retention_hours}"
        )
    if url.startswith("memory://"):
        from nunchi.bus.memory import MemoryBus

        return MemoryBus()
    if url.startswith("sqlite:///"):
        from nunchi.bus.sqlite import SqliteBus

        retention = retention_hours * 3600 if retention_hours else None
        return SqliteBus(url.removeprefix("sqlite:///"), retention_seconds=retention)
    if url.startswith("kafka://"):
        from nunchi.bus.kafka import KafkaBus

        bootstrap, _, query = url.removeprefix("kafka://").partition("?")
        common, producer, consumer = _kafka_properties(query)
        return KafkaBus(
            bootstrap, config=common, producer_config=producer, consumer_config=consumer
        )
    from nunchi.urls import redact_url

    raise InvalidInput(
        f"unknown bus URL {redact_url(url)!r}: use memory://, sqlite:///PATH or kafka://HOST:PORT"
    )


def _kafka_properties(query: str) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Split a Kafka URL's query into (every client, producers, consumers) properties."""
    from urllib.parse import unquote

    from nunchi.errors import InvalidInput

    common: dict[str, str] = {}
    producer: dict[str, str] = {}
    consumer: dict[str, str] = {}
    seen: set[str] = set()
    for part in query.split("&") if query else []:
        name, eq, raw = part.partition("=")
        name = unquote(name).strip()
        value = unquote(raw)
        if not eq or not name or not value:
            raise InvalidInput(
                f"bad Kafka URL parameter {unquote(part)[:60]!r}: write property=value, e.g."
                " kafka://host:9092?consumer.session.timeout.ms=6000"
            )
        if name in seen:
            raise InvalidInput(f"Kafka URL parameter {name!r} is given twice")
        seen.add(name)
        if name.startswith("consumer."):
            consumer[name.removeprefix("consumer.")] = value
        elif name.startswith("producer."):
            producer[name.removeprefix("producer.")] = value
        else:
            common[name] = value
    return common, producer, consumer
