"""Retention of the SQLite event log: the setting reaches the bus, and pruning deletes only
records past the limit that every consumer group still reading the topic has committed.

Time is controlled without sleeping: a tiny ``retention_seconds`` makes every record and commit
old at once (member liveness stays lease-based), or rows are backdated in the file."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from functools import partial
from pathlib import Path

import pytest
from pydantic import ValidationError

import nunchi.bus.sqlite as sqlite_bus
from nunchi.assembly import open_platform
from nunchi.bus import Consumer, Message, open_bus
from nunchi.bus._sqlite_retention import prune_chunk
from nunchi.bus.sqlite import SqliteBus
from nunchi.config import Settings
from nunchi.errors import InvalidInput
from tests.fixtures.processes import wait_for
from tests.unit.bus.support import drain

TINY = 1e-6
"""A retention every record and commit is older than by the time prune() runs."""
HOUR = 3600.0


def _sql(path: Path, statement: str, *args: object) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(path)) as conn, conn:
        return conn.execute(statement, args).fetchall()


def _offsets(path: Path, topic: str) -> list[int]:
    rows = _sql(path, 'SELECT "offset" FROM records WHERE topic = ? ORDER BY "offset"', topic)
    return [int(str(r[0])) for r in rows]


def _backdate(path: Path, table: str, column: str, seconds: float, where: str = "1") -> None:
    _sql(path, f"UPDATE {table} SET {column} = {column} - ? WHERE {where}", seconds)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """This test's log file."""
    return tmp_path / "bus.db"


@pytest.fixture
def open_consumers() -> Iterator[list[Consumer]]:
    """Consumers the test opened, closed at the end."""
    consumers: list[Consumer] = []
    yield consumers
    for c in consumers:
        c.close()


# -- the setting -------------------------------------------------------------------------------


