"""Fixtures for the web tests: a real platform (every app, SQLite in tmp_path, migrated, a
MemoryBus), API keys on its store, and web apps built by the real factory around it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from nunchi.assembly import Platform, open_platform
from nunchi.bus.memory import MemoryBus
from nunchi.config import Settings
from nunchi.jobs.kinds import KindRegistry, echo_kind
from nunchi.runtime.stage import RetryPolicy
from nunchi.store.store import Store
from nunchi.web.app import create_app
from nunchi.web.keys import KeyService

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
def platform(tmp_path: Path) -> Iterator[Platform]:
    """A real platform (every app, a migrated SQLite store, a MemoryBus) of this test's own;
    its echo kind retries fast. Loopback callback URLs are allowed: the webhook page tests
    deliver to a local receiver."""
    settings = make_settings(tmp_path, outbound_allow_hosts=["127.0.0.1/32"])
    opened = open_platform(settings, core_kinds=[echo_kind(retry=FAST_RETRY)])
    yield opened
    opened.close()


@pytest.fixture
def store(platform: Platform) -> Store:
    """The platform's store."""
    return platform.core.store


@pytest.fixture
def keys(platform: Platform) -> KeyService:
    """API keys on the platform's store."""
    return KeyService(platform.sessions)


@pytest.fixture
def registry(platform: Platform) -> KindRegistry:
    """The platform's job kinds (the echo kind with quick retries, 2 attempts)."""
    return platform.core.registry


@pytest.fixture
def bus(platform: Platform) -> MemoryBus:
    """The platform's in-memory bus."""
    assert isinstance(platform.bus, MemoryBus)
    return platform.bus


AppFactory = Callable[..., FastAPI]


@pytest.fixture
def make_app(tmp_path: Path, platform: Platform) -> AppFactory:
    """Build an app with the real factory; keyword arguments override settings."""

    def build(**overrides: Any) -> FastAPI:
        return create_app(make_settings(tmp_path, **overrides), platform=platform)

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
