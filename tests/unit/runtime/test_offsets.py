"""OffsetTracker: commits cover only a contiguous run of finished records per partition."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from nunchi.bus.base import Record
from nunchi.runtime._offsets import OffsetTracker


def _rec(offset: int, partition: int = 0, topic: str = "t") -> Record:
    return Record(topic, partition, offset, b"")


def test_commit_waits_for_the_lowest_unfinished_record() -> None:
    tracker = OffsetTracker()
    tickets = [tracker.add(_rec(i))[0] for i in range(5)]
    for i in (1, 2, 4):
        tracker.finish(tickets[i])
    assert tracker.take_committable() == []
    assert tracker.lowest_unfinished(("t", 0)) == 0
    tracker.finish(tickets[0])
    assert [r.offset for r in tracker.take_committable()] == [2]
    assert len(tracker) == 2
    tracker.finish(tickets[3])
    assert [r.offset for r in tracker.take_committable()] == [4]
    assert len(tracker) == 0
    assert tracker.take_committable() == []


def test_partitions_are_independent_and_dropping_one_forgets_it() -> None:
    tracker = OffsetTracker()
    a, _ = tracker.add(_rec(0, partition=0))
    b, _ = tracker.add(_rec(0, partition=1))
    tracker.add(_rec(1, partition=1))
    tracker.finish(b)
    assert [(r.partition, r.offset) for r in tracker.take_committable()] == [(1, 0)]
    assert tracker.drop([("t", 1)]) == 1
    assert tracker.partitions() == {("t", 0)}
    tracker.finish(a)
    assert [(r.partition, r.offset) for r in tracker.take_committable()] == [(0, 0)]


def test_a_rewound_partition_starts_over_and_never_commits_backwards() -> None:
    tracker = OffsetTracker()
    old = [tracker.add(_rec(i))[0] for i in range(3)]
    tracker.finish(old[0])
    assert [r.offset for r in tracker.take_committable()] == [0]
    # the consumer redelivers from offset 0 (it lost and regained the partition unseen)
    again, dropped = tracker.add(_rec(0))
    assert dropped == 2
    assert old[1].dropped and old[2].dropped
    tracker.finish(again)
    assert tracker.take_committable() == []  # offset 0 was already handed out
    nxt, _ = tracker.add(_rec(1))
    tracker.finish(nxt)
    assert [r.offset for r in tracker.take_committable()] == [1]


@given(st.integers(1, 60), st.data())
def test_commit_never_passes_an_unfinished_record(n: int, data: st.DataObject) -> None:
    tracker = OffsetTracker()
    offsets = sorted(data.draw(st.sets(st.integers(0, 500), min_size=n, max_size=n)))
    tickets = {o: tracker.add(_rec(o))[0] for o in offsets}
    order = data.draw(st.permutations(offsets))
    committed = -1
    for count, offset in enumerate(order, 1):
        tracker.finish(tickets[offset])
        for record in tracker.take_committable():
            assert record.offset > committed
            committed = record.offset
        unfinished = [o for o in offsets if not tickets[o].done]
        if unfinished:
            assert committed < min(unfinished)
        assert len(tracker) == len([o for o in offsets if o > committed])
        assert count == len(offsets) - len(unfinished)
    assert committed == offsets[-1]
    assert len(tracker) == 0
