"""A separate OS process using a SqliteBus, driven by tests/integration/bus/test_sqlite_bus.py.

python -m tests.integration.bus._sqlite_worker consume DB GROUP TOPIC OUT STOP SHARE LEASE
    join GROUP; once it owns SHARE partitions write "ready" to OUT+".ready"; then write
    every record it gets to OUT (one JSON line each) and commit it, until the file STOP
    exists.
python -m tests.integration.bus._sqlite_worker hold DB GROUP TOPIC OUT SHARE LEASE COUNT
    like consume, but never commit; after COUNT records wait to be killed.
python -m tests.integration.bus._sqlite_worker publish-and-die DB GROUP TOPIC COUNT
    publish COUNT records, consume and commit them, then SIGKILL itself.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

from nunchi.bus import Consumer, Message, Record
from nunchi.bus.sqlite import SqliteBus

_DEADLINE = 60.0


def _line(record: Record) -> str:
    return json.dumps({"p": record.partition, "o": record.offset, "v": record.value.decode()})


def _wait_for_share(consumer: Consumer, share: int, out: Path) -> None:
    deadline = time.monotonic() + _DEADLINE
    while len(consumer.assignment()) != share:
        if time.monotonic() > deadline:
            sys.exit(f"never got {share} partitions: {consumer.assignment()}")
        consumer.poll(timeout=0.05)  # the topic is still empty; this only heartbeats
    ready = out.with_suffix(".ready")
    ready.write_text(json.dumps(sorted(p for _, p in consumer.assignment())))


def consume(db: str, group: str, topic: str, out: str, stop: str, share: int, lease: float) -> None:
    """Consume and commit until ``stop`` exists."""
    bus = SqliteBus(db, lease_seconds=lease)
    consumer = bus.consumer(group, [topic])
    _wait_for_share(consumer, share, Path(out))
    with open(out, "a", encoding="utf-8") as sink:
        while not os.path.exists(stop):
            records = consumer.poll(timeout=0.1)
            for record in records:
                sink.write(_line(record) + "\n")
            sink.flush()
            consumer.commit(records)
    consumer.close()
    bus.close()


def hold(db: str, group: str, topic: str, out: str, share: int, lease: float, count: int) -> None:
    """Take ``count`` records without committing them, then wait to be killed."""
    bus = SqliteBus(db, lease_seconds=lease)
    consumer = bus.consumer(group, [topic])
    _wait_for_share(consumer, share, Path(out))
    seen = 0
    with open(out, "a", encoding="utf-8") as sink:
        while seen < count:
            records = consumer.poll(timeout=0.1)
            for record in records:
                sink.write(_line(record) + "\n")
            sink.flush()
            seen += len(records)
    Path(out).with_suffix(".held").write_text(str(seen))
    while True:  # the heartbeat thread keeps the leases alive until the test kills us
        signal.pause()


def publish_and_die(db: str, group: str, topic: str, count: int, lease: float) -> None:
    """Publish, consume and commit, then die without closing anything."""
    bus = SqliteBus(db, lease_seconds=lease)
    bus.publish_batch([Message(topic, b"%d" % i) for i in range(count)])
    consumer = bus.consumer(group, [topic])
    got: list[Record] = []
    deadline = time.monotonic() + _DEADLINE
    while len(got) < count // 2 and time.monotonic() < deadline:
        got += consumer.poll(max_records=count // 2 - len(got), timeout=0.1)
    consumer.commit(got)
    os.kill(os.getpid(), signal.SIGKILL)


def main(argv: list[str]) -> None:
    """Dispatch on the mode (see the module docstring)."""
    mode, *args = argv
    if mode == "consume":
        db, group, topic, out, stop, share, lease = args
        consume(db, group, topic, out, stop, int(share), float(lease))
    elif mode == "hold":
        db, group, topic, out, share, lease, count = args
        hold(db, group, topic, out, int(share), float(lease), int(count))
    elif mode == "publish-and-die":
        db, group, topic, count, lease = args
        publish_and_die(db, group, topic, int(count), float(lease))
    else:
        sys.exit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
