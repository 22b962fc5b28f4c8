"""Fixtures for the web tests: a real store (SQLite in tmp_path, migrated), a MemoryBus, the
real JobService, WebhookService and KeyService, and apps built by the real factory."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from nunchi.bus.memory import MemoryBus
from nunchi.config import Settings
from nunchi.jobs.kinds import KindRegistry, echo_kind
from nunchi.jobs.service import JobService
from nunchi.jobs.webhooks import WebhookService
from nunchi.runtime.stage import RetryPolicy
from nunchi.store.store import Store, open_store
from nunchi.web.app import create_app
from nunchi.web.keys import KeyService
from nunchi.web.services import AppServices, bus_check, database_check

FAST_RETRY = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02)


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    """Poll ``condition`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(0.02)


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings isolated from the environment and .env, with data under ``tmp_path``."""
    values: dict[str, Any] = {"data_dir": tmp_path / "data", "bus_url": "memory://"}
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A migrated SQLite store of this test's own."""
    s = open_store(make_settings(tmp_path))
    yield s
    s.close()


@pytest.fixture
def keys(store: Store) -> KeyService:
    """The key service on this test's store."""
    return KeyService(store.sessions)


@pytest.fixture
def registry() -> KindRegistry:
    """The echo kind with quick retries (2 attempts), so failures settle fast."""
    return KindRegistry([echo_kind(retry=FAST_RETRY)])


@pytest.fixture
def bus() -> MemoryBus:
    """A fresh in-memory bus."""
    return MemoryBus()


@pytest.fixture
def services(store: Store, bus: MemoryBus, registry: KindRegistry, tmp_path: Path) -> AppServices:
    """Real services on this test's store and bus."""
    # Loopback callback URLs allowed: the webhook page tests deliver to a local receiver.
    allow = make_settings(tmp_path, outbound_allow_hosts=["127.0.0.1/32"])
    jobs = JobService(store.sessions, bus, registry, allow)
    return AppServices(
        jobs=jobs,
        webhooks=WebhookService(store.sessions, bus),
        keys=KeyService(store.sessions),
        sessions=store.sessions,
        bus=bus,
        readiness={"database": database_check(store.sessions), "bus": bus_check(bus)},
    )


AppFactory = Callable[..., FastAPI]


@pytest.fixture
def make_app(tmp_path: Path, services: AppServices) -> AppFactory:
    """Build an app with the real factory; keyword arguments override settings."""

    def build(**overrides: Any) -> FastAPI:
        return create_app(make_settings(tmp_path, **overrides), services=services)

    return build


@pytest.fixture
def client(make_app: AppFactory) -> Iterator[TestClient]:
    """A client of an app with auth enabled (the default)."""
    with TestClient(make_app(), raise_server_exceptions=False, base_url="http://localhost") as c:
        yield c


@pytest.fixture
def open_client(make_app: AppFactory) -> Iterator[TestClient]:
    """A client of an app with auth disabled."""
    with TestClient(
        make_app(auth_disabled=True), raise_server_exceptions=False, base_url="http://localhost"
    ) as c:
        yield c
