"""``open_bus`` URL parameters for Kafka (librdkafka properties in the query string) and how
``nunchi worker`` shows a bus URL in its log (secrets masked)."""

from __future__ import annotations

import pytest

from nunchi.bus import open_bus
from nunchi.bus.kafka import KafkaBus
from nunchi.errors import BusError, InvalidInput
from nunchi.urls import redact_url


def test_query_parameters_reach_the_right_clients() -> None:
    bus = open_bus(
        "kafka://127.0.0.1:9092?client.id=worker-7&consumer.session.timeout.ms=6000"
        "&consumer.heartbeat.interval.ms=1000&producer.linger.ms=20&sasl.username=a%40b"
    )
    try:
        assert isinstance(bus, KafkaBus)
        assert bus.bootstrap == "127.0.0.1:9092"
        consumer = bus._consumer_config
        producer = bus._producer_config
        assert consumer["session.timeout.ms"] == "6000"
        assert consumer["heartbeat.interval.ms"] == "1000"
        assert "session.timeout.ms" not in producer
        assert producer["linger.ms"] == "20"
        assert "linger.ms" not in consumer
        for conf in (consumer, producer):
            assert conf["client.id"] == "worker-7"
            assert conf["sasl.username"] == "a@b"  # percent-decoded
        # What the backend relies on cannot be overridden from the URL.
        over = open_bus("kafka://h:1?producer.acks=0&producer.enable.idempotence=false")
        assert isinstance(over, KafkaBus)
        assert over._producer_config["acks"] == "all"
        assert over._producer_config["enable.idempotence"] is True
        over.close()
    finally:
        bus.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("kafka://h:1?session.timeout.ms", "property=value"),
        ("kafka://h:1?=6000", "property=value"),
        ("kafka://h:1?client.id=", "property=value"),
        ("kafka://h:1?client.id=a&client.id=b", "given twice"),
        ("kafka://?client.id=a", "host:port"),
    ],
)
def test_bad_query_is_refused_with_what_to_fix(url: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        open_bus(url)


def test_unknown_property_fails_when_a_client_is_made() -> None:
    with (
        open_bus("kafka://127.0.0.1:1?no.such.property=1") as bus,
        pytest.raises(BusError, match=r"no\.such\.property"),
    ):
        bus.ensure_topic("t", 1)


def test_logged_bus_url_hides_credentials_and_secret_parameters() -> None:
    shown = redact_url(
        "kafka://user:pw@b1:9092,b2:9092?sasl.username=me@x&sasl.password=hunter2"
        "&ssl.key.password=k&client.id=w1"
    )
    assert "pw" not in shown and "hunter2" not in shown and "=k&" not in shown
    assert shown == (
        "kafka://***@b1:9092,b2:9092?sasl.username=me@x&sasl.password=***"
        "&ssl.key.password=***&client.id=w1"
    )
    assert redact_url("sqlite:///data/bus.db") == "sqlite:///data/bus.db"


def test_unknown_bus_url_error_masks_credentials() -> None:
    with pytest.raises(InvalidInput, match=r"unknown bus URL 'redis://\*\*\*@host:6379'") as e:
        open_bus("redis://user:s3cr3t@host:6379")
    assert "s3cr3t" not in str(e.value)
