"""What the web layer needs from the rest of nunchi, gathered in :class:`AppServices`, and
:func:`build_services`, which opens them from :class:`~nunchi.config.Settings`.

Routes and pages reach services only through ``app.state`` (set from an ``AppServices`` by
:func:`nunchi.web.app.create_app`); they never query the database themselves.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from nunchi.bus.base import Bus
from nunchi.bus.topics import JOBS_COMPLETED
from nunchi.config import Settings
from nunchi.errors import BusError, NotFound
from nunchi.web.keys import KeyService

__all__ = [
    "AppServices",
    "ReadinessCheck",
    "WorkerStatsProvider",
    "build_services",
    "bus_check",
    "database_check",
]

log = logging.getLogger("nunchi.web")

WorkerStatsProvider = Callable[[], Mapping[str, Any]]
"""Returns per-stage stats (objects with processed, failed, retried, dead_lettered,
in_flight, lag, last_error), e.g. ``Worker.stats``."""

ReadinessCheck = Callable[[], None]
"""Returns when a dependency is usable; raises (anything) when it is not."""


@dataclass
class AppServices:
    """The services routes and pages use. Anything left ``None`` is reported as unavailable
    by the routes that need it (503), so an app can run with a subset (e.g. in tests)."""

    jobs: Any = None
    """A :class:`nunchi.jobs.service.JobService`."""
    webhooks: Any = None
    """A :class:`nunchi.jobs.webhooks.service.WebhookService`."""
    keys: KeyService | None = None
    sessions: sessionmaker[Session] | None = None
    bus: Bus | None = None
    worker_stats: WorkerStatsProvider | None = None
    readiness: dict[str, ReadinessCheck] = field(default_factory=dict)
    """Checks ``/readyz`` runs, by name (e.g. ``database``, ``bus``)."""
    closers: list[Callable[[], None]] = field(default_factory=list)
    """Called in reverse order by :meth:`close` (what :func:`build_services` opened)."""

    def close(self) -> None:
        """Release what was opened for these services (errors are logged, not raised)."""
        while self.closers:
            closer = self.closers.pop()
            try:
                closer()
            except Exception:
                log.exception("error while closing web services")


def database_check(sessions: sessionmaker[Session]) -> ReadinessCheck:
    """A readiness check that runs ``SELECT 1``."""

    def check() -> None:
        with sessions() as session:
            session.execute(text("SELECT 1"))

    return check


def bus_check(bus: Bus) -> ReadinessCheck:
    """A readiness check that asks the bus about a topic (a missing topic still proves the
    bus answers; only a bus error fails it)."""

    def check() -> None:
        try:
            bus.partitions(JOBS_COMPLETED)
        except NotFound:
            return
        except BusError:
            raise

    return check


def _optional(module: str) -> Any | None:
    """Import ``module`` if it exists yet (parts of nunchi land one by one)."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name is not None and (module + ".").startswith(e.name + "."):
            log.warning("%s is not available; its routes answer 503", module)
            return None
        raise


def build_services(
    settings: Settings, *, worker_stats: WorkerStatsProvider | None = None
) -> AppServices:
    """Open the store (migrated), the bus and every service from ``settings``."""
    from nunchi.bus import open_configured_bus
    from nunchi.store.store import open_store

    store = open_store(settings)
    services = AppServices(sessions=store.sessions, worker_stats=worker_stats)
    services.closers.append(store.close)
    try:
        bus = open_configured_bus(settings)
        services.bus = bus
        services.closers.append(bus.close)
        services.keys = KeyService(store.sessions)
        services.readiness = {"database": database_check(store.sessions), "bus": bus_check(bus)}
        jobs_mod = _optional("nunchi.jobs.service")
        if jobs_mod is not None:
            kinds = importlib.import_module("nunchi.jobs.kinds")
            services.jobs = jobs_mod.JobService(
                store.sessions, bus, kinds.DEFAULT_REGISTRY, settings, blobs=store.blobs
            )
        hooks_mod = _optional("nunchi.jobs.webhooks.service")
        if hooks_mod is not None:
            services.webhooks = hooks_mod.WebhookService(store.sessions, bus)
    except BaseException:
        services.close()
        raise
    return services
