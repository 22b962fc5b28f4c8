"""A consumer group member of the SQLite event log.

Group membership works across processes through three tables:

- ``members``: each live member with its subscription and ``expires_at``; a member renews it
  by heartbeats (on poll and from a small background thread every ``lease_seconds / 3``).
  Members that stopped heartbeating (crashed) are removed by the next member that looks.
- ``leases``: who owns each ``(group, topic, partition)``, until when, and an ``epoch``
  bumped on every change of owner. A member computes the group's fair assignment from the
  live members (deterministic, so every member computes the same one), releases leases it
  should no longer hold and takes the ones that are free, expired or held by a member that
  is gone. A partition still leased to another live member is taken once that member
  releases it, which it does at its next poll or heartbeat.
- ``groups``: a version bumped when members join or leave, so pollers notice cheaply.

Fencing: a commit is stored only if this member still holds the partition's lease with the
epoch it read the records under, in the same transaction, so a member that lost a partition
cannot overwrite the new owner's progress. A member that loses and regains a partition sees a
new epoch and resumes from the committed offset.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Self

from nunchi.bus._common import assign_partitions, check_poll_args, commit_positions
from nunchi.bus._sqlite_db import Database, Notifier, decode_headers, now
from nunchi.bus.base import Consumer, Record
from nunchi.errors import BusError

__all__ = ["SqliteConsumer"]

log = logging.getLogger(__name__)

_RETRY_PENDING = 0.05
"""Seconds between attempts to take a partition another member still has to release."""
_MIN_BACKOFF, _MAX_BACKOFF = 0.005, 0.05

TP = tuple[str, int]


class SqliteConsumer(Consumer):
    """One member of a consumer group on a :class:`~nunchi.bus.sqlite.SqliteBus`."""

    def __init__(
        self,
        db: Database,
        notifier: Notifier,
        group: str,
        topics: list[str],
        partition_count: Callable[[str], int],
        lease_seconds: float,
        *,
        on_heartbeat: Callable[[], None] | None = None,
    ) -> None:
        self._db = db
        self._notifier = notifier
        self.group = group
        """The consumer group this member belongs to."""
        self.topics = tuple(topics)
        """The topics this member subscribed to."""
        self.member_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:10]}"
        """This member's id, unique across processes."""
        self._partition_count = partition_count
        self._lease = lease_seconds
        self._on_heartbeat = on_heartbeat
        """Called after every background heartbeat (the bus's chance to prune when idle)."""
        self._owned: dict[TP, int] = {}
        """Partitions this member reads, with the lease epoch it read them under."""
        self._positions: dict[TP, int] = {}
        self._step_lock = threading.Lock()
        self._seen_version = -1
        self._pending = False
        self._last_step = 0.0
        self._rotation = 0
        self._closed = False
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._heartbeat_loop, name=f"nunchi-bus-heartbeat-{group}", daemon=True
        )
        self._join()
        self._thread.start()

    # -- the Consumer interface --------------------------------------------------------------

    def poll(self, max_records: int = 500, timeout: float = 1.0) -> list[Record]:
        """Up to ``max_records`` records from owned partitions, waiting up to ``timeout``.

        Returns at once when records exist; otherwise re-checks the file with a backoff
        growing from 5 to 50 ms, and wakes at once on a publish from this process."""
        max_records, timeout = check_poll_args(max_records, timeout)
        self._check_open()
        deadline = time.monotonic() + timeout
        backoff = _MIN_BACKOFF
        while True:
            seen = self._notifier.version(self.topics)
            self._maybe_step()
            self._sync()
            records = self._fetch(max_records)
            if records:
                return records
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            self._notifier.wait(seen, min(backoff, remaining), self.topics)
            backoff = min(backoff * 2, _MAX_BACKOFF)

    def commit(self, records: Sequence[Record]) -> None:
        """Store ``max(offset) + 1`` per partition, only for partitions whose lease this
        member still holds with the same epoch. Durable on return."""
        positions = commit_positions(records)
        self._check_open()
        if not positions:
            return
        rows = [
            (topic, partition, offset, epoch)
            for (topic, partition), offset in positions.items()
            if (epoch := self._owned.get((topic, partition))) is not None
        ]
        if not rows:
            return
        # One statement (one step, the interpreter lock not handed over while the write lock
        # is held): a position is stored where this member still holds the lease's epoch.
        values = ", ".join(["(?, ?, ?, ?)"] * len(rows))
        with self._db.write() as conn:
            conn.execute(
                f'WITH v(topic, "partition", committed, epoch) AS (VALUES {values})'
                ' INSERT INTO offsets ("group", topic, "partition", committed, updated_at)'
                ' SELECT l."group", l.topic, l."partition", v.committed, ? FROM v JOIN leases l'
                ' ON l."group" = ? AND l.topic = v.topic AND l."partition" = v."partition"'
                " AND l.owner = ? AND l.epoch = v.epoch WHERE true"
                " ON CONFLICT DO UPDATE SET"
                " committed = excluded.committed, updated_at = excluded.updated_at",
                [*itertools.chain.from_iterable(rows), now(), self.group, self.member_id],
            )

    def assignment(self) -> set[tuple[str, int]]:
        """The ``(topic, partition)`` pairs this member holds leases for right now."""
        if self._closed:
            return set()
        self._maybe_step()
        self._sync()
        return set(self._owned)

    def __enter__(self) -> Self:
        """Use as a context manager; ``close()`` on exit."""
        return self

    def close(self) -> None:
        """Release this member's leases and leave the group. Commits nothing."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=self._db.busy_timeout + 5)
        try:
            with self._step_lock, self._db.write() as conn:
                conn.execute(
                    'UPDATE leases SET owner = NULL, expires_at = 0 WHERE "group" = ?'
                    " AND owner = ?",
                    (self.group, self.member_id),
                )
                conn.execute(
                    'DELETE FROM members WHERE "group" = ? AND member_id = ?',
                    (self.group, self.member_id),
                )
                _bump_version(conn, self.group)
        except BusError as e:  # bus closed or file gone: the leases simply expire
            log.warning("could not leave group %s cleanly: %s", self.group, e)
        self._owned.clear()
        self._positions.clear()
        self._notifier.notify()

    # -- membership ----------------------------------------------------------------------------

    def _join(self) -> None:
        t = now()
        with self._db.write() as conn:
            self._insert_member(conn, t)
        self._step()
        self._notifier.notify()

    def _insert_member(self, conn: sqlite3.Connection, t: float) -> None:
        conn.execute(
            'INSERT OR REPLACE INTO members ("group", member_id, topics, joined_at,'
            " heartbeat_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
            (self.group, self.member_id, json.dumps(self.topics), t, t, t + self._lease),
        )
        _bump_version(conn, self.group)

    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(self._lease / 3):
            try:
                if self._step():
                    self._notifier.notify()
                if self._on_heartbeat is not None:
                    self._on_heartbeat()
            except Exception as e:  # keep heartbeating whatever one attempt hit
                if self._stop.is_set():
                    return
                log.warning("heartbeat of group %s failed (will retry): %s", self.group, e)

    def _maybe_step(self) -> None:
        """Run a group step if the group changed, a partition is pending, or a heartbeat is
        due (the background thread normally does those)."""
        with self._db.read() as conn:
            row = conn.execute(
                'SELECT version FROM groups WHERE "group" = ?', (self.group,)
            ).fetchone()
        version = row[0] if row else -1
        since = time.monotonic() - self._last_step
        if (
            version != self._seen_version
            or (self._pending and since >= _RETRY_PENDING)
            or since >= self._lease / 3
        ) and self._step():
            self._notifier.notify()

    def _step(self) -> bool:
        """Heartbeat, drop dead members, release and take leases toward the fair share.
        Returns whether this member's leases changed."""
        with self._step_lock:
            if self._closed and threading.current_thread() is self._thread:
                return False
            t = now()
            changed = False
            with self._db.write() as conn:
                group = self.group
                gone = conn.execute(
                    'DELETE FROM members WHERE "group" = ? AND expires_at <= ? AND member_id != ?',
                    (group, t, self.member_id),
                ).rowcount
                renewed = conn.execute(
                    'UPDATE members SET heartbeat_at = ?, expires_at = ? WHERE "group" = ?'
                    " AND member_id = ?",
                    (t, t + self._lease, group, self.member_id),
                ).rowcount
                if not renewed:  # we were presumed dead: rejoin at the end of the line
                    log.warning(
                        "member %s of group %s rejoins after missing heartbeats",
                        self.member_id,
                        group,
                    )
                    self._insert_member(conn, t)
                elif gone:
                    _bump_version(conn, group)
                live = [
                    (member, json.loads(topics))
                    for member, topics in conn.execute(
                        'SELECT member_id, topics FROM members WHERE "group" = ?'
                        " ORDER BY joined_at, member_id",
                        (group,),
                    )
                ]
                live_ids = {member for member, _ in live}
                counts = {
                    topic: self._partition_count(topic) for _, topics in live for topic in topics
                }
                mine = assign_partitions(live, counts).get(self.member_id, set())
                leases = {
                    (topic, partition): (owner, expires)
                    for topic, partition, owner, expires in conn.execute(
                        'SELECT topic, "partition", owner, expires_at FROM leases'
                        ' WHERE "group" = ?',
                        (group,),
                    )
                }
                pending = False
                for (topic, partition), (owner, _) in leases.items():
                    if owner == self.member_id and (topic, partition) not in mine:
                        conn.execute(
                            'UPDATE leases SET owner = NULL, expires_at = 0 WHERE "group" = ?'
                            ' AND topic = ? AND "partition" = ?',
                            (group, topic, partition),
                        )
                        changed = True
                for topic, partition in sorted(mine):
                    key = (group, topic, partition)
                    lease = leases.get((topic, partition))
                    if lease is None:
                        conn.execute(
                            'INSERT INTO leases ("group", topic, "partition", owner, epoch,'
                            " expires_at) VALUES (?, ?, ?, ?, 1, ?)",
                            (*key, self.member_id, t + self._lease),
                        )
                        changed = True
                    elif lease[0] == self.member_id:
                        conn.execute(
                            'UPDATE leases SET expires_at = ? WHERE "group" = ? AND topic = ?'
                            ' AND "partition" = ?',
                            (t + self._lease, *key),
                        )
                    elif lease[0] is None or lease[1] <= t or lease[0] not in live_ids:
                        conn.execute(
                            "UPDATE leases SET owner = ?, epoch = epoch + 1, expires_at = ?"
                            ' WHERE "group" = ? AND topic = ? AND "partition" = ?',
                            (self.member_id, t + self._lease, *key),
                        )
                        changed = True
                    else:
                        pending = True  # its holder releases it at its next step
                row = conn.execute(
                    'SELECT version FROM groups WHERE "group" = ?', (group,)
                ).fetchone()
            self._seen_version = row[0] if row else -1
            self._pending = pending
            self._last_step = time.monotonic()
            return changed

    # -- reading ---------------------------------------------------------------------------------

    def _sync(self) -> None:
        """Follow the leases table: forget lost partitions, start new ones (or ones regained
        under a new epoch) at the group's committed offset."""
        with self._db.read() as conn:
            owned = {
                (topic, partition): epoch
                for topic, partition, epoch in conn.execute(
                    'SELECT topic, "partition", epoch FROM leases WHERE "group" = ? AND owner = ?',
                    (self.group, self.member_id),
                )
            }
            for tp in list(self._positions):
                if owned.get(tp) != self._owned.get(tp):
                    del self._positions[tp]
            for tp in owned:
                if tp not in self._positions:
                    row = conn.execute(
                        'SELECT committed FROM offsets WHERE "group" = ? AND topic = ?'
                        ' AND "partition" = ?',
                        (self.group, *tp),
                    ).fetchone()
                    self._positions[tp] = row[0] if row else 0
        self._owned = owned

    def _fetch(self, max_records: int) -> list[Record]:
        if not self._positions:
            return []
        with self._db.read() as conn:
            heads: dict[TP, int] = {}
            for topic in {tp[0] for tp in self._positions}:
                for partition, head in conn.execute(
                    'SELECT "partition", next_offset FROM heads WHERE topic = ?', (topic,)
                ):
                    heads[(topic, partition)] = head
            ready = sorted(tp for tp, pos in self._positions.items() if heads.get(tp, 0) > pos)
            if not ready:
                return []
            self._rotation = (self._rotation + 1) % len(ready)
            out: list[Record] = []
            for topic, partition in ready[self._rotation :] + ready[: self._rotation]:
                start = self._positions[(topic, partition)]
                rows = conn.execute(
                    'SELECT "offset", key, value, headers, ts FROM records WHERE topic = ?'
                    ' AND "partition" = ? AND "offset" >= ? ORDER BY "offset" LIMIT ?',
                    (topic, partition, start, max_records - len(out)),
                ).fetchall()
                for offset, key, value, headers, ts in rows:
                    out.append(
                        Record(topic, partition, offset, value, key, decode_headers(headers), ts)
                    )
                # no rows although the head is further: pruned by retention, skip the gap
                self._positions[(topic, partition)] = (
                    rows[-1][0] + 1 if rows else heads[(topic, partition)]
                )
                if len(out) >= max_records:
                    break
        return out

    def _check_open(self) -> None:
        if self._closed:
            raise BusError("this consumer is closed")


def _bump_version(conn: sqlite3.Connection, group: str) -> None:
    conn.execute(
        'INSERT INTO groups ("group", version) VALUES (?, 1)'
        " ON CONFLICT DO UPDATE SET version = version + 1",
        (group,),
    )
