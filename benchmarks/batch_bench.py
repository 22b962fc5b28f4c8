"""``nunchi bench batch``: how long ``POST /api/v1/batches`` takes to answer 202 for N items.

Issue #2: "10,000 items must be accepted in well under a second; work happens behind". For each
nunchi backend a real API process is started, ``nunchi up --no-workers`` (uvicorn, the API tier
and the outbox relay, no stage workers) on a free loopback port, with an admin key made by
``nunchi keys create``. The bench process (httpx) then posts one batch of N
``diagnostic.echo`` items as a warm-up and ``repeats`` timed ones, and measures per request the
HTTP round trip: from sending the (already encoded) body to having read the whole 202 answer.
Each answer must be 202 with ``total == N``, and ``GET /api/v1/batches/{id}`` must then count
N jobs (all queued: no worker runs), so a partial batch fails the run.

Backends: ``sqlite`` (the embedded defaults: store and event log are SQLite files in a
temporary data directory) and ``kafka`` (PostgreSQL with a fresh schema + a Tansu
Kafka-protocol broker), set up as in :mod:`benchmarks.pipeline`. The peer, ``celery``: the time
``group(task.s(i) for i in range(N)).apply_async()`` takes to return on Redis (no worker needed
to submit; the queue is checked to hold N messages, then purged).
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks._proc import Proc, clean_env, ensure_alive, free_port, wait_for
from benchmarks.pipeline import (
    BACKENDS,
    ECHO,
    Progress,
    Services,
    check_config,
    in_backend,
    machine_info,
    nunchi_argv,
    quiet,
    run_each,
)

__all__ = ["BatchBenchConfig", "run_batch", "run_celery_submit", "run_nunchi_submit", "spread"]

_KEY = re.compile(r"^(nk_\S+)$", re.M)
"""The plaintext key on the stdout of ``nunchi keys create``."""
_CELERY_QUEUE = "celery"
"""Celery's default queue: a Redis list of that name."""
_PARTITIONS = 4
"""Partitions of the topics nunchi creates (``nunchi bench pipeline``'s default)."""


@dataclass(frozen=True)
class BatchBenchConfig(Services):
    """What to run: ``repeats`` timed batches of ``items`` items (after one warm-up) on each
    backend, against these services (Celery's Redis database is flushed before and after)."""

    items: int = 10_000
    repeats: int = 5
    backends: tuple[str, ...] = BACKENDS
    ready_timeout: float = 120.0
    """Seconds for the API process to answer ``/readyz``."""
    request_timeout: float = 300.0
    """Seconds one HTTP request may take."""

    def __post_init__(self) -> None:
        check_config(self, ("items", "repeats"))


def spread(seconds: Sequence[float]) -> dict[str, Any]:
    """Median, fastest and slowest of timed repeats (seconds), and every value in order."""
    return {
        "p50_s": round(statistics.median(seconds), 4),
        "min_s": round(min(seconds), 4),
        "max_s": round(max(seconds), 4),
        "runs_s": [round(s, 4) for s in seconds],
    }


# -- nunchi over HTTP -------------------------------------------------------------------------


def _create_key(env: dict[str, str], tmp: Path) -> str:
    """An admin API key made with ``nunchi keys create`` (which also migrates the store)."""
    argv = nunchi_argv("keys", "create", "--name", "bench", "--scope", "admin")
    done = subprocess.run(
        argv, env={**clean_env(), **env}, cwd=tmp, capture_output=True, text=True,
        timeout=120, check=False,
    )
    keys = _KEY.findall(done.stdout)
    if done.returncode != 0 or len(keys) != 1:
        raise RuntimeError(
            f"`nunchi keys create` exited with {done.returncode} and printed "
            f"{len(keys)} key(s); its stderr:\n{done.stderr[-2000:]}"
        )
    return str(keys[0])


