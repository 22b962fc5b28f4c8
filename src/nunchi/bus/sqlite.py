"""The embedded event log: one SQLite file, durable, shared by several processes.

Records live in ``records(topic, partition, offset, key, value, headers, ts)`` with dense
offsets per partition (the next one kept in ``heads``), committed offsets in
``offsets(group, topic, partition, committed)``. Consumer groups span processes through
member heartbeats and partition leases (see :mod:`nunchi.bus._sqlite_consumer`).

Durability: WAL mode; ``synchronous=NORMAL`` by default, which survives ``kill -9`` of any
process at any point without losing a committed publish or commit, but not an OS crash or
power loss; ``synchronous="FULL"`` survives those too, at several times the cost per
transaction (see :mod:`nunchi.bus._sqlite_db`).

Retention (see :mod:`nunchi.bus._sqlite_retention`): off unless configured; a record goes only
once it is past the limit and every consumer group still reading its topic has committed it.
Deleted pages are reused by later records; the file does not shrink.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Sequence
from typing import Self

from nunchi.bus._common import (
    check_group,
    check_message,
    check_partitions,
    check_topic_name,
    check_topics,
    partition_for_key,
)
from nunchi.bus._sqlite_consumer import SqliteConsumer
from nunchi.bus._sqlite_db import Database, encode_headers, notifier_for, now, release_notifier
from nunchi.bus._sqlite_retention import PRUNE_CHUNK, prune_chunk
from nunchi.bus.base import Bus, Message
from nunchi.errors import InvalidInput, NotFound

__all__ = ["SqliteBus", "SqliteConsumer"]

log = logging.getLogger(__name__)


_RECORD_COLUMNS = 7
_MOST_ROWS = 256
"""Rows of one INSERT statement (7 parameters a row, far below SQLite's 32,766)."""


def _insert_records(conn: sqlite3.Connection, values: Sequence[object]) -> None:
    """Insert the flattened record rows ``values`` in a few multi-row statements: one
    statement runs all its rows in one step, where ``executemany`` would take a step, and
    hand the interpreter lock over, per row; a process with busy threads could otherwise
    keep the write lock for many milliseconds. Row counts are powers of two, so at most nine
    statement texts are ever prepared (and stay in the connection's statement cache)."""
    rows = len(values) // _RECORD_COLUMNS
    start = 0
    size = _MOST_ROWS
    while rows:
        while size > rows:
            size //= 2
        end = start + size * _RECORD_COLUMNS
        conn.execute(_insert_sql(size), values[start:end])
        start, rows = end, rows - size


@functools.cache
def _insert_sql(rows: int) -> str:
    return (
        'INSERT INTO records (topic, "partition", "offset", key, value, headers, ts) VALUES '
        + ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * rows)
    )


