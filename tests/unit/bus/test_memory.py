"""Unit tests specific to MemoryBus (the shared behaviour is in tests/integration/bus)."""

from __future__ import annotations

import threading
import time

import pytest

from nunchi.bus import Message, open_bus
from nunchi.bus.memory import MemoryBus
from nunchi.errors import BusError, NotFound


def test_open_bus_memory_url() -> None:
    assert isinstance(open_bus("memory://"), MemoryBus)


def test_publish_to_missing_topic_says_what_to_do() -> None:
    bus = MemoryBus()
    with pytest.raises(NotFound, match="ensure_topic"):
        bus.publish("nope", b"x")
    with pytest.raises(NotFound):
        bus.consumer("g", ["nope"])
    with pytest.raises(NotFound):
        bus.partitions("nope")


def test_publish_batch_is_all_or_nothing() -> None:
    bus = MemoryBus()
    bus.ensure_topic("t")
    with pytest.raises(NotFound):
        bus.publish_batch([Message("t", b"1"), Message("missing", b"2")])
    assert bus.lag("g", "t") == 0


def test_poll_wakes_up_when_a_record_arrives() -> None:
    bus = MemoryBus()
    bus.ensure_topic("t")
    consumer = bus.consumer("g", ["t"])
    started = threading.Event()

    def publish_later() -> None:
        started.wait(5)
        bus.publish("t", b"hello")

    thread = threading.Thread(target=publish_later)
    thread.start()
    begin = time.monotonic()
    started.set()
    records = consumer.poll(timeout=5.0)
    thread.join(5)
    assert [r.value for r in records] == [b"hello"]
    assert time.monotonic() - begin < 2.0


def test_poll_returns_empty_after_timeout() -> None:
    bus = MemoryBus()
    bus.ensure_topic("t")
    consumer = bus.consumer("g", ["t"])
    begin = time.monotonic()
    assert consumer.poll(timeout=0.1) == []
    assert 0.09 <= time.monotonic() - begin < 1.0


def test_round_robin_without_key_spreads_over_partitions() -> None:
    bus = MemoryBus()
    bus.ensure_topic("t", 3)
    bus.publish_batch([Message("t", b"%d" % i) for i in range(9)])
    consumer = bus.consumer("g", ["t"])
    records = consumer.poll(timeout=0)
    assert sorted({r.partition for r in records}) == [0, 1, 2]
    assert all(sum(r.partition == p for r in records) == 3 for p in range(3))


def test_max_records_is_respected() -> None:
    bus = MemoryBus()
    bus.ensure_topic("t", 2)
    bus.publish_batch([Message("t", b"x") for _ in range(10)])
    consumer = bus.consumer("g", ["t"])
    assert len(consumer.poll(max_records=3, timeout=0)) == 3
    assert len(consumer.poll(max_records=100, timeout=0)) == 7


def test_commit_of_lost_partition_is_ignored() -> None:
    bus = MemoryBus()
    bus.ensure_topic("t", 2)
    bus.publish_batch([Message("t", b"x"), Message("t", b"y")])  # round robin: one each
    first = bus.consumer("g", ["t"])
    records = first.poll(timeout=0)
    assert len(records) == 2
    second = bus.consumer("g", ["t"])  # takes one partition away from ``first``
    lost = {tp for tp in [("t", 0), ("t", 1)] if tp not in first.assignment()}
    assert lost == second.assignment()
    first.commit(records)
    assert bus.lag("g", "t") == 1  # only the partition ``first`` still owns was committed


def test_closed_consumer_and_bus_refuse_work() -> None:
    bus = MemoryBus()
    bus.ensure_topic("t")
    consumer = bus.consumer("g", ["t"])
    consumer.close()
    consumer.close()  # idempotent
    assert consumer.assignment() == set()
    with pytest.raises(BusError):
        consumer.poll(timeout=0)
    bus.close()
    with pytest.raises(BusError):
        bus.publish("t", b"x")


def test_concurrent_publishers_get_dense_offsets() -> None:
    bus = MemoryBus()
    bus.ensure_topic("t")

    def publish() -> None:
        for _ in range(200):
            bus.publish("t", b"x")

    threads = [threading.Thread(target=publish) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    records = bus.consumer("g", ["t"]).poll(max_records=1000, timeout=0)
    assert [r.offset for r in records] == list(range(800))
