"""The core every app builds on: store, event log, blobs, the guarded outbound client, the job
service and the webhook notifier, opened once per process from :class:`~nunchi.config.Settings`
by :func:`open_core`.

Apps receive a :class:`Core` when the composition root (:mod:`nunchi.assembly`) builds their
services, job kinds, stages and background loops. Nothing here knows an app.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from nunchi.bus import Bus, open_configured_bus
from nunchi.config import Settings
from nunchi.jobs.kinds import KindRegistry
from nunchi.jobs.service import JobService
from nunchi.outbound import GuardedClient
from nunchi.runtime.nudges import Nudges
from nunchi.store.blobs import BlobStore
from nunchi.store.db import Schema
from nunchi.store.store import Store, open_store
from nunchi.webhooks.service import WebhookService

if TYPE_CHECKING:
    from nunchi.store.pg_nudges import PgNudgeRelay

__all__ = ["CORE_MODEL_MODULES", "Core", "open_core"]

CORE_MODEL_MODULES = ("nunchi.jobs.models", "nunchi.webhooks.models", "nunchi.web.keys")
"""The modules declaring the platform's own tables (jobs, webhooks, API keys)."""


@dataclass(frozen=True)
class Core:
    """The shared parts of a nunchi process."""

    settings: Settings
    store: Store
    bus: Bus
    client: GuardedClient
    """Every outbound fetch to a user-supplied URL goes through it (SSRF guard)."""
    registry: KindRegistry
    """The job kinds of this process; the apps' kinds are registered into it."""
    jobs: JobService
    webhooks: WebhookService
    nudges: Nudges
    """Wakes this process's live pages when a stage changed something."""
    relay: PgNudgeRelay | None = None
    """Nudges to and from other processes, on a PostgreSQL store."""

    @property
    def sessions(self) -> sessionmaker[Session]:
        """Database sessions (each service owns its transactions)."""
        return self.store.sessions

    @property
    def blobs(self) -> BlobStore:
        """The blob store (folder or S3)."""
        return self.store.blobs

    def close(self) -> None:
        """Release the HTTP client, the bus and database connections."""
        if self.relay is not None:
            self.relay.stop()
        self.client.close()
        self.bus.close()
        self.store.close()


def open_core(settings: Settings, registry: KindRegistry, schema: Schema | None = None) -> Core:
    """Open the store (migrated with ``schema``'s app branches too), the bus and the outbound
    client, and build the job service (on ``registry``) and the webhook notifier."""
    settings.ensure_data_dir()
    store = open_store(settings, schema)
    bus: Bus | None = None
    try:
        bus = open_configured_bus(settings)
        client = GuardedClient.from_settings(settings)
    except BaseException:
        if bus is not None:
            bus.close()
        store.close()
        raise
    nudges = Nudges()
    relay = None
    if store.engine.dialect.name == "postgresql":  # live pages in one process, stages in others
        from nunchi.store.pg_nudges import PgNudgeRelay

        relay = PgNudgeRelay(store.engine, nudges)
        relay.start()
    jobs = JobService(store.sessions, bus, registry, settings, blobs=store.blobs, nudges=nudges)
    return Core(
        settings=settings,
        store=store,
        bus=bus,
        client=client,
        registry=registry,
        jobs=jobs,
        webhooks=WebhookService(store.sessions, bus),
        nudges=nudges,
        relay=relay,
    )