def _check_accepted(client: Any, response: Any, n: int) -> dict[str, Any]:
    """The batch of a 202 answer, after checking that it and ``GET /api/v1/batches/{id}``
    both account for all ``n`` items; RuntimeError otherwise."""
    if response.status_code != 202:
        raise RuntimeError(
            f"POST /api/v1/batches answered {response.status_code}: {response.text[:500]}"
        )
    batch: dict[str, Any] = response.json()
    if batch.get("total") != n:
        raise RuntimeError(f"the 202 answer says total={batch.get('total')}, not {n}")
    got = client.get(f"/api/v1/batches/{batch['id']}")
    if got.status_code != 200:
        raise RuntimeError(f"GET /api/v1/batches/{{id}} answered {got.status_code}: {got.text}")
    stored: dict[str, Any] = got.json()
    counted = sum(stored["counts"].values())
    if stored["total"] != n or counted != n:
        raise RuntimeError(
            f"batch {batch['id']}: total {stored['total']}, {counted} jobs counted "
            f"({stored['counts']}), expected {n}"
        )
    return stored


def _measure(
    backend: str, config: BatchBenchConfig, env: dict[str, str], tmp: Path, progress: Progress
) -> dict[str, Any]:
    """Start the API process, post the batches, stop it; the figures."""
    import httpx

    label = f"nunchi {backend}"
    n = config.items
    key = _create_key(env, tmp)
    port = free_port()
    server = Proc(
        nunchi_argv("up", "--no-workers", "--host", "127.0.0.1", "--port", str(port)),
        env=env, base_env=clean_env(), log=str(tmp / "server.log"), cwd=str(tmp),
        name="`nunchi up --no-workers`",
    )
    payload = {"kind": ECHO, "items": [{"payload": i} for i in range(n)]}
    round_trips: list[float] = []
    encodes: list[float] = []
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {key}"},
            timeout=config.request_timeout,
        ) as client:

            def ready() -> bool:
                ensure_alive([server])
                try:
                    return client.get("/readyz").status_code == 200
                except httpx.TransportError:
                    return False

            progress(f"{label}: waiting for the API", 0, 0)
            wait_for(ready, config.ready_timeout, "`nunchi up` to answer /readyz", poll=0.1)
            progress(label, 0, config.repeats + 1)
            for repeat in range(config.repeats + 1):  # the first one warms up
                t0 = time.perf_counter()
                body = json.dumps(payload).encode()
                t1 = time.perf_counter()
                response = client.post(
                    "/api/v1/batches", content=body,
                    headers={"Content-Type": "application/json"},
                )
                t2 = time.perf_counter()
                stored = _check_accepted(client, response, n)
                if repeat:
                    encodes.append(t1 - t0)
                    round_trips.append(t2 - t1)
                progress(label, repeat + 1, config.repeats + 1)
            ensure_alive([server])
    except Exception as e:
        raise RuntimeError(
            f"{type(e).__name__}: {e}\nlast output of the API process:\n{server.tail()}"
        ) from e
    finally:
        server.stop(30)
    figures = spread(round_trips)
    return {
        "items": n,
        "repeats": config.repeats,
        **figures,
        "items_per_s_p50": round(n / figures["p50_s"]),
        "encode_ms_p50": round(statistics.median(encodes) * 1000, 1),
        "request_bytes": len(body),
        "response_bytes": len(response.content),
        "last_batch_counts": stored["counts"],
        "verified": f"every answer 202 with total {n}; GET /api/v1/batches/{{id}} then "
        f"counted {n} jobs",
        "server": "1 process `nunchi up --no-workers` (uvicorn, the API and the outbox relay, "
        "no stage workers); client httpx, one keep-alive connection, Bearer admin key",
    }


def run_nunchi_submit(
    backend: str, config: BatchBenchConfig, progress: Progress = quiet
) -> dict[str, Any]:
    """Time batch submits over HTTP on nunchi with the ``sqlite`` or ``kafka`` backend; the
    figures and a description of the setup. Everything it started or created is removed."""
    return in_backend(
        backend,
        f"nunchi-bench-batch-{backend}-",
        progress,
        lambda env, tmp: _measure(backend, config, env, tmp, progress),
        partitions=_PARTITIONS,
        items=config.items,
        postgres_url=config.postgres_url,
    )


