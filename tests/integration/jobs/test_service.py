"""JobService on SQLite and PostgreSQL with a MemoryBus: submit, batches, reads, listing."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select

from nunchi.bus.memory import MemoryBus
from nunchi.errors import Conflict, InvalidInput, NotFound
from nunchi.jobs.models import Batch, Job, JobEvent, OutboxMessage, jobs_table
from nunchi.jobs.service import JobService
from nunchi.jobs.topics import job_requested
from tests.integration.jobs.conftest import drain

ECHO = "diagnostic.echo"
TOPIC = job_requested(ECHO)


def count(engine: Engine, model: type) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


def test_submit_stores_queues_and_publishes(service: JobService, bus: MemoryBus) -> None:
    job = service.submit(ECHO, {"payload": {"말": "안녕"}}, "https://example.com/hook", "alice")
    assert job.status == "queued" and job.attempts == 0 and job.kind == ECHO
    assert job.input == {"delay_ms": 0, "fail_attempts": 0, "payload": {"말": "안녕"}}
    records = drain(bus, TOPIC)
    assert [r.value for r in records] == [job.id.encode()]
    assert records[0].key == job.id.encode()
    detail = service.get(job.id)
    assert detail.callback_url == "https://example.com/hook"
    assert [(e.type, e.actor) for e in detail.events] == [("queued", "alice")]
    assert detail.result is None and detail.error is None


def test_many_reads_the_jobs_that_exist_in_one_call(service: JobService) -> None:
    ids = [service.submit(ECHO, {"payload": i}).id for i in range(3)]
    missing = "0" * 12 + "7" + "0" * 19
    found = service.many([*ids, ids[0], missing, "not-an-id"])
    assert sorted(found) == sorted(ids)
    assert [found[i].input["payload"] for i in ids] == [0, 1, 2]
    assert service.many([]) == {}


def test_published_jobs_leave_no_outbox_rows(service: JobService, engine: Engine) -> None:
    service.submit(ECHO, {})
    service.submit_batch(ECHO, [{}, {}])
    assert count(engine, OutboxMessage) == 0


def test_ids_are_time_ordered(service: JobService) -> None:
    ids = [service.submit(ECHO, {}).id for _ in range(20)]
    assert ids == sorted(ids)
    assert all(len(i) == 32 and i[12] == "7" for i in ids)  # UUIDv7


def test_unknown_kind_stores_nothing(service: JobService, engine: Engine, bus: MemoryBus) -> None:
    with pytest.raises(
        InvalidInput, match=r"unknown job kind 'nope'; known kinds: diagnostic\.echo"
    ):
        service.submit("nope", {})
    with pytest.raises(InvalidInput, match="unknown job kind"):
        service.submit_batch("nope", [{}])
    assert count(engine, Job) == 0
    assert count(engine, Batch) == 0


@pytest.mark.parametrize(
    ("data", "field"),
    [({"delay_ms": 60_001}, "delay_ms"), ({"fail_attempts": -1}, "fail_attempts"), ({"x": 1}, "x")],
)
def test_bad_input_names_the_field(
    service: JobService, engine: Engine, data: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput, match=f"field '{field}'"):
        service.submit(ECHO, data)
    assert count(engine, Job) == 0


@pytest.mark.parametrize(
    "url", ["ftp://x/y", "not a url", "javascript:alert(1)", "https://" + "a" * 2050]
)
def test_bad_callback_url(service: JobService, engine: Engine, url: str) -> None:
    with pytest.raises(InvalidInput, match="callback_url"):
        service.submit(ECHO, {}, callback_url=url)
    assert count(engine, Job) == 0


def test_bad_batch_item_stores_and_publishes_nothing(
    service: JobService, engine: Engine, bus: MemoryBus
) -> None:
    items: list[object] = [{"payload": i} for i in range(10)]
    items[7] = {"delay_ms": "soon"}
    with pytest.raises(InvalidInput, match="item 7: field 'delay_ms'"):
        service.submit_batch(ECHO, items)
    items[7] = "not an object"
    with pytest.raises(InvalidInput, match="item 7"):
        service.submit_batch(ECHO, items)
    assert count(engine, Job) == count(engine, Batch) == count(engine, JobEvent) == 0
    assert drain(bus, TOPIC) == []


def test_batch_size_limits(service: JobService) -> None:
    with pytest.raises(InvalidInput, match="at least one item"):
        service.submit_batch(ECHO, [])
    with pytest.raises(InvalidInput, match="at most 20000 items; got 20001"):
        service.submit_batch(ECHO, [{}] * 20_001)


def test_batch_is_stored_counted_and_listed(service: JobService, bus: MemoryBus) -> None:
    batch = service.submit_batch(ECHO, [{"payload": i} for i in range(5)], "https://e.com/b", "bob")
    assert batch.total == 5 and batch.counts.queued == 5 and batch.completed_at is None
    again = service.get_batch(batch.id)
    assert again.counts.model_dump() == {"queued": 5, "running": 0, "succeeded": 0, "failed": 0}
    assert again.callback_url == "https://e.com/b"
    page = service.list(batch=batch.id)
    assert len(page.items) == 5 and page.next_cursor is None
    assert {j.input["payload"] for j in page.items} == set(range(5))
    assert all(j.callback_url is None for j in page.items)  # the batch is notified, not each job
    assert len(drain(bus, TOPIC)) == 5


def test_ten_thousand_item_batch(service: JobService, engine: Engine, bus: MemoryBus) -> None:
    batch = service.submit_batch(ECHO, [{"payload": i} for i in range(10_000)])
    assert count(engine, Job) == 10_000
    assert count(engine, JobEvent) == 10_000
    records = drain(bus, TOPIC, expect=10_000)
    assert len(records) == 10_000
    assert len({r.value for r in records}) == 10_000
    assert service.get_batch(batch.id).counts.queued == 10_000


def test_pagination_walks_every_job_once_newest_first(service: JobService) -> None:
    ids = [service.submit(ECHO, {"payload": i}).id for i in range(7)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = service.list(cursor=cursor, limit=3)
        seen.extend(j.id for j in page.items)
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert pages == 3
    assert seen == list(reversed(ids))


def test_filters(service: JobService, engine: Engine) -> None:
    a = service.submit(ECHO, {})
    b = service.submit(ECHO, {})
    with engine.begin() as conn:
        conn.execute(jobs_table.update().where(Job.id == b.id).values(status="failed"))
    assert [j.id for j in service.list(status="failed").items] == [b.id]
    assert [j.id for j in service.list(status="queued").items] == [a.id]
    assert len(service.list(kind=ECHO).items) == 2
    assert service.list(kind="other").items == []
    assert service.list(batch="0" * 32).items == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"status": "done"}, "unknown status 'done'"),
        ({"limit": 0}, "limit must be between 1 and 500"),
        ({"limit": 501}, "limit must be between 1 and 500"),
        ({"cursor": "zzz"}, "bad cursor"),
    ],
)
def test_bad_list_arguments(service: JobService, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        service.list(**kwargs)  # type: ignore[arg-type]


def test_unknown_ids(service: JobService) -> None:
    for bad in ("0" * 32, "nope", "../etc"):
        with pytest.raises(NotFound):
            service.get(bad)
        with pytest.raises(NotFound):
            service.get_batch(bad)
        with pytest.raises(NotFound):
            service.retry(bad, "x")
        with pytest.raises(NotFound):
            service.retry_failed(bad, "x")


def test_only_failed_jobs_can_be_retried(service: JobService) -> None:
    job = service.submit(ECHO, {})
    with pytest.raises(Conflict, match="is queued; only failed jobs can be retried"):
        service.retry(job.id, "admin")


def test_counts_by_kind_and_status(service: JobService, engine: Engine) -> None:
    assert service.counts() == {}
    service.submit(ECHO, {})
    b = service.submit(ECHO, {})
    with engine.begin() as conn:
        conn.execute(jobs_table.update().where(Job.id == b.id).values(status="succeeded"))
    assert service.counts() == {ECHO: {"queued": 1, "running": 0, "succeeded": 1, "failed": 0}}


def test_timeline_counts_finished_jobs_per_minute(service: JobService) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from nunchi.jobs.models import Job
    from nunchi.store.types import utcnow

    now = utcnow().replace(second=30, microsecond=0)
    ids = [service.submit(ECHO, {}).id for _ in range(4)]
    finished = [
        (ids[0], "succeeded", now),
        (ids[1], "succeeded", now - timedelta(minutes=2)),
        (ids[2], "failed", now - timedelta(minutes=2)),
        (ids[3], "succeeded", now - timedelta(minutes=90)),  # before the window
    ]
    with service.sessions.begin() as s:
        for job_id, status, at in finished:
            s.execute(update(Job).where(Job.id == job_id).values(status=status, finished_at=at))
    line = service.timeline(5, now=now)
    assert line.succeeded == [0, 0, 1, 0, 1] and line.failed == [0, 0, 1, 0, 0]
    assert line.minutes[-1] == now.replace(second=0) and len(line.minutes) == 5
    with pytest.raises(InvalidInput):
        service.timeline(0)
