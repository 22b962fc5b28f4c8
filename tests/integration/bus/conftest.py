"""The ``bus`` fixture: every contract test runs against memory, sqlite and kafka."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nunchi.bus import Bus
from nunchi.bus.kafka import KafkaBus
from nunchi.bus.memory import MemoryBus
from nunchi.bus.sqlite import SqliteBus
from tests.fixtures.kafka import KAFKA_TEST_CONSUMER_CONFIG

SQLITE_TEST_LEASE = 2.0
"""Lease of the sqlite backend in tests: a crashed member's partitions move after this."""


@pytest.fixture(
    params=["memory", "sqlite", pytest.param("kafka", marks=pytest.mark.kafka)],
)
def bus(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Bus]:
    """A fresh bus of each backend (Kafka: a client of the session's broker)."""
    backend: Bus
    if request.param == "memory":
        backend = MemoryBus()
    elif request.param == "sqlite":
        backend = SqliteBus(tmp_path / "bus.db", lease_seconds=SQLITE_TEST_LEASE)
    else:
        url: str = request.getfixturevalue("kafka_url")
        backend = KafkaBus(
            url.removeprefix("kafka://"), timeout=15.0, consumer_config=KAFKA_TEST_CONSUMER_CONFIG
        )
    with backend:
        yield backend
