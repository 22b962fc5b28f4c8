"""The worker's Prometheus metrics, read back from the default registry."""

from __future__ import annotations

import threading

from prometheus_client import REGISTRY

from nunchi.bus.base import Bus, Message
from nunchi.errors import PermanentError
from nunchi.runtime import Delivery, RetryPolicy, Stage, StageContext, Worker
from tests.unit.runtime.support import fresh_name, wait_for


def _value(name: str, **labels: str) -> float:
    value = REGISTRY.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_counters_histograms_and_gauges_follow_the_work(memory_bus: Bus) -> None:
    topic = fresh_name("t")
    memory_bus.ensure_topic(topic, 1)
    memory_bus.publish_batch(
        [Message(topic, b"ok"), Message(topic, b"flaky"), Message(topic, b"poison")]
    )

    def handle(d: Delivery, ctx: StageContext) -> None:
        if d.record.value == b"poison":
            raise PermanentError("no")
        if d.record.value == b"flaky" and d.attempt == 1:
            raise ConnectionError("later")

    name = fresh_name("s")
    stage = Stage(name, topic, handle, retry=RetryPolicy(base_delay=0.01))
    worker = Worker(memory_bus, [stage], poll_timeout=0.05, lag_interval=60)
    assert memory_bus.lag(stage.consumer_group, topic) == 3
    worker.start()
    try:
        wait_for(lambda: memory_bus.lag(stage.consumer_group, topic) == 0, what="committed")
        worker.refresh_lag()
        assert _value("nunchi_consumer_lag", stage=name, topic=topic) == 0
        assert worker.stats()[name].lag == 0
    finally:
        worker.stop(5)
    assert _value("nunchi_stage_processed_total", stage=name) == 2
    assert _value("nunchi_stage_failed_total", stage=name) == 2
    assert _value("nunchi_stage_retried_total", stage=name) == 1
    assert _value("nunchi_stage_dead_lettered_total", stage=name) == 1
    # one observation per attempt; end to end once per finished record
    assert _value("nunchi_stage_latency_seconds_count", stage=name) == 4
    assert _value("nunchi_stage_latency_seconds_bucket", stage=name, le="60.0") == 4
    assert _value("nunchi_stage_end_to_end_seconds_count", stage=name) == 3
    assert _value("nunchi_stage_in_flight", stage=name) == 0


def test_lag_gauge_is_refreshed_by_the_worker(memory_bus: Bus) -> None:
    topic = fresh_name("t")
    memory_bus.ensure_topic(topic, 1)
    memory_bus.publish_batch([Message(topic, b"x")] * 3)
    name = fresh_name("s")

    def fail(d: Delivery, ctx: StageContext) -> None:
        raise ConnectionError("down")

    # nothing ever commits (retries wait an hour), so the lag stays at 3
    stage = Stage(name, topic, fail, retry=RetryPolicy(base_delay=3600, jitter=0))
    with Worker(memory_bus, [stage], poll_timeout=0.05, lag_interval=0.05) as worker:
        wait_for(lambda: worker.stats()[name].lag == 3, what="the lag refresh")
        wait_for(lambda: _value("nunchi_consumer_lag", stage=name, topic=topic) == 3)
        wait_for(lambda: _value("nunchi_stage_in_flight", stage=name) == 3)
        assert worker.stats()[name].in_flight == 3
    assert _value("nunchi_stage_in_flight", stage=name) == 0


def _gated_stage(bus: Bus, count: int) -> tuple[Stage, threading.Event]:
    """A stage on a fresh topic holding ``count`` records, whose handler waits for the gate."""
    topic = fresh_name("t")
    bus.ensure_topic(topic, 2)
    bus.publish_batch([Message(topic, b"x", key=b"%d" % i) for i in range(count)])
    gate = threading.Event()

    def handle(d: Delivery, ctx: StageContext) -> None:
        assert gate.wait(10), "the test never opened the gate"

    return Stage(fresh_name("s"), topic, handle), gate


def test_lag_falls_to_zero_soon_after_the_last_commit(bus: Bus) -> None:
    # the periodic refresh is an hour away: only the commits can bring the lag down
    stage, gate = _gated_stage(bus, 3)
    name, topic = stage.name, stage.topic
    with Worker(bus, [stage], poll_timeout=0.05, lag_interval=3600) as worker:
        wait_for(lambda: worker.stats()[name].lag == 3, what="the first lag refresh")
        gate.set()
        wait_for(lambda: worker.stats()[name].processed == 3, what="all records handled")
        wait_for(lambda: worker.stats()[name].lag == 0, timeout=5, what="the lag to reach 0")
        # the gauge is set just after the ledger, outside its lock: wait for it too
        wait_for(lambda: _value("nunchi_consumer_lag", stage=name, topic=topic) == 0,
                 timeout=5, what="the lag gauge to reach 0")
        assert worker.stats()[name].in_flight == 0


def test_lag_after_stop_counts_the_final_commit(bus: Bus) -> None:
    stage, gate = _gated_stage(bus, 3)
    worker = Worker(bus, [stage], poll_timeout=0.05, lag_interval=3600)
    worker.start()
    try:
        wait_for(lambda: worker.stats()[stage.name].lag == 3, what="the first lag refresh")
        gate.set()
        wait_for(lambda: worker.stats()[stage.name].processed == 3, what="all records handled")
    finally:
        worker.stop(5)
    assert bus.lag(stage.consumer_group, stage.topic) == 0
    assert worker.stats()[stage.name].lag == 0
    assert _value("nunchi_consumer_lag", stage=stage.name, topic=stage.topic) == 0
