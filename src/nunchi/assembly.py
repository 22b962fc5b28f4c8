"""The composition root: builds the store, the bus, the services and every stage from Settings.

``nunchi up`` runs all of it in one process; ``nunchi worker --stage NAME …`` runs a chosen part
(the same stages, so they scale out as separate processes against Kafka and PostgreSQL).
Besides the bus stages there are *background loops* (publishing the outbox, scheduling webhook
retries) that are started and stopped the same way and selected by name too.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from nunchi.bus import Bus, open_configured_bus
from nunchi.config import Settings
from nunchi.errors import InvalidInput
from nunchi.jobs.kinds import DEFAULT_REGISTRY, KindRegistry
from nunchi.jobs.relay import OutboxRelay
from nunchi.jobs.service import JobService
from nunchi.jobs.stages import job_stages
from nunchi.jobs.webhooks import WebhookScheduler, WebhookService, webhook_stage
from nunchi.runtime import Stage
from nunchi.runtime.outbound import GuardedClient
from nunchi.runtime.worker import Worker
from nunchi.store.store import Store, open_store

__all__ = ["Background", "Platform", "open_platform", "threaded"]

log = logging.getLogger("nunchi.assembly")

OUTBOX_RELAY = "jobs.outbox-relay"
WEBHOOK_SCHEDULER = "webhooks.scheduler"


@dataclass(frozen=True)
class Background:
    """A named loop on its own thread, with ``start()`` and ``stop(timeout)``."""

    name: str
    start: Callable[[], None]
    stop: Callable[[float], None]


def threaded(name: str, run: Callable[[threading.Event], None]) -> Background:
    """A Background running ``run(stop_event)`` on a daemon thread until it is stopped."""
    stop_event = threading.Event()
    threads: list[threading.Thread] = []

    def guarded() -> None:
        try:
            run(stop_event)
        except Exception:
            log.exception("background loop %s stopped with an error", name)

    def start() -> None:
        stop_event.clear()
        thread = threading.Thread(target=guarded, name=f"nunchi-{name}", daemon=True)
        threads.append(thread)
        thread.start()

    def stop(timeout: float) -> None:
        stop_event.set()
        for thread in threads:
            thread.join(timeout)
        threads.clear()

    return Background(name, start, stop)


@dataclass
class Platform:
    """Everything a nunchi process runs, opened from one Settings."""

    settings: Settings
    store: Store
    bus: Bus
    jobs: JobService
    webhooks: WebhookService
    stages: list[Stage]
    background: list[Background]
    client: GuardedClient
    worker: Worker | None = None
    _started: list[Background] = field(default_factory=list)

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

    def start(self, names: Sequence[str] | None = None, *, worker_name: str | None = None) -> None:
        """Start the chosen stages (on one Worker) and background loops."""
        stages, loops = self.select(names)
        if stages:
            self.worker = Worker(
                self.bus,
                stages,
                default_partitions=self.settings.default_partitions,
                name=worker_name,
            )
            self.worker.start()
        for loop in loops:
            loop.start()
            self._started.append(loop)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop loops and the worker gracefully (in-flight work finishes or is redelivered)."""
        for loop in self._started:
            loop.stop(min(timeout, 10.0))
        self._started.clear()
        if self.worker is not None:
            self.worker.stop(timeout)

    def close(self) -> None:
        """Release the bus, the HTTP client and database connections."""
        self.client.close()
        self.bus.close()
        self.store.close()


def open_platform(settings: Settings, registry: KindRegistry | None = None) -> Platform:
    """Open the store (migrated) and the bus, and build the services and the stage list."""
    settings.ensure_data_dir()
    store = open_store(settings)
    bus: Bus | None = None
    client: GuardedClient | None = None
    try:
        bus = open_configured_bus(settings)
        registry = registry or DEFAULT_REGISTRY
        jobs = JobService(store.sessions, bus, registry, settings, blobs=store.blobs)
        client = GuardedClient.from_settings(settings)
        stages = [
            *job_stages(jobs, registry, dead_letter_stages=True),
            webhook_stage(store.sessions, client, settings),
        ]
        scheduler = WebhookScheduler(store.sessions, client, settings)
        relay = OutboxRelay(jobs)
        background = [
            Background(OUTBOX_RELAY, relay.start, relay.stop),
            threaded(WEBHOOK_SCHEDULER, scheduler.run),
        ]
        return Platform(
            settings=settings,
            store=store,
            bus=bus,
            jobs=jobs,
            webhooks=WebhookService(store.sessions, bus),
            stages=stages,
            background=background,
            client=client,
        )
    except BaseException:
        if client is not None:
            client.close()
        if bus is not None:
            bus.close()
        store.close()
        raise