def test_retention_defaults_to_a_week_and_empty_or_zero_keeps_everything(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("NUNCHI_BUS_RETENTION_HOURS", raising=False)
    assert Settings(_env_file=None).bus_retention_hours == 168  # type: ignore[call-arg]
    for raw, hours in [("", 0.0), ("0", 0.0), ("1.5", 1.5)]:
        monkeypatch.setenv("NUNCHI_BUS_RETENTION_HOURS", raw)
        assert Settings(_env_file=None).bus_retention_hours == hours  # type: ignore[call-arg]
    for bad in ("-1", "nan", "a week"):
        monkeypatch.setenv("NUNCHI_BUS_RETENTION_HOURS", bad)
        with pytest.raises(ValidationError, match="bus_retention_hours"):
            Settings(_env_file=None)  # type: ignore[call-arg]


def test_open_bus_passes_the_retention_to_the_sqlite_log(db: Path) -> None:
    url = f"sqlite:///{db}"
    with open_bus(url, retention_hours=2) as bus:
        assert isinstance(bus, SqliteBus)
        assert bus.retention_seconds == 2 * HOUR
    with open_bus(url, retention_hours=0) as bus:
        assert isinstance(bus, SqliteBus)
        assert bus.retention_seconds is None
    with open_bus("memory://", retention_hours=2):
        pass  # the memory bus keeps everything; no error
    with pytest.raises(InvalidInput, match="retention_hours"):
        open_bus(url, retention_hours=-1)


def test_nunchi_up_opens_its_log_with_the_configured_retention(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NUNCHI_BUS_URL", "NUNCHI_BUS_RETENTION_HOURS", "NUNCHI_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)  # the defaults are under test
    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    platform = open_platform(settings)
    try:
        assert isinstance(platform.bus, SqliteBus)
        assert platform.bus.retention_seconds == 168 * HOUR
    finally:
        platform.close()


# -- what is pruned ----------------------------------------------------------------------------


def test_records_past_retention_go_once_every_group_committed_them(
    db: Path, open_consumers: list[Consumer]
) -> None:
    with SqliteBus(db, retention_seconds=TINY) as bus:
        bus.ensure_topic("t", 2)
        bus.publish_batch([Message("t", b"%d" % i, key=b"%d" % i) for i in range(20)])
        fast, slow = bus.consumer("fast", ["t"]), bus.consumer("slow", ["t"])
        open_consumers += [fast, slow]
        fast.commit(drain(fast, 20))
        slow_records = drain(slow, 20)
        first = [r for r in slow_records if r.partition == 0][:3]
        slow.commit(first)
        assert bus.prune() == 3, "only what both groups committed"
        assert bus.lag("slow", "t") == 17
        slow.commit(slow_records)
        assert bus.prune() == 17
        assert _offsets(db, "t") == []
        assert bus.lag("fast", "t") == bus.lag("slow", "t") == 0


def test_an_uncommitted_record_is_never_pruned(db: Path, open_consumers: list[Consumer]) -> None:
    with SqliteBus(db, retention_seconds=TINY, max_records_per_partition=1) as bus:
        bus.ensure_topic("t", 1)
        bus.publish_batch([Message("t", b"x") for _ in range(5)])
        reader = bus.consumer("reader", ["t"])
        slow = bus.consumer("slow", ["t"])  # joined, has not polled or committed yet
        open_consumers += [reader, slow]
        reader.commit(drain(reader, 5))
        assert bus.prune() == 0
        assert _offsets(db, "t") == [0, 1, 2, 3, 4]
        slow.commit(drain(slow, 5)[:2])
        assert bus.prune() == 2
        assert _offsets(db, "t") == [2, 3, 4]


def test_committed_records_younger_than_retention_stay(
    db: Path, open_consumers: list[Consumer]
) -> None:
    with SqliteBus(db, retention_seconds=HOUR) as bus:
        bus.ensure_topic("t", 1)
        bus.publish_batch([Message("t", b"x") for _ in range(6)])
        consumer = bus.consumer("g", ["t"])
        open_consumers.append(consumer)
        consumer.commit(drain(consumer, 6))
        assert bus.prune() == 0
        _backdate(db, "records", "ts", 2 * HOUR, '"offset" < 4')
        assert bus.prune() == 4
        assert _offsets(db, "t") == [4, 5]


def test_an_abandoned_group_stops_blocking_one_retention_after_its_last_commit(
    db: Path, open_consumers: list[Consumer]
) -> None:
    with SqliteBus(db, retention_seconds=HOUR) as bus:
        bus.ensure_topic("t", 1)
        bus.publish_batch([Message("t", b"%d" % i) for i in range(10)])
        _backdate(db, "records", "ts", 2 * HOUR)
        live, idle, gone = (bus.consumer(g, ["t"]) for g in ("live", "idle", "gone"))
        open_consumers += [live, idle]
        live.commit(drain(live, 10))
        idle.commit(drain(idle, 10)[:5])
        gone.commit(drain(gone, 10)[:3])
        gone.close()  # no member left
        assert bus.prune() == 3, "a recent commit holds records back without members"

        _backdate(db, "offsets", "updated_at", 2 * HOUR)
        assert bus.prune() == 2, "'gone' expired; 'idle' has a live member, so it still counts"
        assert _offsets(db, "t") == [5, 6, 7, 8, 9]

        idle.close()
        assert bus.prune() == 5, "no live member and an old commit: 'idle' expired too"
        assert bus.lag("gone", "t") == 0, "its offsets are kept; pruned records do not count"

        back = bus.consumer("gone", ["t"])  # resumes after what was deleted meanwhile
        open_consumers.append(back)
        assert back.poll(timeout=0.2) == []
        bus.publish("t", b"new")
        assert [r.offset for r in drain(back, 1)] == [10]


def test_a_topic_no_group_has_joined_keeps_everything(
    db: Path, open_consumers: list[Consumer]
) -> None:
    with SqliteBus(db, retention_seconds=TINY, max_records_per_partition=1) as bus:
        bus.ensure_topic("jobs.x.requested", 1)
        bus.ensure_topic("jobs.x.requested.dlq", 1)
        bus.publish_batch([Message("jobs.x.requested", b"job") for _ in range(4)])
        bus.publish_batch([Message("jobs.x.requested.dlq", b"dead") for _ in range(4)])
        consumer = bus.consumer("stage", ["jobs.x.requested"])
        open_consumers.append(consumer)
        consumer.commit(drain(consumer, 4))
        assert bus.prune() == 4
        assert _offsets(db, "jobs.x.requested.dlq") == [0, 1, 2, 3]


# -- how it runs -------------------------------------------------------------------------------


def test_prune_deletes_in_bounded_transactions(
    db: Path, open_consumers: list[Consumer], monkeypatch: pytest.MonkeyPatch
) -> None:
    chunks: list[int] = []

    def counting(*args: object, **kwargs: object) -> int:
        n = prune_chunk(*args, **kwargs)  # type: ignore[arg-type]
        chunks.append(n)
        return n

    monkeypatch.setattr(sqlite_bus, "PRUNE_CHUNK", 3)
    monkeypatch.setattr(sqlite_bus, "prune_chunk", counting)
    with SqliteBus(db, retention_seconds=TINY) as bus:
        bus.ensure_topic("t", 2)
        bus.publish_batch([Message("t", b"%d" % i) for i in range(20)])
        consumer = bus.consumer("g", ["t"])
        open_consumers.append(consumer)
        consumer.commit(drain(consumer, 20))
        assert bus.prune() == 20
    assert max(chunks) == 3
    assert sum(chunks) == 20
    assert len(chunks) == 7, "six full transactions of 3, then one that deletes the last 2"


def test_an_idle_process_prunes_from_its_consumers_heartbeats(
    db: Path, open_consumers: list[Consumer]
) -> None:
    with SqliteBus(db, retention_seconds=TINY, lease_seconds=0.3, prune_interval=HOUR) as bus:
        bus.ensure_topic("t", 1)
        bus.publish_batch([Message("t", b"x") for _ in range(5)])
        consumer = bus.consumer("g", ["t"])
        open_consumers.append(consumer)
        consumer.commit(drain(consumer, 5))
        assert _offsets(db, "t") == [0, 1, 2, 3, 4]
        bus.prune_interval = 0.0  # nothing publishes from here on
        wait_for(lambda: _offsets(db, "t") == [], 15, "a background prune", interval=0.02)


def test_the_max_records_limit_still_waits_for_every_group(
    db: Path, open_consumers: list[Consumer]
) -> None:
    with SqliteBus(db, max_records_per_partition=2) as bus:
        bus.ensure_topic("t", 1)
        bus.publish_batch([Message("t", b"%d" % i) for i in range(10)])
        assert bus.prune() == 0, "no group has read the topic yet"
        fast, slow = bus.consumer("fast", ["t"]), bus.consumer("slow", ["t"])
        open_consumers += [fast, slow]
        fast.commit(drain(fast, 10))
        slow_records = drain(slow, 10)
        slow.commit(slow_records[:4])
        assert bus.prune() == 4, "offsets 0-3: committed by both groups"
        slow.commit(slow_records)
        assert bus.prune() == 4, "offsets 4-7: the last 2 stay (max_records_per_partition)"
        late = bus.consumer("late", ["t"])
        open_consumers.append(late)
        assert [r.offset for r in drain(late, 2)] == [8, 9]
        assert bus.lag("late", "t") == 2


def test_background_prunes_reuse_one_thread_and_its_connection(db: Path) -> None:
    with SqliteBus(db, retention_seconds=TINY, prune_interval=0.0) as bus:
        bus.ensure_topic("t", 1)
        prunes: list[int] = []
        prune = bus.prune

        def counting_prune() -> int:
            deleted = prune()
            prunes.append(deleted)
            return deleted

        bus.prune = counting_prune  # type: ignore[method-assign]

        def pruned(times: int) -> bool:
            bus._maybe_prune()  # every call finds a prune due (prune_interval=0)
            return len(prunes) >= times

        bus.publish("t", b"first")
        wait_for(partial(pruned, 1), 10, "the first background prune", interval=0.005)
        opened = bus._db.opened  # in all: ended threads' connections are closed, still counted
        for times in range(2, 51):
            bus.publish("t", b"more")
            wait_for(partial(pruned, times), 10, f"background prune {times}", interval=0.005)
        assert bus._db.opened == opened, "each prune opened a connection"
        assert bus._db.open_connections() == 2, "this thread's and the pruner's"
