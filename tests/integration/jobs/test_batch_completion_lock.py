"""Two workers finishing jobs of one batch at once on PostgreSQL: the batch-row lock that
serialises them must not deadlock when both already hold the foreign-key lock on the batch
(``FOR KEY SHARE``, taken e.g. by updating one of its job rows twice in a transaction)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select, update

from nunchi.bus.base import Message
from nunchi.bus.memory import MemoryBus
from nunchi.config import Settings
from nunchi.jobs.lifecycle import complete_batches
from nunchi.jobs.models import Batch, jobs_table
from nunchi.jobs.service import JobService
from nunchi.store.db import create_engine_for, migrate, session_factory
from nunchi.store.types import utcnow

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    eng = create_engine_for(pg_url)
    migrate(eng)
    yield eng
    eng.dispose()


def test_concurrent_finishers_holding_key_share_do_not_deadlock(pg_engine: Engine) -> None:
    sessions = session_factory(pg_engine)
    service = JobService(sessions, MemoryBus(), settings=Settings(default_partitions=1))
    batch = service.submit_batch("diagnostic.echo", [{"payload": 1}, {"payload": 2}])
    ids = [j.id for j in service.list(batch=batch.id).items]
    with sessions.begin() as s:
        s.execute(
            update(jobs_table)
            .where(jobs_table.c.batch_id == batch.id)
            .values(status="succeeded", finished_at=utcnow())
        )

    key_share = (
        select(Batch.id).where(Batch.id == batch.id).with_for_update(read=True, key_share=True)
    )
    both_hold = threading.Barrier(2, timeout=10)
    results: dict[str, list[Message] | BaseException] = {}

    def finisher(job_id: str) -> None:
        try:
            with sessions.begin() as s:
                s.execute(key_share)  # what a foreign-key check on a job row takes
                both_hold.wait()
                results[job_id] = complete_batches(s, [batch.id], utcnow())
        except BaseException as e:
            results[job_id] = e

    threads = [threading.Thread(target=finisher, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    errors = [r for r in results.values() if isinstance(r, BaseException)]
    assert not errors, f"a finisher failed: {errors[0]!r}"
    with sessions() as s:
        done = s.get(Batch, batch.id)
        assert done is not None and done.completion_notified and done.completed_at is not None
