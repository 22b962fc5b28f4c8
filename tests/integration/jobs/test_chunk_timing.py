"""How many jobs a job stage marks ``running`` at once: a poll is run in chunks sized from the
measured run time of a job, so ``started`` is recorded about when a job really starts (and a
crash cuts off only a chunk's worth of attempts)."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from nunchi.bus.memory import MemoryBus
from nunchi.jobs.models import job_events_table
from nunchi.jobs.service import JobService
from nunchi.jobs.stages import job_stages
from nunchi.runtime.worker import Worker
from tests.integration.jobs.conftest import wait_for

ECHO = "diagnostic.echo"


def _chunk_sizes(service: JobService) -> list[int]:
    """Jobs started together (one chunk shares one ``started`` timestamp), in order."""
    e = job_events_table.c
    with service.sessions() as s:
        rows = s.execute(
            select(e.at, func.count()).where(e.type == "started").group_by(e.at).order_by(e.at)
        ).all()
    return [n for _, n in rows]


def test_an_attempt_that_fails_at_once_does_not_make_a_huge_chunk(
    service: JobService, bus: MemoryBus
) -> None:
    # The first job fails at once (before its delay); the other 299 take 5 ms each.
    items = [{"payload": i, "delay_ms": 5, "fail_attempts": 1 if i == 0 else 0} for i in range(300)]
    batch = service.submit_batch(ECHO, items)
    with Worker(bus, job_stages(service), default_partitions=1, poll_timeout=0.05):
        wait_for(
            lambda: service.get_batch(batch.id).counts.succeeded == 300,
            timeout=60,
            what="the batch",
        )
    sizes = _chunk_sizes(service)
    # 5 ms jobs and a 50 ms target make chunks of about 10; timing the instant failure
    # used to make the next chunk every job of the poll (~300 marked running at once).
    assert max(sizes) <= 40, sizes
    assert sum(sizes) == 301  # 300 first attempts and the retry


def test_chunks_grow_for_fast_jobs(service: JobService, bus: MemoryBus) -> None:
    batch = service.submit_batch(ECHO, [{"payload": i} for i in range(600)])
    started = time.monotonic()
    with Worker(bus, job_stages(service), default_partitions=1, poll_timeout=0.05):
        wait_for(
            lambda: service.get_batch(batch.id).counts.succeeded == 600,
            timeout=60,
            what="the batch",
        )
    assert time.monotonic() - started < 30
    assert max(_chunk_sizes(service)) > 50  # no-op jobs run many to a transaction
