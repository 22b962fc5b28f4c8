"""KafkaBus without a broker: input checks and error translation (the contract suite in
tests/integration/bus covers the behaviour against a real broker)."""

from __future__ import annotations

import socket
import time

import pytest

from nunchi.bus import open_bus
from nunchi.bus.kafka import KafkaBus
from nunchi.errors import BusUnavailable, InvalidInput


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nobody listens once the socket is closed


@pytest.mark.parametrize("bootstrap", ["", "localhost", " , "])
def test_bad_bootstrap_is_refused(bootstrap: str) -> None:
    with pytest.raises(InvalidInput, match="host:port"):
        KafkaBus(bootstrap)


def test_open_bus_kafka_url() -> None:
    bus = open_bus("kafka://127.0.0.1:9092,127.0.0.1:9093")
    assert isinstance(bus, KafkaBus)
    assert bus.bootstrap == "127.0.0.1:9092,127.0.0.1:9093"
    bus.close()


def test_unreachable_broker_raises_bus_unavailable_in_time() -> None:
    with KafkaBus(f"127.0.0.1:{_closed_port()}", timeout=1.0) as bus:
        start = time.monotonic()
        with pytest.raises(BusUnavailable, match="unreachable"):
            bus.ensure_topic("t", 1)
        with pytest.raises(BusUnavailable):
            bus.publish("t", b"x")
        assert time.monotonic() - start < 10
