"""Jobs end to end through the real Worker (MemoryBus; SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from nunchi.bus.memory import MemoryBus
from nunchi.bus.sqlite import SqliteBus
from nunchi.bus.topics import dlq_topic
from nunchi.config import Settings
from nunchi.errors import PermanentError
from nunchi.jobs.kinds import EchoInput, JobContext, JobKind, KindRegistry
from nunchi.jobs.service import JobService
from nunchi.jobs.stages import job_stages
from nunchi.jobs.topics import JOBS_COMPLETED, job_requested
from nunchi.runtime.deadletter import DeadLetter
from nunchi.runtime.worker import Worker
from nunchi.store.db import session_factory
from nunchi.webhooks.topics import WEBHOOKS_DELIVER
from tests.integration.jobs.conftest import drain, wait_for

ECHO = "diagnostic.echo"


@pytest.fixture
def worker(service: JobService, bus: MemoryBus) -> Iterator[Worker]:
    w = Worker(bus, job_stages(service), default_partitions=2, poll_timeout=0.05)
    w.start()
    yield w
    w.stop(10)


def final(service: JobService, job_id: str) -> bool:
    return service.get(job_id).status in ("succeeded", "failed")


@pytest.mark.usefixtures("worker")
def test_echo_jobs_succeed(service: JobService, bus: MemoryBus) -> None:
    jobs = [service.submit(ECHO, {"payload": i}) for i in range(10)]
    wait_for(lambda: all(final(service, j.id) for j in jobs), what="10 echo jobs")
    for i, job in enumerate(jobs):
        done = service.get(job.id)
        assert done.status == "succeeded" and done.result == {"echo": i, "attempt": 1}
    assert len(drain(bus, JOBS_COMPLETED, expect=10)) == 10


@pytest.mark.usefixtures("worker")
def test_failed_first_attempt_is_retried(service: JobService) -> None:
    job = service.submit(ECHO, {"fail_attempts": 1, "payload": "x"})
    wait_for(lambda: final(service, job.id), what="the job to finish")
    done = service.get(job.id)
    assert done.status == "succeeded" and done.result == {"echo": "x", "attempt": 2}
    assert [e.type for e in done.events] == [
        "queued",
        "started",
        "attempt_failed",
        "started",
        "succeeded",
    ]


@pytest.mark.usefixtures("worker")
def test_exhausted_retries_fail_the_job_and_dead_letter_it(
    service: JobService, bus: MemoryBus
) -> None:
    job = service.submit(ECHO, {"fail_attempts": 10}, callback_url="https://example.com/h")
    wait_for(lambda: final(service, job.id), what="the job to fail")
    failed = service.get(job.id)
    assert failed.status == "failed" and failed.attempts == 3
    assert failed.error is not None and "planned failure on attempt 3" in failed.error.message
    assert [e.type for e in failed.events].count("attempt_failed") == 3
    assert failed.events[-1].type == "dead_lettered"
    (dead,) = drain(bus, dlq_topic(job_requested(ECHO)), expect=1)
    letter = DeadLetter.from_record(dead)
    assert letter.value == job.id.encode() and letter.attempts == 3
    hooks = [json.loads(r.value) for r in drain(bus, WEBHOOKS_DELIVER, expect=1)]
    assert [h["type"] for h in hooks] == ["job.failed"]


@pytest.mark.usefixtures("worker")
def test_retry_after_failure_succeeds(service: JobService) -> None:
    job = service.submit(ECHO, {"fail_attempts": 3})
    wait_for(lambda: final(service, job.id), what="the job to fail")
    assert service.get(job.id).status == "failed"
    service.retry(job.id, actor="admin")
    wait_for(lambda: final(service, job.id), what="the retried job to finish")
    done = service.get(job.id)
    assert done.status == "succeeded" and done.result == {"echo": None, "attempt": 4}
    assert [e.actor for e in done.events if e.type == "retried"] == ["admin"]


@pytest.mark.usefixtures("worker")
def test_batch_completion_published_exactly_once(service: JobService, bus: MemoryBus) -> None:
    items = [{"payload": i, "fail_attempts": 1 if i % 5 == 0 else 0} for i in range(60)]
    batch = service.submit_batch(ECHO, items, callback_url="https://example.com/b")
    wait_for(lambda: service.get_batch(batch.id).completed_at is not None, what="the batch")
    assert service.get_batch(batch.id).counts.succeeded == 60
    assert len(drain(bus, JOBS_COMPLETED, expect=60)) == 60
    hooks = [json.loads(r.value) for r in drain(bus, WEBHOOKS_DELIVER, expect=1, timeout=0.5)]
    assert [h["type"] for h in hooks] == ["batch.completed"]
    assert hooks[0]["payload"]["id"] == batch.id


def test_two_workers_share_the_load(service: JobService, bus: MemoryBus) -> None:
    batch = service.submit_batch(ECHO, [{"payload": i} for i in range(200)], "https://e.com/b")
    workers = [
        Worker(bus, job_stages(service), default_partitions=2, poll_timeout=0.05) for _ in range(2)
    ]
    for w in workers:
        w.start()
    try:
        wait_for(lambda: service.get_batch(batch.id).completed_at is not None, what="the batch")
    finally:
        for w in workers:
            w.stop(10)
    assert service.get_batch(batch.id).counts.succeeded == 200
    hooks = [
        json.loads(r.value)["type"] for r in drain(bus, WEBHOOKS_DELIVER, expect=1, timeout=0.5)
    ]
    assert hooks == ["batch.completed"]


def test_sqlite_bus_end_to_end(
    engine: Engine, registry: KindRegistry, settings: Settings, tmp_path: Path
) -> None:
    """The embedded setup: store and event log both SQLite files."""
    bus = SqliteBus(tmp_path / "bus.db")
    try:
        service = JobService(session_factory(engine), bus, registry, settings)
        batch = service.submit_batch(
            ECHO, [{"payload": i, "fail_attempts": i % 2} for i in range(40)]
        )
        with Worker(bus, job_stages(service), default_partitions=2, poll_timeout=0.05):
            wait_for(lambda: service.get_batch(batch.id).completed_at is not None, what="batch")
        assert service.get_batch(batch.id).counts.succeeded == 40
        assert len(drain(bus, JOBS_COMPLETED, expect=40)) == 40
    finally:
        bus.close()


def test_permanent_error_fails_at_once(engine: Engine, bus: MemoryBus, settings: Settings) -> None:
    def reject(ctx: JobContext, data: EchoInput) -> dict[str, object]:
        raise PermanentError("this image is not a photo")

    registry = KindRegistry([JobKind("test.reject", EchoInput, reject)])
    service = JobService(session_factory(engine), bus, registry, settings)
    job = service.submit("test.reject", {})
    with Worker(bus, job_stages(service), default_partitions=2, poll_timeout=0.05):
        wait_for(lambda: final(service, job.id), what="the job to fail")
    failed = service.get(job.id)
    assert failed.status == "failed" and failed.attempts == 1
    assert failed.error is not None and failed.error.type == "nunchi.errors.PermanentError"
    assert failed.error.message == "this image is not a photo"
