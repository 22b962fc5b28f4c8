"""Retention of the SQLite event log: which records may go, deleted a bounded chunk at a time.

A record is deleted only when it is past a limit (older than ``retention_seconds``, or more
than ``max_records_per_partition`` behind its partition's head) AND every consumer group that
still counts for its topic has committed past it. With an age limit, a group counts for a topic
while a live member of it subscribes to the topic or while its last commit on the topic is
younger than the retention (like Kafka's ``offsets.retention``): an abandoned group stops
holding records back one retention after its last commit, and a group that comes back later
resumes after whatever was deleted meanwhile. Its committed offsets are kept, so the topic
still counts as read.

A topic no group has ever subscribed to or committed on keeps every record: a dead-letter
topic nobody consumes may hold the only copy of those messages.
"""

from __future__ import annotations

import json
import sqlite3

__all__ = ["PRUNE_CHUNK", "prune_chunk"]

PRUNE_CHUNK = 5000
"""Most records one prune transaction deletes, so the file's write lock is held only briefly
(a few tens of milliseconds) however large the backlog is."""


def prune_chunk(
    conn: sqlite3.Connection,
    t: float,
    *,
    retention_seconds: float | None,
    max_records_per_partition: int | None,
    budget: int,
) -> int:
    """Delete up to ``budget`` prunable records, oldest first per partition, in the caller's
    write transaction at time ``t``. Returns how many were deleted: fewer than ``budget``
    means nothing prunable is left."""
    cutoff = None if retention_seconds is None else t - retention_seconds
    # topic -> groups with a member subscribed to it (only live members with an age limit)
    subscribers: dict[str, set[str]] = {}
    joined: set[str] = set()  # topics some member, live or not, subscribes to
    for group, topics, expires_at in conn.execute(
        'SELECT "group", topics, expires_at FROM members'
    ).fetchall():
        for topic in json.loads(topics):
            joined.add(topic)
            if cutoff is None or expires_at > t:
                subscribers.setdefault(topic, set()).add(group)
    remaining = budget
    for (topic,) in conn.execute("SELECT name FROM topics ORDER BY name").fetchall():
        committed: dict[tuple[str, int], int] = {}
        last_commit: dict[str, float] = {}
        for group, partition, offset, updated_at in conn.execute(
            'SELECT "group", "partition", committed, updated_at FROM offsets WHERE topic = ?',
            (topic,),
        ):
            committed[(group, partition)] = offset
            last_commit[group] = max(updated_at, last_commit.get(group, updated_at))
        if not last_commit and topic not in joined:
            continue  # never read by anyone: keep everything
        holders = subscribers.get(topic, set()) | {
            group for group, at in last_commit.items() if cutoff is None or at >= cutoff
        }
        for partition, head in conn.execute(
            'SELECT "partition", next_offset FROM heads WHERE topic = ?', (topic,)
        ).fetchall():
            safe = min((committed.get((g, partition), 0) for g in holders), default=head)
            oldest = conn.execute(
                'SELECT "offset", ts FROM records WHERE topic = ? AND "partition" = ?'
                ' ORDER BY "offset" LIMIT 1',
                (topic, partition),
            ).fetchone()
            if oldest is None or oldest[0] >= safe:
                continue
            low, low_ts = oldest
            by_count = head - max_records_per_partition if max_records_per_partition else -1
            if low >= by_count and (cutoff is None or low_ts >= cutoff):
                continue  # the oldest record stays, so do the later ones (age grows with offset)
            high = min(safe, low + remaining)
            # Without an age limit the cutoff is NULL: "ts < NULL" is never true, so only the
            # count rule ("offset" < by_count) deletes.
            deleted = conn.execute(
                'DELETE FROM records WHERE topic = ? AND "partition" = ? AND "offset" >= ?'
                ' AND "offset" < ? AND ("offset" < ? OR ts < ?)',
                (topic, partition, low, high, by_count, cutoff),
            ).rowcount
            remaining -= deleted
            if remaining <= 0:
                return budget
    return budget - remaining
