"""Unit tests for the helpers the bus backends share."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nunchi.bus import Message, Record
from nunchi.bus._common import (
    assign_partitions,
    check_message,
    check_partitions,
    check_poll_args,
    check_topic_name,
    check_topics,
    commit_positions,
    partition_for_key,
)
from nunchi.errors import InvalidInput


def test_partition_for_key_is_stable_and_matches_librdkafka_crc32() -> None:
    import zlib

    assert partition_for_key(b"user-1", 7) == zlib.crc32(b"user-1") % 7
    assert {partition_for_key(b"k", 4) for _ in range(10)} == {partition_for_key(b"k", 4)}
    spread = {partition_for_key(str(i).encode(), 8) for i in range(200)}
    assert spread == set(range(8))


def test_assign_partitions_is_fair_and_exclusive() -> None:
    result = assign_partitions([("a", ["t"]), ("b", ["t"]), ("c", ["t"])], {"t": 8, "other": 3})
    owned = [tp for tps in result.values() for tp in tps]
    assert sorted(owned) == [("t", p) for p in range(8)]
    assert sorted(len(v) for v in result.values()) == [2, 3, 3]


def test_assign_partitions_respects_subscriptions() -> None:
    result = assign_partitions([("a", ["x"]), ("b", ["y"])], {"x": 2, "y": 3})
    assert result == {"a": {("x", 0), ("x", 1)}, "b": {("y", 0), ("y", 1), ("y", 2)}}


def test_commit_positions_takes_max_plus_one_per_partition() -> None:
    records = [Record("t", 0, 4, b""), Record("t", 0, 2, b""), Record("t", 1, 0, b"")]
    assert commit_positions(records) == {("t", 0): 5, ("t", 1): 1}
    with pytest.raises(InvalidInput):
        commit_positions([("t", 0, 1)])  # type: ignore[list-item]


@pytest.mark.parametrize("name", ["", "has space", "ü", "x" * 250, ".", "..", 3])
def test_bad_topic_names_are_refused(name: object) -> None:
    with pytest.raises(InvalidInput, match="topic name"):
        check_topic_name(name)


def test_good_topic_names_pass() -> None:
    assert check_topic_name("jobs.text-1_x.requested") == "jobs.text-1_x.requested"


@pytest.mark.parametrize("value", [0, -1, 10_001, 1.5, True, "2"])
def test_bad_partition_counts_are_refused(value: object) -> None:
    with pytest.raises(InvalidInput, match="partitions"):
        check_partitions(value)


def test_check_topics_wants_a_non_empty_list() -> None:
    with pytest.raises(InvalidInput, match="wrap a single topic"):
        check_topics("t")
    with pytest.raises(InvalidInput, match="at least one"):
        check_topics([])
    assert check_topics(["a", "b", "a"]) == ["a", "b"]


@pytest.mark.parametrize(
    ("message", "match"),
    [
        (Message("t", "text"), "value must be bytes"),  # type: ignore[arg-type]
        (Message("t", b"v", key="k"), "key must be bytes"),  # type: ignore[arg-type]
        (Message("t", b"v", headers={"h": "s"}), "header 'h'"),  # type: ignore[dict-item]
        (Message("bad topic", b"v"), "topic name"),
        ("not a message", "expected a nunchi.bus.Message"),
    ],
)
def test_bad_messages_are_refused(message: object, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        check_message(message)


@pytest.mark.parametrize(("max_records", "timeout"), [(0, 1.0), (1, -1), ("5", 1.0), (1, "x")])
def test_bad_poll_args_are_refused(max_records: object, timeout: object) -> None:
    with pytest.raises(InvalidInput):
        check_poll_args(max_records, timeout)


@given(
    subscriptions=st.lists(st.sets(st.sampled_from("abc"), min_size=1), min_size=1, max_size=6),
    counts=st.fixed_dictionaries({t: st.integers(1, 9) for t in "abc"}),
)
def test_assign_partitions_properties(
    subscriptions: list[set[str]], counts: dict[str, int]
) -> None:
    members = [(f"m{i}", topics) for i, topics in enumerate(subscriptions)]
    result = assign_partitions(members, counts)
    owners: dict[tuple[str, int], list[str]] = {}
    for member, tps in result.items():
        for tp in tps:
            owners.setdefault(tp, []).append(member)
    subscribed = set().union(*subscriptions)
    expected = {(t, p) for t in subscribed for p in range(counts[t])}
    assert set(owners) == expected
    assert all(len(m) == 1 for m in owners.values()), "each partition has one owner"
    for member, topics in members:
        assert all(tp[0] in topics for tp in result[member])
    if all(s == subscriptions[0] for s in subscriptions):
        sizes = [len(tps) for tps in result.values()]
        assert max(sizes) - min(sizes) <= 1
