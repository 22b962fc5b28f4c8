"""The contract every Bus backend passes (memory, sqlite, kafka): one suite, parametrised
by the ``bus`` fixture."""

from __future__ import annotations

import time
from collections import defaultdict

import pytest

from nunchi.bus import Bus, Message, Record
from nunchi.errors import InvalidInput, NotFound
from tests.integration.bus._helpers import collect, fresh, total, wait_for_split


def _values(records: list[Record]) -> list[bytes]:
    return [r.value for r in records]


def test_publish_poll_roundtrip_with_key_and_headers(bus: Bus) -> None:
    topic, group = fresh("roundtrip"), fresh("g")
    bus.ensure_topic(topic, 1)
    before = time.time()
    bus.publish(topic, b"hello", key=b"user-1", headers={"trace": b"abc", "empty": b""})
    bus.publish(topic, "안녕".encode(), headers={"lang": b"ko"})
    with bus.consumer(group, [topic]) as consumer:
        [records] = collect([consumer], total(2))
    first, second = records
    assert (first.topic, first.partition, first.offset) == (topic, 0, 0)
    assert (first.value, first.key, dict(first.headers)) == (
        b"hello",
        b"user-1",
        {"trace": b"abc", "empty": b""},
    )
    assert (second.offset, second.key, second.value.decode()) == (1, None, "안녕")
    assert dict(second.headers) == {"lang": b"ko"}
    assert before - 5 <= first.timestamp <= time.time() + 5


def test_per_key_order_is_kept(bus: Bus) -> None:
    topic, group = fresh("order"), fresh("g")
    bus.ensure_topic(topic, 4)
    keys = [b"a", b"b", b"c", b"d", b"e"]
    bus.publish_batch([Message(topic, b"%d" % i, key=keys[i % 5]) for i in range(100)])
    bus.publish_batch([Message(topic, b"%d" % i, key=keys[i % 5]) for i in range(100, 150)])
    with bus.consumer(group, [topic]) as consumer:
        [records] = collect([consumer], total(150))
    by_key: dict[bytes, list[int]] = defaultdict(list)
    partition_of: dict[bytes, set[int]] = defaultdict(set)
    for record in records:
        assert record.key is not None
        by_key[record.key].append(int(record.value))
        partition_of[record.key].add(record.partition)
    for i, key in enumerate(keys):
        assert by_key[key] == list(range(i, 150, 5)), f"key {key!r} out of order"
        assert len(partition_of[key]) == 1, f"key {key!r} spread over partitions"
    per_partition: dict[int, list[int]] = defaultdict(list)
    for record in records:
        per_partition[record.partition].append(record.offset)
    for offsets in per_partition.values():
        assert offsets == list(range(len(offsets))), "offsets are dense and in order"


def test_partition_count_is_honoured(bus: Bus) -> None:
    topic, group = fresh("parts"), fresh("g")
    bus.ensure_topic(topic, 3)
    assert bus.partitions(topic) == 3
    bus.publish_batch([Message(topic, b"x") for _ in range(30)])  # no key: spread evenly
    with bus.consumer(group, [topic]) as consumer:
        [records] = collect([consumer], total(30))
        assert consumer.assignment() == {(topic, 0), (topic, 1), (topic, 2)}
    counts: dict[int, int] = defaultdict(int)
    for record in records:
        counts[record.partition] += 1
    assert dict(counts) == {0: 10, 1: 10, 2: 10}


def test_ensure_topic_is_idempotent_and_keeps_partitions(bus: Bus) -> None:
    topic = fresh("idem")
    bus.ensure_topic(topic, 2)
    bus.ensure_topic(topic, 2)
    bus.ensure_topic(topic, 5)
    assert bus.partitions(topic) == 2


def test_unknown_topics_and_bad_input_are_refused(bus: Bus) -> None:
    missing = fresh("missing")
    with pytest.raises(NotFound, match="ensure_topic"):
        bus.partitions(missing)
    with pytest.raises(NotFound):
        bus.publish(missing, b"x")
    with pytest.raises(NotFound):
        bus.consumer(fresh("g"), [missing])
    with pytest.raises(InvalidInput):
        bus.ensure_topic("no spaces allowed", 1)
    with pytest.raises(InvalidInput):
        bus.ensure_topic(fresh("zero"), 0)
    topic = fresh("typed")
    bus.ensure_topic(topic)
    with pytest.raises(InvalidInput, match="bytes"):
        bus.publish(topic, "text")  # type: ignore[arg-type]


