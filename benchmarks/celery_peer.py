"""The Celery peer of ``nunchi bench pipeline``: the same no-op workload through Celery + Redis.

Run as a worker by the benchmark: ``celery -A benchmarks.celery_peer worker``. Broker and result
backend are the Redis database given by ``NUNCHI_BENCH_CELERY_REDIS`` (default
``redis://127.0.0.1:6379/15``), which the benchmark flushes before each run. The client side
builds its own app on the same URL with :func:`make_app` and sends ``bench.echo`` by name.
"""

from __future__ import annotations

import os
import time
from typing import Any

from celery import Celery

__all__ = ["ECHO_TASK", "REDIS_URL", "app", "make_app"]

REDIS_URL = os.environ.get("NUNCHI_BENCH_CELERY_REDIS", "redis://127.0.0.1:6379/15")
ECHO_TASK = "bench.echo"


def _echo(payload: Any = None) -> dict[str, Any]:
    """No-op job: returns its payload and the time it finished."""
    return {"echo": payload, "done_at": time.time()}


def make_app(redis_url: str) -> Celery:
    """A Celery app with Redis as broker and result backend, acks after the task (at least
    once, like nunchi), JSON only, and the ``bench.echo`` task."""
    celery = Celery("nunchi_bench", broker=redis_url, backend=redis_url)
    celery.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,  # at-least-once, like nunchi: ack after the effect
        worker_prefetch_multiplier=64,
        result_expires=3600,
        broker_connection_retry_on_startup=True,
    )
    celery.task(name=ECHO_TASK)(_echo)
    return celery


app = make_app(REDIS_URL)
"""The worker's app (``celery -A benchmarks.celery_peer worker``)."""
