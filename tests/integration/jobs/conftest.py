"""Fixtures for the jobs tests: a migrated database (SQLite and PostgreSQL), a MemoryBus,
a registry whose echo kind retries fast, and a JobService on them."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine

from nunchi.bus.base import Bus, Record
from nunchi.bus.memory import MemoryBus
from nunchi.config import Settings
from nunchi.jobs.kinds import KindRegistry, echo_kind
from nunchi.jobs.service import JobService
from nunchi.runtime.stage import RetryPolicy
from nunchi.store.db import create_engine_for, migrate, session_factory

FAST_RETRY = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05, jitter=0.0)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A freshly migrated database."""
    eng = create_engine_for(db_url)
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def bus() -> Iterator[MemoryBus]:
    """A fresh in-memory bus."""
    b = MemoryBus()
    yield b
    b.close()


@pytest.fixture
def registry() -> KindRegistry:
    """``diagnostic.echo`` with 3 attempts and ~10 ms backoff."""
    return KindRegistry([echo_kind(retry=FAST_RETRY, concurrency=2)])


@pytest.fixture
def settings() -> Settings:
    """Settings for the service (no file paths are used: bus and store are injected)."""
    return Settings(max_batch_items=20_000, default_partitions=2)


@pytest.fixture
def service(
    engine: Engine, bus: MemoryBus, registry: KindRegistry, settings: Settings
) -> JobService:
    """A JobService on the fresh database and bus."""
    return JobService(session_factory(engine), bus, registry, settings)


def drain(bus: Bus, topic: str, expect: int | None = None, timeout: float = 5.0) -> list[Record]:
    """Every record on ``topic`` (read by a brand-new consumer group). With ``expect``, keep
    reading until that many arrived or ``timeout`` passed."""
    if topic not in _topics(bus):
        bus.ensure_topic(topic, 2)
    records: list[Record] = []
    deadline = time.monotonic() + timeout
    with bus.consumer(f"test-{uuid.uuid4().hex}", [topic]) as consumer:
        while True:
            got = consumer.poll(max_records=5000, timeout=0.05)
            records.extend(got)
            if expect is None and not got:
                break
            if expect is not None and (len(records) >= expect or time.monotonic() > deadline):
                break
    return records


def _topics(bus: Bus) -> set[str]:
    try:
        return set(getattr(bus, "_topics", {}))
    except Exception:  # pragma: no cover - other backends
        return set()


def wait_for(condition: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    """Poll ``condition`` until true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)