# -- the Celery peer --------------------------------------------------------------------------


def run_celery_submit(config: BatchBenchConfig, progress: Progress = quiet) -> dict[str, Any]:
    """Time ``group(task.s(i) for i in range(N)).apply_async()`` on Redis (no worker runs);
    after each, the queue must hold N messages, and is purged. The Redis database of
    ``config.redis_url`` is flushed before and after."""
    try:
        import celery
        from celery import group
    except ImportError as e:
        raise RuntimeError("the celery run needs Celery: pip install 'celery[redis]'") from e
    from benchmarks.celery_peer import ECHO_TASK, make_app
    from benchmarks.celery_run import redis_client, redis_durability

    label = "celery redis"
    n = config.items
    client = redis_client(config.redis_url)
    client.flushdb()
    app = make_app(config.redis_url)
    task = app.tasks[ECHO_TASK]
    times: list[float] = []
    try:
        progress(label, 0, config.repeats + 1)
        for repeat in range(config.repeats + 1):  # the first one warms up
            t0 = time.perf_counter()
            group(task.s(i) for i in range(n)).apply_async()
            elapsed = time.perf_counter() - t0
            queued = int(client.llen(_CELERY_QUEUE))
            if queued != n:
                raise RuntimeError(f"{label}: the queue holds {queued} messages, not {n}")
            queue_bytes = sum(len(m) for m in client.lrange(_CELERY_QUEUE, 0, -1))
            client.delete(_CELERY_QUEUE)  # purge: no worker will take them
            if repeat:
                times.append(elapsed)
            progress(label, repeat + 1, config.repeats + 1)
        version = client.info("server").get("redis_version", "?")
        durability = redis_durability(client)
    finally:
        client.flushdb()
        client.close()
        app.close()
    figures = spread(times)
    return {
        "items": n,
        "repeats": config.repeats,
        **figures,
        "items_per_s_p50": round(n / figures["p50_s"]),
        "queue_bytes": queue_bytes,
        "verified": f"after each call the Redis queue held {n} messages (then purged)",
        "client": "group(task.s(i) for i in range(N)).apply_async() in the bench process "
        "(timed from building the signatures to the call's return)",
        "broker": f"Redis {version} (list queue)",
        "celery": celery.__version__,
        "durability": durability,
    }


# -- the whole benchmark ----------------------------------------------------------------------


def _ratio(ours: dict[str, Any] | None, celery: dict[str, Any] | None) -> float | None:
    """Celery's median time over nunchi's: how many times faster nunchi accepts the batch."""
    if not ours or not celery or "p50_s" not in ours or "p50_s" not in celery:
        return None
    return round(float(celery["p50_s"]) / float(ours["p50_s"]), 2)


def run_batch(config: BatchBenchConfig, progress: Progress = quiet) -> dict[str, Any]:
    """Run every chosen backend in turn; the one JSON object ``nunchi bench batch`` prints.

    A backend that cannot run gets ``{"error": ...}`` and the others still run."""
    machine = machine_info()
    results = run_each(
        config.backends,
        lambda backend: run_nunchi_submit(backend, config, progress),
        lambda: run_celery_submit(config, progress),
    )
    celery = results["celery_redis"]
    under = {
        b: None if not run or "max_s" not in run else run["max_s"] < 1.0
        for b, run in (("sqlite", results["nunchi_sqlite"]), ("kafka", results["nunchi_kafka"]))
    }
    return {
        "bench": "batch",
        "items": config.items,
        "repeats": config.repeats,
        "machine": machine,
        **results,
        "ratio_sqlite_vs_celery": _ratio(results["nunchi_sqlite"], celery),
        "ratio_kafka_vs_celery": _ratio(results["nunchi_kafka"], celery),
        "goal_under_1s_met": under,
    }