def test_two_groups_each_get_every_record(bus: Bus) -> None:
    topic = fresh("fanout")
    bus.ensure_topic(topic, 2)
    bus.publish_batch([Message(topic, b"%d" % i) for i in range(20)])
    with bus.consumer(fresh("g1"), [topic]) as one, bus.consumer(fresh("g2"), [topic]) as two:
        first, second = collect(
            [one, two], lambda got: len(got[0]) >= 20 and len(got[1]) >= 20, commit=True
        )
    expected = sorted(b"%d" % i for i in range(20))
    assert sorted(_values(first)) == expected
    assert sorted(_values(second)) == expected


def test_members_of_one_group_split_partitions_and_see_each_record_once(bus: Bus) -> None:
    topic, group = fresh("split"), fresh("g")
    bus.ensure_topic(topic, 4)
    with bus.consumer(group, [topic]) as one, bus.consumer(group, [topic]) as two:
        wait_for_split([one, two], topic, 4)
        assert len(one.assignment()) == 2 and len(two.assignment()) == 2
        bus.publish_batch([Message(topic, b"%d" % i) for i in range(40)])
        first, second = collect([one, two], total(40), commit=True)
        # nothing more arrives: each record went to exactly one member
        assert one.poll(timeout=0.3) == []
        assert two.poll(timeout=0.3) == []
        assert {r.partition for r in first} <= {p for _, p in one.assignment()}
        assert {r.partition for r in second} <= {p for _, p in two.assignment()}
    assert first and second
    assert sorted(_values(first + second)) == sorted(b"%d" % i for i in range(40))


def test_uncommitted_records_are_redelivered_to_the_next_member(bus: Bus) -> None:
    topic, group = fresh("redeliver"), fresh("g")
    bus.ensure_topic(topic, 2)
    bus.publish_batch([Message(topic, b"%d" % i) for i in range(20)])
    with bus.consumer(group, [topic]) as first:
        [records] = collect([first], total(20))
        by_partition: dict[int, list[Record]] = defaultdict(list)
        for record in records:
            by_partition[record.partition].append(record)
        committed = [r for rs in by_partition.values() for r in rs[:4]]
        first.commit(committed)  # offsets 0-3 of each partition
    with bus.consumer(group, [topic]) as second:
        [again] = collect([second], total(12))
        later = second.poll(timeout=0.3)
    assert later == []
    assert sorted((r.partition, r.offset) for r in again) == sorted(
        (p, o) for p in (0, 1) for o in range(4, 10)
    )
    assert sorted(_values(again)) == sorted(set(_values(records)) - set(_values(committed)))


def test_commit_is_durable_and_a_new_member_resumes_after_it(bus: Bus) -> None:
    topic, group = fresh("resume"), fresh("g")
    bus.ensure_topic(topic, 1)
    bus.publish_batch([Message(topic, b"old-%d" % i) for i in range(5)])
    with bus.consumer(group, [topic]) as first:
        [records] = collect([first], total(5))
        first.commit(records)
    assert bus.lag(group, topic) == 0
    with bus.consumer(group, [topic]) as second:
        collect([second], lambda got: bool(second.assignment()))
        bus.publish(topic, b"new")
        [after] = collect([second], total(1))
        assert second.poll(timeout=0.3) == []
    assert _values(after) == [b"new"]
    assert after[0].offset == 5


def test_poll_timeout_returns_empty_list(bus: Bus) -> None:
    topic = fresh("empty")
    bus.ensure_topic(topic, 1)
    with bus.consumer(fresh("g"), [topic]) as consumer:
        collect([consumer], lambda got: bool(consumer.assignment()))
        start = time.monotonic()
        assert consumer.poll(timeout=0.5) == []
        waited = time.monotonic() - start
    assert 0.4 <= waited < 3.0


def test_a_closing_member_hands_its_partitions_over(bus: Bus) -> None:
    topic, group = fresh("takeover"), fresh("g")
    bus.ensure_topic(topic, 2)
    stays = bus.consumer(group, [topic])
    leaves = bus.consumer(group, [topic])
    try:
        wait_for_split([stays, leaves], topic, 2)
        lost = leaves.assignment()
        leaves.close()
        collect([stays], lambda got: stays.assignment() == {(topic, 0), (topic, 1)})
        bus.publish_batch([Message(topic, b"%d" % i) for i in range(10)])
        [records] = collect([stays], total(10), commit=True)
        assert {(r.topic, r.partition) for r in records} >= lost
    finally:
        stays.close()
        leaves.close()


def test_lag_counts_uncommitted_records(bus: Bus) -> None:
    topic, group = fresh("lag"), fresh("g")
    bus.ensure_topic(topic, 2)
    for i in range(6):  # one publish each: exact end offsets on every broker
        bus.publish(topic, b"%d" % i)
    assert bus.lag(group, topic) == 6
    with bus.consumer(group, [topic]) as consumer:
        [records] = collect([consumer], total(6))
        consumer.commit([r for r in records if r.partition == 0])
        assert bus.lag(group, topic) == 3
        consumer.commit(records)
        assert bus.lag(group, topic) == 0
