"""Unit tests of SqliteBus details: input checks, header encoding, lease fencing (retention:
``test_sqlite_retention.py``)."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from nunchi.bus import Message, open_bus
from nunchi.bus._sqlite_db import decode_headers, encode_headers
from nunchi.bus.sqlite import SqliteBus
from nunchi.errors import BusError, InvalidInput
from tests.fixtures.processes import wait_for
from tests.unit.bus.support import drain


def test_open_bus_sqlite_url(tmp_path: Path) -> None:
    bus = open_bus(f"sqlite:///{tmp_path / 'bus.db'}")
    try:
        assert isinstance(bus, SqliteBus)
        assert (tmp_path / "bus.db").exists()
    finally:
        bus.close()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"synchronous": "OFF"}, "synchronous"),
        ({"lease_seconds": 0}, "lease_seconds"),
        ({"retention_seconds": -1}, "retention_seconds"),
        ({"max_records_per_partition": 0}, "max_records_per_partition"),
    ],
)
def test_bad_settings_are_refused(tmp_path: Path, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        SqliteBus(tmp_path / "bus.db", **kwargs)  # type: ignore[arg-type]


def test_bad_paths_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="memory://"):
        SqliteBus(":memory:")
    with pytest.raises(InvalidInput, match="no directory"):
        SqliteBus(tmp_path / "missing" / "bus.db")


def test_file_is_in_wal_mode(tmp_path: Path) -> None:
    with SqliteBus(tmp_path / "bus.db", synchronous="FULL") as bus:
        bus.ensure_topic("t")
        bus.publish("t", b"x")
    with sqlite3.connect(tmp_path / "bus.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


@pytest.mark.parametrize(
    "headers", [{}, {"a": b""}, {"trace-id": b"\x00\xff" * 10, "언어": "한국어".encode()}]
)
def test_headers_roundtrip(headers: dict[str, bytes]) -> None:
    assert decode_headers(encode_headers(headers)) == headers


def test_closed_bus_refuses_work(tmp_path: Path) -> None:
    bus = SqliteBus(tmp_path / "bus.db")
    bus.ensure_topic("t")
    consumer = bus.consumer("g", ["t"])
    bus.close()
    assert consumer.assignment() == set()
    with pytest.raises(BusError, match="closed"):
        bus.publish("t", b"x")


def test_poll_wakes_at_once_on_a_publish_in_this_process(tmp_path: Path) -> None:
    with SqliteBus(tmp_path / "bus.db") as bus:
        bus.ensure_topic("t")
        consumer = bus.consumer("g", ["t"])
        assert consumer.poll(timeout=0) == []
        timer = threading.Timer(0.2, bus.publish, ("t", b"now"))
        start = time.monotonic()
        timer.start()
        records = consumer.poll(timeout=5.0)
        waited = time.monotonic() - start
        timer.join()
    assert [r.value for r in records] == [b"now"]
    assert waited < 1.0


def test_commit_after_losing_the_lease_is_ignored_and_regaining_resumes(tmp_path: Path) -> None:
    db = tmp_path / "bus.db"
    with SqliteBus(db, lease_seconds=0.5) as bus:  # members re-check leases every 1/6 s
        bus.ensure_topic("t", 1)
        bus.publish_batch([Message("t", b"%d" % i) for i in range(5)])
        consumer = bus.consumer("g", ["t"])
        records = drain(consumer, 5)
        assert len(records) == 5
        with sqlite3.connect(db) as conn:  # another member takes the partition over
            conn.execute("UPDATE leases SET owner = 'other', epoch = epoch + 1")
        consumer.commit(records)
        assert bus.lag("g", "t") == 5, "a commit without the lease must not count"
        # 'other' is no live member, so the consumer regains the partition under a new epoch
        # and starts again from the committed offset
        again = drain(consumer, 5)
        assert [r.offset for r in again] == [0, 1, 2, 3, 4]
        consumer.commit(again)
        assert bus.lag("g", "t") == 0
        consumer.close()


def test_a_publish_wakes_only_the_pollers_of_its_topic() -> None:
    from nunchi.bus._sqlite_db import Notifier

    notifier = Notifier()
    woke: dict[str, float] = {}

    def poller(topic: str) -> None:
        seen = notifier.version([topic])
        started = time.monotonic()
        notifier.wait(seen, 5.0, [topic])
        woke[topic] = time.monotonic() - started

    threads = [threading.Thread(target=poller, args=(t,)) for t in ("a", "b")]
    for t in threads:
        t.start()
    waiters = notifier._cond._waiters  # type: ignore[attr-defined]
    wait_for(lambda: len(waiters) >= 2, 5, "both pollers waiting", interval=0.001)
    notifier.notify(["a"])
    threads[0].join(5)
    assert "a" in woke and woke["a"] < 1.0
    assert "b" not in woke  # still asleep: nothing was published to b
    notifier.notify()  # a group change wakes everyone
    threads[1].join(5)
    assert woke["b"] < 4.0 and not threads[1].is_alive()


def test_connections_of_ended_threads_are_closed(tmp_path: Path) -> None:
    """Publishing from many short-lived threads (timers, request threads) keeps one
    connection per live thread, not one per thread that ever published (which ran a process
    out of file descriptors)."""
    with SqliteBus(tmp_path / "bus.db") as bus:
        bus.ensure_topic("t")
        for i in range(40):
            t = threading.Thread(target=bus.publish, args=("t", str(i).encode()))
            t.start()
            t.join()
        assert bus._db.open_connections() <= 3  # this thread's, the last one's, maybe one more
        consumer = bus.consumer("g", ["t"])
        assert len(drain(consumer, 40)) == 40
