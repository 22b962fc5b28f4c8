"""The job stages' handlers, driven record by record: idempotence, attempts, failure,
dead letters, retries, completion and webhook messages."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from nunchi.bus.base import Record
from nunchi.bus.memory import MemoryBus
from nunchi.bus.topics import dlq_topic
from nunchi.jobs.kinds import DiagnosticFailure
from nunchi.jobs.service import JobService
from nunchi.jobs.stages import dead_letter_handler, job_stages
from nunchi.jobs.topics import JOBS_COMPLETED, job_requested
from nunchi.runtime.deadletter import DeadLetter
from nunchi.runtime.stage import Delivery, Stage, StageContext
from nunchi.webhooks.topics import WEBHOOKS_DELIVER
from tests.integration.jobs.conftest import drain

ECHO = "diagnostic.echo"
TOPIC = job_requested(ECHO)


def echo_stage(service: JobService) -> Stage:
    (stage,) = [s for s in job_stages(service) if s.name == f"jobs.{ECHO}"]
    return stage


def run(
    stage: Stage, bus: MemoryBus, records: Sequence[Record], attempt: int = 1
) -> list[BaseException | None]:
    assert stage.handle_batch is not None
    ctx = StageContext(stage=stage.name, bus=bus)
    return list(stage.handle_batch([Delivery(r, attempt) for r in records], ctx))


def types(service: JobService, job_id: str) -> list[str]:
    return [e.type for e in service.get(job_id).events]


def test_echo_succeeds_and_announces_completion(service: JobService, bus: MemoryBus) -> None:
    job = service.submit(ECHO, {"payload": [1, "둘"]}, callback_url="https://example.com/h")
    stage = echo_stage(service)
    assert stage.topic == TOPIC and stage.retry.max_attempts == 3 and stage.concurrency == 2
    assert run(stage, bus, drain(bus, TOPIC)) == [None]
    done = service.get(job.id)
    assert done.status == "succeeded"
    assert done.result == {"echo": [1, "둘"], "attempt": 1}
    assert done.attempts == 1 and done.started_at and done.finished_at
    assert types(service, job.id) == ["queued", "started", "succeeded"]
    assert [r.value for r in drain(bus, JOBS_COMPLETED)] == [job.id.encode()]
    (hook,) = drain(bus, WEBHOOKS_DELIVER)
    body = json.loads(hook.value)
    assert hook.key == job.id.encode()
    assert body["type"] == "job.succeeded" and body["url"] == "https://example.com/h"
    assert len(body["event_id"]) == 36
    assert body["payload"]["id"] == job.id and body["payload"]["status"] == "succeeded"
    assert body["payload"]["result"] == {"echo": [1, "둘"], "attempt": 1}


def test_redelivery_applies_once(service: JobService, bus: MemoryBus) -> None:
    job = service.submit(ECHO, {})
    stage = echo_stage(service)
    records = drain(bus, TOPIC)
    assert run(stage, bus, records) == [None]
    assert run(stage, bus, records) == [None]  # the same message again: skipped
    assert run(stage, bus, records + records) == [None, None]
    assert types(service, job.id) == ["queued", "started", "succeeded"]
    assert service.get(job.id).attempts == 1
    assert len(drain(bus, JOBS_COMPLETED)) == 1


def test_duplicate_in_one_poll_runs_once(service: JobService, bus: MemoryBus) -> None:
    job = service.submit(ECHO, {})
    records = drain(bus, TOPIC)
    assert run(echo_stage(service), bus, records * 3) == [None, None, None]
    assert types(service, job.id) == ["queued", "started", "succeeded"]


def test_second_attempt_succeeds_after_a_failed_one(service: JobService, bus: MemoryBus) -> None:
    job = service.submit(ECHO, {"fail_attempts": 1})
    stage = echo_stage(service)
    records = drain(bus, TOPIC)
    (error,) = run(stage, bus, records, attempt=1)
    assert isinstance(error, DiagnosticFailure)
    mid = service.get(job.id)
    assert mid.status == "queued" and mid.attempts == 1
    assert mid.error is not None and mid.error.type == "nunchi.jobs.kinds.DiagnosticFailure"
    failed = [e for e in mid.events if e.type == "attempt_failed"]
    assert (
        failed[0].attempt == 1 and failed[0].detail["type"] == "nunchi.jobs.kinds.DiagnosticFailure"
    )
    assert "planned failure on attempt 1" in failed[0].detail["message"]
    assert run(stage, bus, records, attempt=2) == [None]
    done = service.get(job.id)
    assert done.status == "succeeded" and done.result == {"echo": None, "attempt": 2}
    assert done.error is None
    assert types(service, job.id) == ["queued", "started", "attempt_failed", "started", "succeeded"]


def test_last_attempt_fails_the_job_then_retry_succeeds(
    service: JobService, bus: MemoryBus
) -> None:
    job = service.submit(ECHO, {"fail_attempts": 3}, callback_url="https://example.com/h")
    stage = echo_stage(service)
    records = drain(bus, TOPIC)
    for attempt in (1, 2, 3):
        (error,) = run(stage, bus, records, attempt=attempt)
        assert isinstance(error, DiagnosticFailure)
    failed = service.get(job.id)
    assert failed.status == "failed" and failed.attempts == 3 and failed.finished_at
    assert failed.error is not None and failed.error.type == "nunchi.jobs.kinds.DiagnosticFailure"
    assert failed.error.traceback and "DiagnosticFailure" in failed.error.traceback
    assert types(service, job.id)[-2:] == ["attempt_failed", "dead_lettered"]
    assert [r.value for r in drain(bus, JOBS_COMPLETED)] == [job.id.encode()]
    (hook,) = drain(bus, WEBHOOKS_DELIVER)
    payload = json.loads(hook.value)["payload"]
    assert json.loads(hook.value)["type"] == "job.failed"
    assert payload["error"]["traceback"] is None  # tracebacks never leave in webhooks

    retried = service.retry(job.id, actor="carol")
    assert retried.status == "queued" and retried.finished_at is None
    events = service.get(job.id).events
    assert (events[-1].type, events[-1].actor, events[-1].attempt) == ("retried", "carol", 3)
    again = drain(bus, TOPIC)
    assert [r.value for r in again] == [job.id.encode()] * 2  # the original and the retry
    latest = max(again, key=lambda r: r.offset)
    assert run(stage, bus, [latest], attempt=1) == [None]
    done = service.get(job.id)
    assert done.status == "succeeded" and done.result == {"echo": None, "attempt": 4}


def test_dead_letter_stage_marks_failed_once(service: JobService, bus: MemoryBus) -> None:
    job = service.submit(ECHO, {})
    (record,) = drain(bus, TOPIC)
    dead = DeadLetter(
        value=record.value,
        key=record.key,
        original_headers={},
        stage=f"jobs.{ECHO}",
        original_topic=TOPIC,
        original_partition=record.partition,
        original_offset=record.offset,
        error_type="TimeoutError",
        error_message="took too long",
        traceback="Traceback (most recent call last): ...",
        attempts=5,
    )
    dlq = dlq_topic(TOPIC)
    bus.ensure_topic(dlq, 2)
    bus.publish(dlq, dead.value, key=dead.key, headers=dead.headers())
    (dl_record,) = drain(bus, dlq)
    handle = dead_letter_handler(service)
    ctx = StageContext(stage=f"jobs.{ECHO}.dlq", bus=bus)
    handle(Delivery(dl_record), ctx)
    handle(Delivery(dl_record), ctx)  # redelivered: no second effect
    failed = service.get(job.id)
    assert failed.status == "failed"
    assert failed.error is not None
    assert (failed.error.type, failed.error.message) == ("TimeoutError", "took too long")
    assert failed.error.traceback == "Traceback (most recent call last): ..."
    assert types(service, job.id) == ["queued", "dead_lettered"]
    assert failed.events[-1].detail == {
        "type": "TimeoutError",
        "attempts": 5,
        "stage": f"jobs.{ECHO}",
    }
    assert len(drain(bus, JOBS_COMPLETED)) == 1
    assert run(echo_stage(service), bus, [record]) == [None]  # a late copy of the job is skipped
    assert service.get(job.id).status == "failed"


def test_dead_letter_stages_are_optional(service: JobService) -> None:
    assert [s.name for s in job_stages(service)] == [f"jobs.{ECHO}"]
    stages = job_stages(service, dead_letter_stages=True)
    assert [(s.name, s.topic) for s in stages] == [
        (f"jobs.{ECHO}", TOPIC),
        (f"jobs.{ECHO}.dlq", dlq_topic(TOPIC)),
    ]


def test_batch_completion_is_announced_exactly_once(service: JobService, bus: MemoryBus) -> None:
    batch = service.submit_batch(ECHO, [{"payload": i} for i in range(4)], "https://e.com/b")
    stage = echo_stage(service)
    records = drain(bus, TOPIC)
    assert run(stage, bus, records[:2]) == [None, None]
    assert service.get_batch(batch.id).completed_at is None
    assert run(stage, bus, records[2:]) == [None, None]
    assert run(stage, bus, records) == [None] * 4  # redelivered: nothing new
    done = service.get_batch(batch.id)
    assert done.completed_at is not None and done.counts.succeeded == 4
    hooks = [json.loads(r.value) for r in drain(bus, WEBHOOKS_DELIVER)]
    assert [h["type"] for h in hooks] == ["batch.completed"]
    assert hooks[0]["payload"]["counts"]["succeeded"] == 4 and hooks[0]["url"] == "https://e.com/b"
    assert len(drain(bus, JOBS_COMPLETED)) == 4


def test_retry_failed_of_a_batch(service: JobService, bus: MemoryBus) -> None:
    batch = service.submit_batch(
        ECHO, [{"fail_attempts": 3}, {}, {"fail_attempts": 3}], "https://e.com/b"
    )
    stage = echo_stage(service)
    records = drain(bus, TOPIC)
    for attempt in (1, 2, 3):
        run(stage, bus, records, attempt=attempt)
    assert service.get_batch(batch.id).counts.model_dump() == {
        "queued": 0,
        "running": 0,
        "succeeded": 1,
        "failed": 2,
    }
    assert service.retry_failed(batch.id, actor="ops") == 2
    assert service.retry_failed(batch.id, actor="ops") == 0
    assert service.get_batch(batch.id).completed_at is None
    seen = {(r.partition, r.offset) for r in records}
    again = [r for r in drain(bus, TOPIC) if (r.partition, r.offset) not in seen]
    assert len(again) == 2
    assert run(stage, bus, again) == [None, None]
    done = service.get_batch(batch.id)
    assert done.counts.succeeded == 3 and done.completed_at is not None
    hooks = [json.loads(r.value)["type"] for r in drain(bus, WEBHOOKS_DELIVER)]
    assert hooks == ["batch.completed"]  # announced once, when it first completed


def test_undecodable_message_is_a_permanent_error(service: JobService, bus: MemoryBus) -> None:
    record = Record(topic=TOPIC, partition=0, offset=0, value=b"\xff\xfe")
    (error,) = run(echo_stage(service), bus, [record])
    from nunchi.errors import PermanentError

    assert isinstance(error, PermanentError)


def test_unknown_job_id_is_skipped(service: JobService, bus: MemoryBus) -> None:
    record = Record(topic=TOPIC, partition=0, offset=0, value=b"0" * 32)
    assert run(echo_stage(service), bus, [record]) == [None]


@pytest.mark.parametrize("n", [1, 300])
def test_many_fast_jobs_in_one_poll(service: JobService, bus: MemoryBus, n: int) -> None:
    batch = service.submit_batch(ECHO, [{"payload": i} for i in range(n)])
    records = drain(bus, TOPIC, expect=n)
    assert run(echo_stage(service), bus, records) == [None] * n
    assert service.get_batch(batch.id).counts.succeeded == n
    assert len(drain(bus, JOBS_COMPLETED, expect=n)) == n
