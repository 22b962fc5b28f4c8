"""Worker: handling, retries, dead letters and handle_batch, on every bus backend."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from nunchi.bus.base import Bus, Message
from nunchi.bus.topics import dlq_topic
from nunchi.errors import NotFound, PermanentError
from nunchi.runtime import Delivery, RetryPolicy, Stage, StageContext, Worker
from nunchi.runtime.deadletter import DeadLetter
from tests.unit.runtime.support import drain, fresh_name, wait_for

FAST = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05)


def _publish(bus: Bus, topic: str, values: Sequence[bytes], partitions: int = 1) -> None:
    bus.ensure_topic(topic, partitions)
    bus.publish_batch([Message(topic, v) for v in values])


def _lag(bus: Bus, stage: Stage) -> int | None:
    return bus.lag(stage.consumer_group, stage.topic)


def test_success_path_handles_every_record_and_commits(bus: Bus) -> None:
    topic = fresh_name("t")
    values = [f"m{i}".encode() for i in range(30)]
    _publish(bus, topic, values, partitions=3)
    seen: list[bytes] = []
    lock = threading.Lock()

    def handle(d: Delivery, ctx: StageContext) -> None:
        assert d.attempt == 1
        assert ctx.stage == stage.name
        with lock:
            seen.append(d.record.value)

    stage = Stage(fresh_name("s"), topic, handle, partitions=3, concurrency=3)
    worker = Worker(bus, [stage], poll_timeout=0.05)
    worker.start()
    try:
        wait_for(lambda: len(seen) == 30, what="all records handled")
        wait_for(lambda: _lag(bus, stage) == 0, what="everything committed")
        stats = worker.stats()[stage.name]
        assert stats.processed == 30
        assert (stats.failed, stats.retried, stats.dead_lettered) == (0, 0, 0)
        wait_for(lambda: worker.stats()[stage.name].in_flight == 0, what="in-flight drained")
    finally:
        worker.stop(5)
    assert sorted(seen) == sorted(values)
    # the worker created the dead-letter topic, with the same partitions
    assert bus.partitions(dlq_topic(topic)) == 3


def test_failing_handler_is_retried_until_it_succeeds(bus: Bus) -> None:
    topic = fresh_name("t")
    _publish(bus, topic, [b"flaky", b"fine"])
    attempts: list[tuple[bytes, int]] = []
    lock = threading.Lock()

    def handle(d: Delivery, ctx: StageContext) -> None:
        with lock:
            attempts.append((d.record.value, d.attempt))
        if d.record.value == b"flaky" and d.attempt <= 3:
            raise ConnectionError(f"try {d.attempt} failed")

    stage = Stage(fresh_name("s"), topic, handle, retry=FAST)
    with Worker(bus, [stage], poll_timeout=0.05) as worker:
        wait_for(lambda: worker.stats()[stage.name].processed == 2, what="both handled")
        wait_for(lambda: _lag(bus, stage) == 0, what="committed")
        stats = worker.stats()[stage.name]
    assert [a for v, a in attempts if v == b"flaky"] == [1, 2, 3, 4]
    assert [a for v, a in attempts if v == b"fine"] == [1]
    assert (stats.failed, stats.retried, stats.dead_lettered) == (3, 3, 0)
    assert stats.last_error == "ConnectionError: try 3 failed"
    assert bus.lag(fresh_name("nobody"), dlq_topic(topic)) == 0


def test_never_retry_error_is_dead_lettered_at_once(bus: Bus) -> None:
    topic = fresh_name("t")
    _publish(bus, topic, [b"poison"])
    attempts: list[int] = []

    def handle(d: Delivery, ctx: StageContext) -> None:
        attempts.append(d.attempt)
        raise PermanentError("cannot parse this payload")

    stage = Stage(fresh_name("s"), topic, handle, retry=FAST)
    with Worker(bus, [stage], poll_timeout=0.05) as worker:
        wait_for(lambda: worker.stats()[stage.name].dead_lettered == 1, what="dead-lettered")
        wait_for(lambda: _lag(bus, stage) == 0, what="committed")
        stats = worker.stats()[stage.name]
    assert attempts == [1]
    assert (stats.failed, stats.retried, stats.processed) == (1, 0, 0)
    [record] = drain(bus, dlq_topic(topic), 1)
    dead = DeadLetter.from_record(record)
    assert dead.error_type == "nunchi.errors.PermanentError"
    assert dead.attempts == 1


def _explode(value: bytes) -> None:
    raise ValueError(f"bad payload of {len(value)} bytes")


def test_exhausted_retries_dead_letter_the_original_with_the_failure(bus: Bus) -> None:
    topic = fresh_name("t")
    bus.ensure_topic(topic, 2)
    bus.publish(topic, b"\x00payload\xff", key=b"user-7", headers={"trace-id": b"abc"})
    attempts: list[int] = []

    def handle(d: Delivery, ctx: StageContext) -> None:
        attempts.append(d.attempt)
        _explode(d.record.value)

    policy = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02)
    stage = Stage(fresh_name("s"), topic, handle, retry=policy, partitions=2)
    with Worker(bus, [stage], poll_timeout=0.05) as worker:
        wait_for(lambda: worker.stats()[stage.name].dead_lettered == 1, what="dead-lettered")
        wait_for(lambda: _lag(bus, stage) == 0, what="committed")
        stats = worker.stats()[stage.name]
    assert attempts == [1, 2, 3]
    assert (stats.failed, stats.retried, stats.processed) == (3, 2, 0)

    [record] = drain(bus, dlq_topic(topic), 1)
    dead = DeadLetter.from_record(record)
    assert dead.value == b"\x00payload\xff"
    assert dead.key == b"user-7"
    assert dead.original_headers == {"trace-id": b"abc"}
    assert dead.stage == stage.name
    assert dead.original_topic == topic
    assert dead.original_partition == record.partition  # same key -> same partition
    assert dead.original_offset == 0
    assert dead.error_type == "ValueError"
    assert dead.error_message == "bad payload of 9 bytes"
    assert "Traceback" in dead.traceback
    assert "_explode" in dead.traceback
    assert "ValueError: bad payload of 9 bytes" in dead.traceback
    assert dead.attempts == 3


def test_a_record_waiting_for_its_retry_does_not_block_the_others(bus: Bus) -> None:
    topic = fresh_name("t")
    _publish(bus, topic, [b"slow-retry", b"b", b"c"])
    events: list[tuple[bytes, int, float]] = []

    def handle(d: Delivery, ctx: StageContext) -> None:
        events.append((d.record.value, d.attempt, time.monotonic()))
        if d.record.value == b"slow-retry" and d.attempt == 1:
            raise TimeoutError("upstream slow")

    # one handler thread; the retry waits 1 s: a sleeping handler would hold b and c back
    policy = RetryPolicy(max_attempts=2, base_delay=1.0, jitter=0.0)
    stage = Stage(fresh_name("s"), topic, handle, retry=policy, concurrency=1)
    with Worker(bus, [stage], poll_timeout=0.05) as worker:
        wait_for(lambda: worker.stats()[stage.name].processed == 3, what="all handled")
    assert [(v, a) for v, a, _ in events] == [
        (b"slow-retry", 1),
        (b"b", 1),
        (b"c", 1),
        (b"slow-retry", 2),
    ]
    failed_at = events[0][2]
    assert events[2][2] - failed_at < 0.8, "b and c waited for the other record's backoff"
    assert events[3][2] - failed_at >= 0.99, "the retry came before its backoff"


def test_handle_batch_gets_whole_polls_and_retries_failures_alone(bus: Bus) -> None:
    topic = fresh_name("t")
    values = [f"v{i}".encode() for i in range(40)]
    _publish(bus, topic, values)
    batches: list[list[tuple[bytes, int]]] = []
    done: set[bytes] = set()

    def handle_batch(
        deliveries: Sequence[Delivery], ctx: StageContext
    ) -> list[BaseException | None]:
        batches.append([(d.record.value, d.attempt) for d in deliveries])
        out: list[BaseException | None] = []
        for d in deliveries:
            if d.record.value == b"v7" and d.attempt == 1:
                out.append(OSError("disk busy"))
            else:
                done.add(d.record.value)
                out.append(None)
        return out

    def never(d: Delivery, ctx: StageContext) -> None:
        raise AssertionError("handle must not be called when handle_batch is set")

    stage = Stage(fresh_name("s"), topic, never, handle_batch=handle_batch, retry=FAST)
    with Worker(bus, [stage], poll_timeout=0.05) as worker:
        wait_for(lambda: worker.stats()[stage.name].processed == 40, what="all handled")
        wait_for(lambda: _lag(bus, stage) == 0, what="committed")
        stats = worker.stats()[stage.name]
    assert done == set(values)
    assert len(batches[0]) > 1, "the first poll should come as one batch"
    assert batches[-1] == [(b"v7", 2)]
    assert sum(len(b) for b in batches) == 41
    assert (stats.failed, stats.retried, stats.dead_lettered) == (1, 1, 0)


def test_a_batch_handler_that_fell_behind_gets_the_queued_polls_in_one_call(bus: Bus) -> None:
    """While a handle_batch call is busy, later polls queue up; the next call takes them
    together (a stage that fell behind catches up in bigger batches, not poll by poll)."""
    topic = fresh_name("t")
    bus.ensure_topic(topic, 1)
    release = threading.Event()
    sizes: list[int] = []

    def handle_batch(
        deliveries: Sequence[Delivery], ctx: StageContext
    ) -> list[BaseException | None]:
        sizes.append(len(deliveries))
        if len(sizes) == 1:
            release.wait(10)
        return [None] * len(deliveries)

    stage = Stage(fresh_name("s"), topic, lambda d, c: None, handle_batch=handle_batch)
    with Worker(bus, [stage], poll_timeout=0.05) as worker:
        _publish(bus, topic, [b"first"])
        wait_for(lambda: sizes == [1], what="the first call")
        for n in range(5):  # five polls admitted while the handler is busy
            _publish(bus, topic, [f"{n}-{i}".encode() for i in range(10)])
            wait_for(lambda n=n: worker.stats()[stage.name].in_flight == 1 + 10 * (n + 1),
                     what=f"poll {n} admitted")  # fmt: skip
        release.set()
        wait_for(lambda: worker.stats()[stage.name].processed == 51, what="all handled")
    assert sizes == [1, 50]


@pytest.mark.parametrize("mode", ["raises", "wrong-length"])
def test_broken_handle_batch_fails_every_delivery_of_the_batch(bus: Bus, mode: str) -> None:
    topic = fresh_name("t")
    _publish(bus, topic, [b"a", b"b", b"c"])

    def handle_batch(
        deliveries: Sequence[Delivery], ctx: StageContext
    ) -> list[BaseException | None]:
        if mode == "raises":
            raise PermanentError("the batch write was rejected")
        return [None]

    def never(d: Delivery, ctx: StageContext) -> None:
        raise AssertionError("unused")

    stage = Stage(
        fresh_name("s"), topic, never, handle_batch=handle_batch, retry=RetryPolicy(max_attempts=1)
    )
    with Worker(bus, [stage], poll_timeout=0.05) as worker:
        wait_for(lambda: worker.stats()[stage.name].dead_lettered == 3, what="dead-lettered")
        wait_for(lambda: _lag(bus, stage) == 0, what="committed")
    dead = [DeadLetter.from_record(r) for r in drain(bus, dlq_topic(topic), 3)]
    assert sorted(d.value for d in dead) == [b"a", b"b", b"c"]
    if mode == "raises":
        assert {d.error_type for d in dead} == {"nunchi.errors.PermanentError"}
    else:
        assert {d.error_type for d in dead} == {"nunchi.runtime.failures.HandleBatchError"}
        assert "returned 1 outcomes for 3 deliveries" in dead[0].error_message


def test_a_stage_on_a_dead_letter_topic_retries_instead_of_dead_lettering(bus: Bus) -> None:
    source = fresh_name("t")
    topic = dlq_topic(source)
    _publish(bus, topic, [b"dead letter"])
    attempts: list[int] = []

    def handle(d: Delivery, ctx: StageContext) -> None:
        attempts.append(d.attempt)
        if d.attempt < 3:
            raise PermanentError("the database is down")

    stage = Stage(fresh_name("s"), topic, handle, retry=FAST)
    with Worker(bus, [stage], poll_timeout=0.05) as worker:
        wait_for(lambda: worker.stats()[stage.name].processed == 1, what="handled")
        wait_for(lambda: _lag(bus, stage) == 0, what="committed")
        stats = worker.stats()[stage.name]
    assert attempts == [1, 2, 3]
    assert (stats.dead_lettered, stats.retried) == (0, 2)
    with pytest.raises(NotFound):
        bus.partitions(topic + ".dlq")  # no dead-letter topic of a dead-letter topic
