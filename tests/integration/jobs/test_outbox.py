"""The transactional outbox: a job committed while the bus is down (or the process dies
before publishing) is still published, by the relay."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from nunchi.bus.base import Bus, Consumer, Message
from nunchi.bus.memory import MemoryBus
from nunchi.config import Settings
from nunchi.errors import BusUnavailable
from nunchi.jobs.kinds import KindRegistry
from nunchi.jobs.models import Job, OutboxMessage
from nunchi.jobs.outbox import PendingMessages
from nunchi.jobs.relay import outbox_relay
from nunchi.jobs.service import JobService
from nunchi.jobs.topics import job_requested
from nunchi.store.db import session_factory
from tests.integration.jobs.conftest import drain, wait_for

TOPIC = job_requested("diagnostic.echo")


class SwitchableBus(Bus):
    """A real MemoryBus whose publishing can be switched off, as if the broker were down."""

    def __init__(self) -> None:
        self.inner = MemoryBus()
        self.down = False

    def ensure_topic(self, name: str, partitions: int = 1) -> None:
        self.inner.ensure_topic(name, partitions)

    def publish_batch(self, messages: Sequence[Message]) -> None:
        if self.down:
            raise BusUnavailable("broker down (test)")
        self.inner.publish_batch(messages)

    def consumer(self, group: str, topics: Sequence[str]) -> Consumer:
        return self.inner.consumer(group, topics)

    def partitions(self, topic: str) -> int:
        return self.inner.partitions(topic)


def outbox_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(OutboxMessage)).scalar_one())


@pytest.fixture
def flaky(
    engine: Engine, registry: KindRegistry, settings: Settings
) -> tuple[JobService, SwitchableBus]:
    bus = SwitchableBus()
    return JobService(session_factory(engine), bus, registry, settings), bus


def test_bus_down_keeps_the_job_and_the_relay_publishes_it(
    flaky: tuple[JobService, SwitchableBus], engine: Engine
) -> None:
    service, bus = flaky
    bus.down = True
    job = service.submit("diagnostic.echo", {})
    batch = service.submit_batch("diagnostic.echo", [{}, {}, {}])
    assert service.get(job.id).status == "queued"
    assert outbox_rows(engine) == 2  # one for the job, one standing for the whole batch
    assert service.relay_outbox(older_than=3600) == 0  # too young: its writer may still publish
    bus.down = False
    assert service.relay_outbox(older_than=0) == 4
    assert outbox_rows(engine) == 0
    values = sorted(r.value for r in drain(bus.inner, TOPIC))
    batch_ids = [j.id for j in service.list(batch=batch.id).items]
    assert values == sorted(i.encode() for i in [job.id, *batch_ids])


def test_crash_between_commit_and_publish(
    flaky: tuple[JobService, SwitchableBus], engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, bus = flaky

    def die(pending: PendingMessages) -> bool:  # the process "dies" right after commit
        return False

    monkeypatch.setattr(service.outbox, "flush", die)
    job = service.submit("diagnostic.echo", {})
    assert drain(bus.inner, TOPIC) == []
    monkeypatch.undo()
    relay = outbox_relay(service, interval=0.05, grace=0)
    relay.start()
    try:
        wait_for(lambda: outbox_rows(engine) == 0, what="the relay to empty the outbox")
    finally:
        relay.stop(10)
    assert [r.value for r in drain(bus.inner, TOPIC)] == [job.id.encode()]


def test_a_failed_transaction_publishes_nothing(
    flaky: tuple[JobService, SwitchableBus], engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, bus = flaky
    sessions: sessionmaker[Session] = service.sessions

    real_stage = service.outbox.stage

    def boom(session: Session, messages: Sequence[Message], **kw: object) -> PendingMessages:
        real_stage(session, messages, **kw)  # type: ignore[arg-type]
        raise RuntimeError("database went away mid-transaction")

    monkeypatch.setattr(service.outbox, "stage", boom)
    with pytest.raises(RuntimeError):
        service.submit("diagnostic.echo", {})
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 0
    assert outbox_rows(engine) == 0
    assert drain(bus.inner, TOPIC) == []
