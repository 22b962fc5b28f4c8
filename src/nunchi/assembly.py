"""The composition root: builds the core once from Settings and wires the apps onto it.

:func:`open_platform` is the one way a nunchi process starts: ``nunchi up`` runs all of it in
one process; ``nunchi worker --stage NAME …`` runs a chosen part (the same stages, so they scale
out as separate processes against Kafka and PostgreSQL); the web app serves the apps' routes
and pages from it; ``nunchi jobs`` submits to it. The apps come from one explicit list,
:data:`nunchi.apps.APPS` (or the list given), so every process knows the same job kinds.
Besides the bus stages there are *background loops* (publishing the outbox, scheduling webhook
retries, an app's watchers), started and stopped the same way and selected by name too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy.orm import Session, sessionmaker

from nunchi.bus import Bus
from nunchi.config import Settings
from nunchi.core import CORE_MODEL_MODULES, Core, open_core
from nunchi.errors import InvalidInput
from nunchi.jobs.kinds import ECHO, JobKind, KindRegistry
from nunchi.jobs.relay import outbox_relay
from nunchi.jobs.service import JobService
from nunchi.jobs.stages import job_stages
from nunchi.runtime.background import Background, threaded
from nunchi.runtime.processes import StageProcesses
from nunchi.runtime.stage import Stage
from nunchi.runtime.worker import StageStats, Worker
from nunchi.store.db import Schema
from nunchi.webhooks import WebhookScheduler, WebhookService, webhook_stage

if TYPE_CHECKING:
    from nunchi.apps.base import App

__all__ = ["WEBHOOK_SCHEDULER", "Platform", "open_platform", "schema_of"]

log = logging.getLogger("nunchi.assembly")

S = TypeVar("S")

WEBHOOK_SCHEDULER = "webhooks.scheduler"


def schema_of(apps: Sequence[App[Any]]) -> Schema:
    """The database schema of the platform with ``apps``: their migration folders and model
    modules (besides the platform's own)."""
    dirs = tuple(d for d in (app.migration_dir() for app in apps) if d is not None)
    modules = (*CORE_MODEL_MODULES, *(m for app in apps for m in app.models))
    return Schema(migration_dirs=dirs, model_modules=modules)


@dataclass
class Platform:
    """Everything a nunchi process runs: the core, the apps' services, every stage and loop."""

    core: Core
    apps: tuple[App[Any], ...]
    stages: list[Stage]
    background: list[Background]
    worker: Worker | None = None
    processes: StageProcesses | None = None
    """The child workers of the stages that run in processes of their own, once started."""
    _services: dict[str, object] = field(default_factory=dict)
    _started: list[Background] = field(default_factory=list)

    # -- the core's parts, for callers that need one -----------------------------------

    @property
    def settings(self) -> Settings:
        """The settings everything was built from."""
        return self.core.settings

    @property
    def jobs(self) -> JobService:
        """The job service (knows every app's kinds)."""
        return self.core.jobs

    @property
    def webhooks(self) -> WebhookService:
        """The webhook notifier and delivery log."""
        return self.core.webhooks

    @property
    def bus(self) -> Bus:
        """The event log."""
        return self.core.bus

    @property
    def sessions(self) -> sessionmaker[Session]:
        """Database sessions."""
        return self.core.sessions

    def services(self, app: App[S]) -> S:
        """The services ``app`` built in this process."""
        try:
            return cast(S, self._services[app.name])
        except KeyError:
            raise InvalidInput(f"app {app.name!r} is not part of this process") from None

    def app(self, name: str) -> App[Any] | None:
        """The app called ``name``, if this process has it."""
        return next((a for a in self.apps if a.name == name), None)

    # -- running ------------------------------------------------------------------------

    def part_names(self) -> list[str]:
        """Names accepted by :meth:`start`: every stage and background loop."""
        return [s.name for s in self.stages] + [b.name for b in self.background]

    def select(self, names: Iterable[str] | None) -> tuple[list[Stage], list[Background]]:
        """The stages and loops named (all when ``names`` is None or empty)."""
        wanted = list(names or [])
        if not wanted:
            return list(self.stages), list(self.background)
        known = set(self.part_names())
        unknown = [n for n in wanted if n not in known]
        if unknown:
            raise InvalidInput(
                f"unknown stage {', '.join(map(repr, unknown))}; "
                f"known stages: {', '.join(sorted(known))}"
            )
        return (
            [s for s in self.stages if s.name in wanted],
            [b for b in self.background if b.name in wanted],
        )

    def start(
        self,
        names: Sequence[str] | None = None,
        *,
        worker_name: str | None = None,
        own_processes: bool = False,
    ) -> None:
        """Start the chosen stages (on one Worker) and background loops; with
        ``own_processes`` the stages that want a process of their own (``Stage.own_process``)
        run as child workers instead (:mod:`nunchi.runtime.processes`)."""
        stages, loops = self.select(names)
        if own_processes and any(s.own_process for s in stages):
            self.processes = StageProcesses([s.name for s in stages if s.own_process])
            stages = [s for s in stages if not s.own_process]
        if stages:
            self.worker = Worker(
                self.core.bus,
                stages,
                default_partitions=self.settings.default_partitions,
                name=worker_name,
            )
            self.worker.start()
        for loop in loops:
            loop.start()
            self._started.append(loop)
        if self.processes is not None:
            self.processes.start()

    def stats(self) -> Mapping[str, StageStats]:
        """Per-stage counters of this process's worker (empty when it runs no stage)."""
        return self.worker.stats() if self.worker is not None else {}

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the child workers, the loops and the worker gracefully (in-flight work
        finishes or is redelivered)."""
        if self.processes is not None:
            self.processes.stop(timeout)
            self.processes = None
        for loop in self._started:
            loop.stop(min(timeout, 10.0))
        self._started.clear()
        if self.worker is not None:
            self.worker.stop(timeout)

    def close(self) -> None:
        """Release what the apps hold (their ``close()``, e.g. worker processes), then the
        bus, the HTTP client and database connections."""
        for name, built in self._services.items():
            close = getattr(built, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:
                    log.exception("closing the %s app's services failed", name)
        self.core.close()


def _check_apps(apps: Sequence[App[Any]]) -> None:
    seen: set[str] = set()
    for app in apps:
        if app.name in seen:
            raise InvalidInput(f"two apps are called {app.name!r}")
        seen.add(app.name)


def open_platform(
    settings: Settings,
    apps: Sequence[App[Any]] | None = None,
    *,
    core_kinds: Sequence[JobKind[Any]] | None = None,
) -> Platform:
    """Open the core from ``settings`` and wire ``apps`` (default :data:`nunchi.apps.APPS`)
    onto it: their services, job kinds (with ``core_kinds``, default ``diagnostic.echo``),
    stages and background loops, with the platform's own (job stages, webhook delivery, the
    outbox relay, the webhook scheduler). Nothing starts until :meth:`Platform.start`."""
    if apps is None:
        from nunchi.apps import APPS

        apps = APPS
    ordered = tuple(sorted(apps, key=lambda a: (a.order, a.name)))
    _check_apps(ordered)
    registry = KindRegistry(list(core_kinds) if core_kinds is not None else [ECHO])
    core = open_core(settings, registry, schema_of(ordered))
    try:
        services: dict[str, object] = {}
        app_stages: list[Stage] = []
        app_loops: list[Background] = []
        for app in ordered:
            built = app.services(core)
            services[app.name] = built
            for kind in app.kinds(core, built):
                registry.register(kind)
            app_stages.extend(app.stages(core, built))
            app_loops.extend(app.background(core, built))
        scheduler = WebhookScheduler(core.sessions, core.client, settings)
        stages = [
            *job_stages(core.jobs, registry, client=core.client, dead_letter_stages=True),
            webhook_stage(core.sessions, core.client, settings),
            *app_stages,
        ]
        background = [
            outbox_relay(core.jobs),
            threaded(WEBHOOK_SCHEDULER, scheduler.run),
            *app_loops,
        ]
        names = [s.name for s in stages] + [b.name for b in background]
        clash = sorted({n for n in names if names.count(n) > 1})
        if clash:
            raise InvalidInput(f"two stages or loops are called {', '.join(clash)}")
        return Platform(core, ordered, stages, background, _services=services)
    except BaseException:
        core.close()
        raise
