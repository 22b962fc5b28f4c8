"""Fixtures for webhook tests: a migrated database (SQLite, then PostgreSQL), settings with a
fast retry schedule that allow the loopback receiver, a guarded client and a memory bus."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from nunchi.bus import Bus, open_bus
from nunchi.config import Settings
from nunchi.outbound import GuardedClient
from nunchi.store.db import create_engine_for, migrate, session_factory
from nunchi.webhooks import WebhookScheduler, WebhookService
from nunchi.webhooks.topics import WEBHOOKS_DELIVER


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on a fresh database brought up by the real migrations."""
    engine = create_engine_for(db_url)
    migrate(engine)
    try:
        yield session_factory(engine)
    finally:
        engine.dispose()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Three attempts 50 ms apart; the loopback receiver is allowed."""
    return Settings(
        data_dir=tmp_path / "data",
        webhook_schedule=[0, 0.05, 0.05],
        webhook_timeout=5,
        outbound_allow_hosts=["127.0.0.1/32"],
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[GuardedClient]:
    """The guarded client configured by ``settings``."""
    with GuardedClient.from_settings(settings) as c:
        yield c


@pytest.fixture
def bus() -> Iterator[Bus]:
    """A memory bus with the webhooks topic."""
    with open_bus("memory://") as b:
        b.ensure_topic(WEBHOOKS_DELIVER, 1)
        yield b


@pytest.fixture
def service(sessions: sessionmaker[Session], bus: Bus) -> WebhookService:
    """The webhook service on this test's database and bus."""
    return WebhookService(sessions, bus)


@pytest.fixture
def scheduler_running(
    sessions: sessionmaker[Session], client: GuardedClient, settings: Settings
) -> Callable[[], AbstractContextManager[WebhookScheduler]]:
    """``with scheduler_running() as scheduler:`` runs a scheduler on a thread meanwhile."""

    @contextmanager
    def run() -> Iterator[WebhookScheduler]:
        scheduler = WebhookScheduler(sessions, client, settings)
        stop = threading.Event()
        thread = threading.Thread(target=scheduler.run, args=(stop,), daemon=True)
        thread.start()
        try:
            yield scheduler
        finally:
            stop.set()
            thread.join(10)
            assert not thread.is_alive(), "the scheduler did not stop"

    return run
