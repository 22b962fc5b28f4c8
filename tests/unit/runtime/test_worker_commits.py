"""Worker: commits follow finished work only, backpressure, graceful stop, rebalances."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from nunchi.bus.base import Bus, Message
from nunchi.runtime import Delivery, Stage, StageContext, Worker
from nunchi.runtime.stage import Handler
from tests.unit.runtime.support import FaultyBus, fresh_name, wait_for


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """An event blocked handlers wait on; always set at teardown so no thread stays stuck."""
    event = threading.Event()
    yield event
    event.set()


def _publish(bus: Bus, topic: str, count: int, partitions: int = 1) -> None:
    bus.ensure_topic(topic, partitions)
    bus.publish_batch(
        [Message(topic, f"m{i}".encode(), key=f"k{i}".encode()) for i in range(count)]
    )


@pytest.mark.parametrize("slow_offset", [0, 3])
def test_commit_stops_below_an_unfinished_record(
    bus: Bus, release: threading.Event, slow_offset: int
) -> None:
    topic = fresh_name("t")
    _publish(bus, topic, 8)

    def handle(d: Delivery, ctx: StageContext) -> None:
        if d.record.offset == slow_offset:
            release.wait(30)

    stage = Stage(fresh_name("s"), topic, handle, concurrency=3)
    worker = Worker(bus, [stage], poll_timeout=0.05)
    worker.start()
    wait_for(lambda: worker.stats()[stage.name].processed == 7, what="the fast records handled")
    wait_for(
        lambda: worker.stats()[stage.name].in_flight == 8 - slow_offset,
        what="the records before the slow one committed",
    )
    worker.stop(0.2)  # crash-like: the slow record is abandoned, unfinished
    assert bus.lag(stage.consumer_group, topic) == 8 - slow_offset

    # a new worker in the same group gets the unfinished record again
    redelivered: list[int] = []
    again = Stage(stage.name, topic, lambda d, c: redelivered.append(d.record.offset))
    with Worker(bus, [again], poll_timeout=0.05) as second:
        wait_for(lambda: second.stats()[again.name].processed == 8 - slow_offset, what="redelivery")
    assert redelivered[0] == slow_offset
    assert sorted(redelivered) == list(range(slow_offset, 8))
    assert bus.lag(stage.consumer_group, topic) == 0


def test_backpressure_bounds_records_in_flight(bus: Bus, release: threading.Event) -> None:
    topic = fresh_name("t")
    _publish(bus, topic, 30, partitions=2)
    lock = threading.Lock()
    running = 0
    peak = 0
    more_than_bound = threading.Event()

    def handle(d: Delivery, ctx: StageContext) -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
            if running > 5:
                more_than_bound.set()
        release.wait(30)
        with lock:
            running -= 1

    # more handler threads than the bound: only the bound can hold them back
    stage = Stage(fresh_name("s"), topic, handle, partitions=2, concurrency=8, max_in_flight=5)
    with Worker(bus, [stage], poll_timeout=0.05) as worker:
        wait_for(lambda: running == 5, what="five blocked handlers")
        assert not more_than_bound.wait(0.3), "polled past max_in_flight"
        assert worker.stats()[stage.name].in_flight == 5
        release.set()
        wait_for(lambda: worker.stats()[stage.name].processed == 30, what="all handled")
    assert peak == 5
    assert bus.lag(stage.consumer_group, topic) == 0


def test_graceful_stop_finishes_and_commits_in_flight_work(
    bus: Bus, release: threading.Event
) -> None:
    topic = fresh_name("t")
    _publish(bus, topic, 4)
    started = threading.Semaphore(0)
    spy = FaultyBus(bus)

    def handle(d: Delivery, ctx: StageContext) -> None:
        started.release()
        release.wait(30)

    stage = Stage(fresh_name("s"), topic, handle, concurrency=4)
    worker = Worker(spy, [stage], poll_timeout=0.05)
    worker.start()
    for _ in range(4):
        assert started.acquire(timeout=10)
    stopper = threading.Thread(target=worker.stop, args=(10,))
    stopper.start()
    wait_for(lambda: not worker.running, what="stop to begin")
    [consumer] = spy.consumers
    assert not consumer.closed.wait(0.3), "left the group before in-flight work finished"
    assert worker.stats()[stage.name].processed == 0
    release.set()
    stopper.join(15)
    assert not stopper.is_alive()
    assert consumer.closed.is_set()
    assert worker.stats()[stage.name].processed == 4
    assert bus.lag(stage.consumer_group, topic) == 0


def test_stop_drains_queued_records_but_not_new_polls(bus: Bus) -> None:
    topic = fresh_name("t")
    _publish(bus, topic, 20)
    gate = threading.Event()
    handled: list[int] = []

    def handle(d: Delivery, ctx: StageContext) -> None:
        gate.wait(30)
        handled.append(d.record.offset)

    stage = Stage(fresh_name("s"), topic, handle, concurrency=1)
    worker = Worker(bus, [stage], poll_timeout=0.05)
    worker.start()
    wait_for(lambda: worker.stats()[stage.name].in_flight == 20, what="one poll of 20")
    stopper = threading.Thread(target=worker.stop, args=(10,))
    stopper.start()
    wait_for(lambda: not worker.running, what="stop to begin")
    gate.set()
    stopper.join(15)
    assert handled == list(range(20))
    assert bus.lag(stage.consumer_group, topic) == 0


def test_partitions_lost_to_a_rebalance_leave_the_tracker(
    bus: Bus, release: threading.Event
) -> None:
    topic = fresh_name("t")
    _publish(bus, topic, 40, partitions=2)
    seen: dict[str, list[tuple[int, int]]] = {"first": [], "second": []}

    def handler(who: str) -> Handler:
        def handle(d: Delivery, ctx: StageContext) -> None:
            seen[who].append((d.record.partition, d.record.offset))
            release.wait(30)

        return handle

    group = fresh_name("g")
    first = Stage("first", topic, handler("first"), group=group, partitions=2, concurrency=40)
    worker1 = Worker(bus, [first], poll_timeout=0.05)
    worker1.start()
    wait_for(lambda: worker1.stats()["first"].in_flight == 40, what="first owns everything")

    second = Stage("second", topic, handler("second"), group=group, partitions=2, concurrency=40)
    worker2 = Worker(bus, [second], poll_timeout=0.05)
    worker2.start()
    try:
        # the group now has two members: the first drops the partition it lost
        wait_for(lambda: worker1.stats()["first"].in_flight < 40, what="first to drop a partition")
        # in_flight counts a record when it is handed to the pool, before its handler runs:
        # wait for the handlers themselves, and for the two workers to hold all 40 between them
        wait_for(
            lambda: len(seen["second"]) > 0
            and worker1.stats()["first"].in_flight + worker2.stats()["second"].in_flight == 40,
            what="second to run the lost partition's records",
        )
        lost = {p for p, _ in seen["second"]}
        assert len(lost) == 1
        release.set()
        wait_for(lambda: bus.lag(group, topic) == 0, what="both partitions committed")
    finally:
        worker1.stop(5)
        worker2.stop(5)
    handled = {*seen["first"], *seen["second"]}
    assert len(handled) == 40
