"""Worker: configuration checks, start/stop, signals, and riding out bus failures."""

from __future__ import annotations

import os
import random
import signal
import threading
from types import FrameType

import pytest

from nunchi.bus.base import Bus, Message
from nunchi.bus.topics import dlq_topic
from nunchi.errors import Conflict, InvalidInput, PermanentError
from nunchi.runtime import Delivery, RetryPolicy, Stage, StageContext, Worker
from nunchi.runtime.deadletter import DeadLetter
from tests.unit.runtime.support import FaultyBus, drain, fresh_name, holds_for, wait_for


def _ok(d: Delivery, ctx: StageContext) -> None:
    return None


@pytest.mark.parametrize(
    ("stages", "message"),
    [
        ([], "at least one stage"),
        ([Stage("a", "t1", _ok), Stage("a", "t2", _ok)], "stage names must be unique"),
        ([Stage("a", "t1", _ok, concurrency=0)], "concurrency must be at least 1"),
        ([Stage("a", "t1", _ok, max_in_flight=0)], "max_in_flight must be at least 1"),
        ([Stage("a", "t1", _ok, retry=RetryPolicy(max_attempts=0))], "max_attempts"),
    ],
)
def test_bad_configuration_is_refused_with_what_to_fix(
    memory_bus: Bus, stages: list[Stage], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        Worker(memory_bus, stages)


def test_a_single_stage_must_come_in_a_list(memory_bus: Bus) -> None:
    with pytest.raises(InvalidInput, match="wrap a single stage in a list"):
        Worker(memory_bus, Stage("a", "t1", _ok))  # type: ignore[arg-type]


def test_a_worker_starts_once(memory_bus: Bus) -> None:
    worker = Worker(memory_bus, [Stage(fresh_name("s"), fresh_name("t"), _ok)], poll_timeout=0.05)
    worker.start()
    try:
        with pytest.raises(Conflict, match="already started"):
            worker.start()
    finally:
        worker.stop(5)
    worker.stop(5)  # idempotent
    with pytest.raises(Conflict):
        worker.start()


def test_start_fails_cleanly_when_a_topic_cannot_be_created(memory_bus: Bus) -> None:
    good = Stage(fresh_name("s"), fresh_name("t"), _ok)
    bad = Stage(fresh_name("s"), "no spaces allowed", _ok)
    worker = Worker(memory_bus, [good, bad], poll_timeout=0.05)
    with pytest.raises(InvalidInput, match="invalid topic name"):
        worker.start()
    assert not worker.running
    # the good stage left its group: a new member gets all its partitions
    consumer = memory_bus.consumer(good.consumer_group, [good.topic])
    assert len(consumer.assignment()) == 4
    consumer.close()


def test_poll_failures_are_logged_and_ridden_out(
    memory_bus: Bus, caplog: pytest.LogCaptureFixture
) -> None:
    topic = fresh_name("t")
    memory_bus.ensure_topic(topic, 1)
    memory_bus.publish(topic, b"hello")
    bus = FaultyBus(memory_bus, poll_failures=3)
    stage = Stage(fresh_name("s"), topic, _ok)
    with (
        caplog.at_level("WARNING", logger="nunchi.runtime"),
        Worker(bus, [stage], poll_timeout=0.05) as worker,
    ):
        wait_for(lambda: worker.stats()[stage.name].processed == 1, what="handled after outage")
        wait_for(lambda: memory_bus.lag(stage.consumer_group, topic) == 0, what="committed")
        assert worker.stats()[stage.name].last_error == (
            "nunchi.errors.BusUnavailable: injected: broker unreachable"
        )
    outage = [r for r in caplog.records if "poll loop error" in r.getMessage()]
    assert len(outage) == 3


def test_a_failed_dead_letter_publish_is_retried_before_the_commit(
    memory_bus: Bus, caplog: pytest.LogCaptureFixture
) -> None:
    topic = fresh_name("t")
    memory_bus.ensure_topic(topic, 1)
    memory_bus.publish(topic, b"secret-value-123", key=b"k")
    bus = FaultyBus(memory_bus, dlq_failures=2)  # retried after 0.5 s, then after 1 s

    def handle(d: Delivery, ctx: StageContext) -> None:
        raise PermanentError("rejected")

    stage = Stage(fresh_name("s"), topic, handle)
    with (
        caplog.at_level("INFO", logger="nunchi.runtime"),
        Worker(bus, [stage], poll_timeout=0.05) as worker,
    ):

        def last_error() -> str:
            return worker.stats()[stage.name].last_error or ""

        wait_for(lambda: last_error().startswith("dead-letter publish failed"), what="a failure")
        assert holds_for(lambda: memory_bus.lag(stage.consumer_group, topic) == 1, 0.3), (
            "committed before the dead letter was durable"
        )
        assert worker.stats()[stage.name].dead_lettered == 0
        wait_for(lambda: worker.stats()[stage.name].dead_lettered == 1, what="dead-lettered")
        wait_for(lambda: memory_bus.lag(stage.consumer_group, topic) == 0, what="committed")
    [record] = drain(memory_bus, dlq_topic(topic), 1)
    assert DeadLetter.from_record(record).error_message == "rejected"
    assert bus.dlq_failures == 0
    lines = [r.getMessage() for r in caplog.records]
    assert any("could not dead-letter" in line for line in lines)
    [dead_line] = [line for line in lines if "dead-lettered" in line]
    assert f"{topic}[0]@0" in dead_line
    assert "nunchi.errors.PermanentError" in dead_line
    assert all("secret-value-123" not in line for line in lines), "a record value was logged"


def test_run_until_stopped_returns_on_request_stop(memory_bus: Bus) -> None:
    topic = fresh_name("t")
    memory_bus.ensure_topic(topic, 1)
    memory_bus.publish(topic, b"x")
    stage = Stage(fresh_name("s"), topic, _ok)
    worker = Worker(memory_bus, [stage], poll_timeout=0.05)
    runner = threading.Thread(target=worker.run_until_stopped, kwargs={"stop_timeout": 5})
    runner.start()
    wait_for(lambda: memory_bus.lag(stage.consumer_group, topic) == 0, what="committed")
    worker.request_stop()
    runner.join(10)
    assert not runner.is_alive()
    assert not worker.running


def test_sigterm_stops_run_until_stopped_gracefully(memory_bus: Bus) -> None:
    topic = fresh_name("t")
    memory_bus.ensure_topic(topic, 1)
    memory_bus.publish_batch([Message(topic, b"a"), Message(topic, b"b")])
    stage = Stage(fresh_name("s"), topic, _ok)
    worker = Worker(memory_bus, [stage], poll_timeout=0.05)

    def previous(signum: int, frame: FrameType | None) -> None:
        raise AssertionError("the worker's handler should have taken SIGTERM")

    def kill_when_done() -> None:
        wait_for(lambda: memory_bus.lag(stage.consumer_group, topic) == 0, what="committed")
        os.kill(os.getpid(), signal.SIGTERM)

    old = signal.signal(signal.SIGTERM, previous)
    try:
        killer = threading.Thread(target=kill_when_done)
        killer.start()
        worker.run_until_stopped(stop_timeout=5)  # returns once SIGTERM arrives
        killer.join(10)
        assert signal.getsignal(signal.SIGTERM) is previous, "handler not restored"
    finally:
        signal.signal(signal.SIGTERM, old)
    assert not worker.running
    assert worker.stats()[stage.name].processed == 2


class _OverflowingPolicy(RetryPolicy):
    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        raise OverflowError("multiplier ** attempt is out of range")


class _BrokenPolicy(RetryPolicy):
    def should_retry(self, error: BaseException, attempt: int) -> bool:
        raise RuntimeError("policy bug")


def test_a_retry_policy_that_fails_never_wedges_the_stage(memory_bus: Bus) -> None:
    topic = fresh_name("t")
    memory_bus.ensure_topic(topic, 1)
    memory_bus.publish_batch([Message(topic, b"a")])
    attempts: list[int] = []

    def handle(d: Delivery, ctx: StageContext) -> None:
        attempts.append(d.attempt)
        if d.attempt == 1:
            raise ConnectionError("once")

    overflowing = Stage(fresh_name("s"), topic, handle, retry=_OverflowingPolicy(max_delay=0.01))
    broken = Stage(fresh_name("s"), topic, handle, retry=_BrokenPolicy())
    with Worker(memory_bus, [overflowing, broken], poll_timeout=0.05) as worker:
        # an overflowing delay falls back to max_delay; a failing policy dead-letters
        wait_for(lambda: worker.stats()[overflowing.name].processed == 1, what="retried")
        wait_for(lambda: worker.stats()[broken.name].dead_lettered == 1, what="dead-lettered")
        wait_for(lambda: memory_bus.lag(broken.consumer_group, topic) == 0, what="committed")
        wait_for(lambda: memory_bus.lag(overflowing.consumer_group, topic) == 0)
