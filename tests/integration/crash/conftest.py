"""Fixtures of the crash tests: a Kafka-protocol broker of their own.

The job topics and consumer groups have fixed names (``jobs.diagnostic.echo.requested``,
``nunchi.jobs.diagnostic.echo``), so a test that runs real workers can only own its topics
and groups on a broker of its own: each test gets a fresh Tansu (it starts in well under a
second) with memory storage.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.kafka import running_tansu

__all__ = ["private_kafka_url"]


@pytest.fixture
def private_kafka_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A brand-new Tansu broker on loopback for this test; yields ``kafka://127.0.0.1:PORT``."""
    with running_tansu(tmp_path_factory.mktemp("tansu") / "tansu.log") as url:
        yield url
