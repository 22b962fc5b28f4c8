"""What only the embedded log promises: durability across reopen and ``kill -9``, groups
shared by OS processes with lease takeover, and one transaction per publish_batch."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from nunchi.bus import Message
from nunchi.bus.sqlite import SqliteBus
from tests.integration.bus._helpers import collect, fresh, total

REPO = Path(__file__).resolve().parents[3]
DEADLINE = 60.0


def _worker(*args: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.bus._sqlite_worker", *map(str, args)],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
    )


def _wait(condition: Callable[[], bool], what: str, procs: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        for proc in procs:
            assert proc.poll() is None, f"worker exited with {proc.returncode} before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _lines(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def test_records_and_commits_survive_reopening(tmp_path: Path) -> None:
    db, topic, group = tmp_path / "bus.db", fresh("t"), fresh("g")
    with SqliteBus(db) as bus:
        bus.ensure_topic(topic, 2)
        bus.publish_batch(
            [Message(topic, b"%d" % i, key=b"k%d" % i, headers={"n": b"%d" % i}) for i in range(10)]
        )
        with bus.consumer(group, [topic]) as consumer:
            [records] = collect([consumer], total(10))
            done = [r for r in records if int(r.value) < 4]
            consumer.commit(done)
    with SqliteBus(db) as reopened:
        assert reopened.partitions(topic) == 2
        expected_lag = 10 - sum(
            1 + max(r.offset for r in records if r.partition == p and int(r.value) < 4)
            for p in {r.partition for r in done}
        )
        assert reopened.lag(group, topic) == expected_lag
        with reopened.consumer(group, [topic]) as consumer:
            [again] = collect([consumer], total(expected_lag))
            assert consumer.poll(timeout=0.2) == []
    committed = {(r.partition, r.offset) for r in records} - {
        (r.partition, r.offset) for r in again
    }
    assert {(r.partition, r.offset) for r in done} <= committed
    assert all(r.headers == {"n": r.value} and r.key == b"k" + r.value for r in again)


def test_publish_and_commit_survive_kill_9(tmp_path: Path) -> None:
    db, topic, group = tmp_path / "bus.db", fresh("t"), fresh("g")
    with SqliteBus(db) as bus:
        bus.ensure_topic(topic, 1)
    proc = _worker("publish-and-die", db, group, topic, 100, 1.0)  # its lease: 1 s
    assert proc.wait(timeout=DEADLINE) == -signal.SIGKILL
    with SqliteBus(db) as bus:
        assert bus.lag(group, topic) == 50
        with bus.consumer(group, [topic]) as consumer:
            [records] = collect([consumer], total(50))
        assert [r.offset for r in records] == list(range(50, 100))
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_two_processes_share_one_group(tmp_path: Path) -> None:
    db, topic, group = tmp_path / "bus.db", fresh("t"), fresh("g")
    with SqliteBus(db) as bus:
        bus.ensure_topic(topic, 4)
    outs = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    stop = tmp_path / "stop"
    procs = [_worker("consume", db, group, topic, out, stop, 2, 2.0) for out in outs]
    try:
        readies = [out.with_suffix(".ready") for out in outs]
        _wait(lambda: all(r.exists() for r in readies), "both workers to own 2 partitions", procs)
        shares = [set(json.loads(r.read_text())) for r in readies]
        assert shares[0].isdisjoint(shares[1]) and shares[0] | shares[1] == {0, 1, 2, 3}
        with SqliteBus(db) as bus:
            bus.publish_batch([Message(topic, b"%d" % i) for i in range(200)])
        _wait(lambda: sum(len(_lines(o)) for o in outs) >= 200, "200 records consumed", procs)
        stop.touch()
        assert [p.wait(timeout=DEADLINE) for p in procs] == [0, 0]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    seen = [_lines(out) for out in outs]
    values = sorted(int(str(line["v"])) for lines in seen for line in lines)
    assert values == list(range(200)), "every record exactly once"
    for lines, share in zip(seen, shares, strict=True):
        assert lines and {line["p"] for line in lines} <= share
    with SqliteBus(db) as bus:
        assert bus.lag(group, topic) == 0


def test_a_killed_member_loses_its_partitions_and_its_records_are_redelivered(
    tmp_path: Path,
) -> None:
    lease = 1.0
    db, topic, group = tmp_path / "bus.db", fresh("t"), fresh("g")
    out = tmp_path / "held.jsonl"
    with SqliteBus(db, lease_seconds=lease) as bus:
        bus.ensure_topic(topic, 4)
        survivor = bus.consumer(group, [topic])
        victim = _worker("hold", db, group, topic, out, 2, lease, 20)
        try:
            _wait(
                lambda: (
                    not survivor.poll(timeout=0.05)  # empty topic: this only heartbeats
                    and out.with_suffix(".ready").exists()
                    and len(survivor.assignment()) == 2
                ),
                "the two members to split the partitions",
                [victim],
            )
            victim_share = {(topic, p) for p in json.loads(out.with_suffix(".ready").read_text())}
            assert survivor.assignment().isdisjoint(victim_share)
            bus.publish_batch([Message(topic, b"%d" % i) for i in range(40)])  # 10 a partition
            [mine] = collect([survivor], total(20), commit=True)
            _wait(lambda: out.with_suffix(".held").exists(), "the victim to hold 20", [victim])
            victim.send_signal(signal.SIGKILL)
            assert victim.wait(timeout=DEADLINE) == -signal.SIGKILL
            killed_at = time.monotonic()
            [taken] = collect([survivor], total(20), commit=True, timeout=DEADLINE)
            took = time.monotonic() - killed_at
            assert survivor.assignment() == {(topic, p) for p in range(4)}
        finally:
            if victim.poll() is None:
                victim.kill()
                victim.wait()
            survivor.close()
        held = {(line["p"], line["o"]) for line in _lines(out)}
        assert len(held) == 20
        assert {(r.partition, r.offset) for r in taken} == held, "uncommitted records redelivered"
        assert {(topic, r.partition) for r in taken} == victim_share
        assert {r.partition for r in mine}.isdisjoint({r.partition for r in taken})
        assert took < lease + 5.0
        assert bus.lag(group, topic) == 0


def test_publish_batch_of_10k_is_one_fast_transaction(tmp_path: Path) -> None:
    db, topic = tmp_path / "bus.db", fresh("t")
    with SqliteBus(db) as bus:
        bus.ensure_topic(topic, 4)
        bus.publish(topic, b"warm-up")  # open the connection outside the timing
        messages = [Message(topic, b"x" * 100, key=b"%d" % i) for i in range(10_000)]
        start = time.perf_counter()
        bus.publish_batch(messages)
        elapsed = time.perf_counter() - start
        print(f"\n10k publish_batch: {elapsed * 1000:.1f} ms")
        assert elapsed < 0.5

        seen: set[int] = set()  # a second batch while another connection keeps counting
        done = threading.Event()

        def watch() -> None:
            with sqlite3.connect(db) as conn:
                while not done.is_set():
                    count = conn.execute(
                        "SELECT COUNT(*) FROM records WHERE topic = ?", (topic,)
                    ).fetchone()[0]
                    seen.add(count)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            bus.publish_batch(messages)
        finally:
            done.set()
            watcher.join(10)
        assert seen <= {10_001, 20_001}, f"a reader saw a partial batch: {sorted(seen)}"
        with sqlite3.connect(db) as conn:
            rows = conn.execute(
                'SELECT "partition", COUNT(*), MIN("offset"), MAX("offset") FROM records'
                ' WHERE topic = ? GROUP BY "partition"',
                (topic,),
            ).fetchall()
        assert sum(count for _, count, _, _ in rows) == 20_001
        assert all(high - low + 1 == count and low == 0 for _, count, low, high in rows)


def test_a_batch_of_every_size_keeps_each_records_fields_and_order(tmp_path: Path) -> None:
    db, a, b = tmp_path / "bus.db", fresh("t"), fresh("t")
    with SqliteBus(db) as bus:
        bus.ensure_topic(a, 1)
        bus.ensure_topic(b, 1)
        sent: list[Message] = []
        for size in (1, 2, 3, 255, 256, 257, 700):  # several statements, of every row count
            batch = [
                Message(a if i % 3 else b, b"v%d-%d" % (size, i), key=None if i % 5 else b"k",
                        headers={"i": b"%d" % i} if i % 2 else {})
                for i in range(size)
            ]  # fmt: skip
            bus.publish_batch(batch)
            sent += batch
        with bus.consumer(fresh("g"), [a, b]) as consumer:
            [records] = collect([consumer], total(len(sent)))
    for topic in (a, b):
        mine = [m for m in sent if m.topic == topic]
        got = sorted((r for r in records if r.topic == topic), key=lambda r: r.offset)
        assert [r.offset for r in got] == list(range(len(mine)))
        assert [(r.value, r.key, dict(r.headers)) for r in got] == [
            (m.value, m.key, dict(m.headers)) for m in mine
        ]


def test_ensuring_a_known_topic_writes_nothing_and_keeps_its_partitions(tmp_path: Path) -> None:
    first = SqliteBus(tmp_path / "log.db")
    other = SqliteBus(tmp_path / "log.db")  # another process's view of the same log
    writes: list[int] = []
    real = other._db.write

    def counted() -> object:
        writes.append(1)
        return real()

    try:
        first.ensure_topic("t.known", 3)
        other._db.write = counted  # type: ignore[method-assign]
        other.ensure_topic("t.known", 5)  # exists already: keeps 3 partitions
        assert other.partitions("t.known") == 3 and len(writes) == 1
        for _ in range(100):
            other.ensure_topic("t.known", 5)
        assert len(writes) == 1
        other.publish_batch([Message("t.known", b"v", b"k")])
    finally:
        first.close()
        other.close()