class SqliteBus(Bus):
    """A :class:`Bus` in one SQLite file.

    ``lease_seconds``: how long a member's partitions stay reserved after its last heartbeat
    (a crashed member's partitions are taken over after this). ``busy_timeout``: how long a
    writer waits for the file lock before :class:`~nunchi.errors.BusUnavailable`.
    ``retention_seconds`` / ``max_records_per_partition``: optional retention; records are
    only pruned once every consumer group still reading the topic has committed past them (a
    group with no live member stops counting one ``retention_seconds`` after its last commit;
    a topic no group has ever joined keeps everything). Pruning runs on :meth:`prune`, and in
    one background thread per bus at most every ``prune_interval`` seconds, woken by a publish
    or a consumer's heartbeat, so an idle process prunes too."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        lease_seconds: float = 10.0,
        busy_timeout: float = 30.0,
        synchronous: str = "NORMAL",
        retention_seconds: float | None = None,
        max_records_per_partition: int | None = None,
        prune_interval: float = 60.0,
    ) -> None:
        path = os.fspath(path)
        if not path or path == ":memory:":
            raise InvalidInput(
                "SqliteBus needs a file path (sqlite:///path/bus.db); use memory:// for an"
                " in-process bus"
            )
        if not lease_seconds > 0:
            raise InvalidInput(f"lease_seconds must be > 0, got {lease_seconds}")
        if retention_seconds is not None and not retention_seconds > 0:
            raise InvalidInput(f"retention_seconds must be > 0, got {retention_seconds}")
        if max_records_per_partition is not None and max_records_per_partition < 1:
            raise InvalidInput(
                f"max_records_per_partition must be >= 1, got {max_records_per_partition}"
            )
        self.path = path
        """The log file."""
        self.lease_seconds = float(lease_seconds)
        self.retention_seconds = retention_seconds
        self.max_records_per_partition = max_records_per_partition
        self.prune_interval = prune_interval
        self._db = Database(path, busy_timeout=busy_timeout, synchronous=synchronous)
        self._notifier = notifier_for(path)
        self._released = False
        self._counts: dict[str, int] = {}
        self._round_robin: dict[str, itertools.count[int]] = {}
        self._lock = threading.Lock()
        self._consumers: weakref.WeakSet[SqliteConsumer] = weakref.WeakSet()
        self._last_prune = time.monotonic()
        self._pruner: threading.Thread | None = None
        self._prune_due = threading.Event()
        self._closing = threading.Event()

    # -- topics ----------------------------------------------------------------------------------

    def ensure_topic(self, name: str, partitions: int = 1) -> None:
        """Create the topic with ``partitions`` partitions if it does not exist (a dict
        lookup once this bus has seen it)."""
        check_topic_name(name)
        check_partitions(partitions)
        if name in self._counts:
            return
        with self._db.write() as conn:
            created = conn.execute(
                "INSERT OR IGNORE INTO topics (name, partitions, created_at) VALUES (?, ?, ?)",
                (name, partitions, now()),
            ).rowcount
            if created:
                conn.executemany(
                    'INSERT INTO heads (topic, "partition", next_offset) VALUES (?, ?, 0)',
                    [(name, p) for p in range(partitions)],
                )
                count = partitions
            else:
                (count,) = conn.execute(
                    "SELECT partitions FROM topics WHERE name = ?", (name,)
                ).fetchone()
        self._counts[name] = int(count)  # a topic's partition count never changes

    def partitions(self, topic: str) -> int:
        """How many partitions ``topic`` has; NotFound if it does not exist."""
        count = self._counts.get(topic)
        if count is not None:
            return count
        with self._db.read() as conn:
            row = conn.execute("SELECT partitions FROM topics WHERE name = ?", (topic,)).fetchone()
        if row is None:
            raise NotFound(
                f"topic {topic!r} does not exist: call bus.ensure_topic({topic!r}, partitions)"
                " first"
            )
        self._counts[topic] = int(row[0])  # a topic's partition count never changes
        return self._counts[topic]

    # -- publishing ------------------------------------------------------------------------------

    def publish_batch(self, messages: Sequence[Message]) -> None:
        """Append all messages in one transaction (all or none); durable on return."""
        checked = [check_message(m) for m in messages]
        if not checked:
            return
        counts = {m.topic: self.partitions(m.topic) for m in checked}
        targets: list[int] = []
        with self._lock:
            for m in checked:
                if m.key is not None:
                    targets.append(partition_for_key(m.key, counts[m.topic]))
                else:
                    rr = self._round_robin.setdefault(m.topic, itertools.count())
                    targets.append(next(rr) % counts[m.topic])
        ts = now()
        headers = [encode_headers(m.headers) for m in checked]  # before the write lock
        with self._db.write() as conn:
            heads: dict[tuple[str, int], int] = {}
            for topic in counts:
                for partition, head in conn.execute(
                    'SELECT "partition", next_offset FROM heads WHERE topic = ?', (topic,)
                ):
                    heads[(topic, partition)] = head
            values: list[object] = []
            for m, partition, blob in zip(checked, targets, headers, strict=True):
                tp = (m.topic, partition)
                offset = heads[tp]
                heads[tp] = offset + 1
                values += (m.topic, partition, offset, m.key, m.value, blob, ts)
            _insert_records(conn, values)
            moved = [(t, p, head) for (t, p), head in heads.items()]
            conn.execute(
                "UPDATE heads SET next_offset = v.column3 FROM (VALUES "
                + ", ".join(["(?, ?, ?)"] * len(moved))
                + ') AS v WHERE heads.topic = v.column1 AND heads."partition" = v.column2',
                [*itertools.chain.from_iterable(moved)],
            )
        self._notifier.notify(counts)
        self._maybe_prune()

    # -- consuming -------------------------------------------------------------------------------

    def consumer(self, group: str, topics: Sequence[str]) -> SqliteConsumer:
        """Join ``group`` as a new member subscribed to ``topics`` (which must exist)."""
        check_group(group)
        names = check_topics(topics)
        for name in names:
            self.partitions(name)
        member = SqliteConsumer(
            self._db,
            self._notifier,
            group,
            names,
            self.partitions,
            self.lease_seconds,
            on_heartbeat=self._maybe_prune,
        )
        self._consumers.add(member)
        return member

    def lag(self, group: str, topic: str) -> int | None:
        """Records in ``topic`` not yet committed by ``group`` (pruned ones not counted)."""
        self.partitions(topic)
        with self._db.read() as conn:
            rows = conn.execute(
                'SELECT h.next_offset, o.committed, (SELECT MIN(r."offset") FROM records r'
                ' WHERE r.topic = h.topic AND r."partition" = h."partition")'
                ' FROM heads h LEFT JOIN offsets o ON o."group" = ? AND o.topic = h.topic'
                ' AND o."partition" = h."partition" WHERE h.topic = ?',
                (group, topic),
            ).fetchall()
        return sum(
            int(head) - max(int(committed or 0), int(head if low is None else low))
            for head, committed, low in rows
        )

    # -- retention -------------------------------------------------------------------------------

    def prune(self) -> int:
        """Delete records past the retention limits that every consumer group still reading
        their topic has committed, in transactions of at most ``PRUNE_CHUNK`` records. Returns
        how many were deleted (0 when no retention is configured)."""
        self._last_prune = time.monotonic()
        if self.retention_seconds is None and self.max_records_per_partition is None:
            return 0
        deleted = 0
        while not self._closing.is_set():
            with self._db.write() as conn:
                n = prune_chunk(
                    conn,
                    now(),
                    retention_seconds=self.retention_seconds,
                    max_records_per_partition=self.max_records_per_partition,
                    budget=PRUNE_CHUNK,
                )
            deleted += n
            if n < PRUNE_CHUNK:
                break
        return deleted

    def _maybe_prune(self) -> None:
        """Wake the background pruner if retention is on and ``prune_interval`` has passed
        since the last prune; start it on the first call that finds a prune due. Cheap
        enough for every publish and heartbeat."""
        if self.retention_seconds is None and self.max_records_per_partition is None:
            return
        if time.monotonic() - self._last_prune < self.prune_interval:
            return
        pruner = self._pruner
        if pruner is None or not pruner.is_alive():  # not started yet, or lost to a fork
            with self._lock:
                if self._closing.is_set():
                    return
                if self._pruner is pruner:
                    self._pruner = threading.Thread(
                        target=self._prune_loop, name="nunchi-bus-prune", daemon=True
                    )
                    self._pruner.start()
        self._prune_due.set()

    def _prune_loop(self) -> None:
        """The pruner thread: one per bus, so one connection however many prunes it runs.
        Prunes whenever :meth:`_maybe_prune` wakes it, until :meth:`close`."""
        while True:
            self._prune_due.wait()
            self._prune_due.clear()
            if self._closing.is_set():
                return
            self._prune_quietly()

    def _prune_quietly(self) -> None:
        try:
            deleted = self.prune()
        except Exception as e:  # the next interval tries again
            if not self._closing.is_set():
                log.warning("pruning the sqlite bus %s failed (will retry): %s", self.path, e)
            return
        if deleted:
            log.info("pruned %d records from the sqlite bus %s", deleted, self.path)

    def __enter__(self) -> Self:
        """Use as a context manager; ``close()`` on exit."""
        return self

    def close(self) -> None:
        """Close this bus's consumers (releasing their partitions) and its connections."""
        with self._lock:  # no pruner starts after this
            self._closing.set()
            pruner = self._pruner
        self._prune_due.set()  # wakes the pruner to see _closing and end
        if pruner is not None and pruner is not threading.current_thread():
            pruner.join(timeout=self._db.busy_timeout + 5)
        for member in list(self._consumers):
            member.close()
        self._db.close()
        with self._lock:
            released, self._released = self._released, True
        if not released:
            release_notifier(self.path)
