"""Measure the no-op workload through Celery + Redis (the peer of ``nunchi bench pipeline``).

One Celery worker process (prefork pool of ``concurrency`` children) on Redis as broker and
result backend. The client sends ``n`` ``bench.echo`` tasks through one producer (a plain loop:
about twice as fast to send as ``group(...).apply_async()`` here, so Celery gets the faster
path), recording when each was sent; each task records when it finished. Completion is
watched by counting the stored results (one ``EXISTS`` over the task keys per check).
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

from benchmarks._proc import Proc, clean_env, ensure_alive, wait_for
from benchmarks.pipeline import Progress, quiet, repo_root, summarize

__all__ = ["redis_client", "redis_durability", "run_celery"]

_READY_TIMEOUT = 60.0
_POLL = 0.1


def redis_client(redis_url: str) -> Any:
    """A redis-py client for ``redis_url``, checked with PING (RuntimeError saying what to do
    when redis-py is missing or Redis does not answer)."""
    try:
        import redis
    except ImportError as e:
        raise RuntimeError("the celery run needs redis-py: pip install 'celery[redis]'") from e
    client = redis.Redis.from_url(redis_url)
    try:
        client.ping()
    except redis.RedisError as e:
        raise RuntimeError(
            f"Redis is not reachable at {redis_url.split('@')[-1]} ({e}): start it "
            "(make services), pass --redis-url, or leave celery out of --backends"
        ) from e
    return client


def redis_durability(client: Any) -> str:
    """How Redis keeps the queue and results, from its configuration."""
    try:
        aof = client.config_get("appendonly").get("appendonly", "?")
        fsync = client.config_get("appendfsync").get("appendfsync", "?")
        save = client.config_get("save").get("save", "?")
    except Exception:  # CONFIG may be disabled (managed Redis)
        return "unknown (CONFIG GET refused)"
    if aof == "yes":
        return f"Redis append-only file, appendfsync={fsync}"
    if save:
        return f"Redis snapshots only (save {save!r}): recent tasks and results lost on a crash"
    return "in memory only (no AOF, no snapshots): queue and results lost if Redis stops"


def run_celery(
    n: int,
    concurrency: int,
    redis_url: str,
    log: str = "",
    *,
    progress: Progress = quiet,
    timeout: float = 600.0,
) -> dict[str, Any]:
    """Start a Celery worker, send ``n`` no-op tasks, wait for every result; the figures:
    jobs/s (first send to last completion), p50/p99 send-to-done latency (ms), send time.

    The Redis database of ``redis_url`` is flushed first."""
    try:
        import celery
    except ImportError as e:
        raise RuntimeError("the celery run needs Celery: pip install 'celery[redis]'") from e
    from benchmarks.celery_peer import ECHO_TASK, make_app

    client = redis_client(redis_url)
    client.flushdb()
    label = "celery redis"
    progress(f"{label}: waiting for the worker", 0, 0)
    root = str(repo_root())
    env = {
        "NUNCHI_BENCH_CELERY_REDIS": redis_url,
        "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p),
        "OMP_NUM_THREADS": "1",
    }
    worker = Proc(
        [sys.executable, "-m", "celery", "-A", "benchmarks.celery_peer", "worker",
         f"--concurrency={concurrency}", "--pool=prefork", "--loglevel=WARNING",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        env=env, base_env=clean_env(), log=log, cwd=root, name="the Celery worker",
    )
    app = make_app(redis_url)
    try:

        def answers() -> bool:
            ensure_alive([worker])
            return bool(app.control.ping(timeout=0.5))

        wait_for(answers, _READY_TIMEOUT, "the Celery worker to answer")
        app.send_task(ECHO_TASK, args=("warm-up",)).get(timeout=30)

        progress(label, 0, n)
        sent_at: list[float] = []
        ids: list[str] = []
        t0 = time.time()
        with app.producer_or_acquire() as producer:
            for i in range(n):
                sent_at.append(time.time())
                ids.append(app.send_task(ECHO_TASK, args=(i,), producer=producer).id)
        submitted = time.time()
        keys = [app.backend.get_key_for_task(task_id) for task_id in ids]

        def finished() -> bool:
            ensure_alive([worker])
            done = int(client.exists(*keys))
            progress(label, done, n)
            return done >= n

        wait_for(finished, timeout, f"{n} Celery tasks", poll=_POLL)
        metas = [json.loads(raw) for raw in client.mget(keys)]
    finally:
        worker.stop()
        app.close()
    succeeded = [m for m in metas if m.get("status") == "SUCCESS"]
    if not succeeded:
        raise RuntimeError(f"{label}: none of the {n} tasks succeeded")
    ok = [i for i, m in enumerate(metas) if m.get("status") == "SUCCESS"]
    figures = summarize(
        t0,
        submitted,
        [sent_at[i] for i in ok],
        [float(metas[i]["result"]["done_at"]) for i in ok],
    )
    redis_version = client.info("server").get("redis_version", "?")
    durability = redis_durability(client)
    client.close()
    return {
        "jobs": n,
        **figures,
        "succeeded": len(succeeded),
        "failed": n - len(succeeded),
        "workers": f"1 `celery worker` process, prefork pool of {concurrency} children, "
        "prefetch multiplier 64, acks_late",
        "broker": f"Redis {redis_version} (list queue)",
        "result_backend": f"Redis {redis_version} (one key per result)",
        "celery": celery.__version__,
        "durability": durability,
    }
