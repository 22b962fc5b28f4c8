"""Building a JobService from settings (for the CLI and other entry points)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from nunchi.bus import open_configured_bus
from nunchi.config import Settings, get_settings
from nunchi.jobs.kinds import KindRegistry
from nunchi.jobs.service import JobService
from nunchi.store.store import open_store

__all__ = ["open_job_service"]


@contextmanager
def open_job_service(
    settings: Settings | None = None, registry: KindRegistry | None = None
) -> Iterator[JobService]:
    """A JobService on the store and bus named by ``settings`` (default: ``get_settings()``),
    migrated and ready; its connections are closed on exit. Nothing connects before entry."""
    settings = settings or get_settings()
    store = open_store(settings)
    try:
        bus = open_configured_bus(settings)
        try:
            yield JobService(store.sessions, bus, registry, settings, blobs=store.blobs)
        finally:
            bus.close()
    finally:
        store.close()
