"""Transactional outbox: bus messages stored with the state change they announce.

A writer adds its messages as ``jobs_outbox`` rows inside its own database transaction
(:meth:`Outbox.stage`), then, after commit, publishes them and deletes the rows
(:meth:`Outbox.flush`). A crash (or a bus outage) between commit and publish leaves the rows
behind; :meth:`Outbox.relay`, run periodically (see :func:`nunchi.jobs.relay.outbox_relay`),
publishes rows older than a grace period. So no committed job is ever lost; at worst a
message is published twice, which every consumer of these topics tolerates (job handlers are
idempotent, webhook events carry a stable ``event_id``).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session, sessionmaker

from nunchi.bus.base import Bus, Message
from nunchi.errors import NunchiError
from nunchi.jobs.models import jobs_outbox_table, jobs_table
from nunchi.store.types import utcnow

__all__ = ["Outbox", "PendingMessages"]

log = logging.getLogger(__name__)

_TABLE = jobs_outbox_table


@dataclass(frozen=True)
class PendingMessages:
    """Messages written to the outbox by one transaction, to publish once it commits."""

    token: str
    messages: list[Message] = field(default_factory=list)


class Outbox:
    """Stages, publishes and relays outbox messages for one database and one bus."""

    def __init__(self, sessions: sessionmaker[Session], bus: Bus, partitions: int = 1) -> None:
        self._sessions = sessions
        self._bus = bus
        self._partitions = max(1, partitions)
        self._topics: set[str] = set()
        self._topics_lock = threading.Lock()

    def ensure_topics(self, topics: Iterable[str]) -> None:
        """Create the topics this process publishes to (once per topic per process)."""
        with self._topics_lock:
            missing = set(topics) - self._topics
        for topic in sorted(missing):
            self._bus.ensure_topic(topic, self._partitions)
        with self._topics_lock:
            self._topics |= missing

    def stage(
        self,
        session: Session,
        messages: Sequence[Message],
        *,
        batch: tuple[str, str] | None = None,
    ) -> PendingMessages:
        """Write ``messages`` as outbox rows in ``session``'s transaction.

        With ``batch=(topic, batch_id)``, ``messages`` are that batch's job requests and a
        single row stands for all of them (the relay re-derives them from the jobs table)."""
        pending = PendingMessages(uuid.uuid4().hex, list(messages))
        now = utcnow()
        if batch is not None:
            topic, batch_id = batch
            row = {"token": pending.token, "topic": topic, "value": b"", "batch_id": batch_id}
            session.execute(insert(_TABLE), [{**row, "created_at": now}])
        elif pending.messages:
            session.execute(
                insert(_TABLE),
                [
                    {
                        "token": pending.token,
                        "topic": m.topic,
                        "key": m.key,
                        "value": m.value,
                        "created_at": now,
                    }
                    for m in pending.messages
                ],
            )
        return pending

    def flush(self, pending: PendingMessages) -> bool:
        """Publish committed messages and delete their rows. On a bus or database error the
        rows stay for the relay and False is returned (the state change itself is durable)."""
        if not pending.messages:
            return True
        try:
            self.ensure_topics(m.topic for m in pending.messages)
            self._bus.publish_batch(pending.messages)
        except NunchiError as e:
            log.warning(
                "publishing %d message(s) failed (%s); the outbox relay will retry",
                len(pending.messages),
                e,
            )
            return False
        try:
            with self._sessions.begin() as s:
                s.execute(delete(_TABLE).where(_TABLE.c.token == pending.token))
        except Exception as e:  # published; a leftover row only means a duplicate later
            log.warning("could not clear %d outbox row(s): %s", len(pending.messages), e)
        return True

    def relay(self, older_than: float = 30.0, limit: int = 1000) -> int:
        """Publish (and delete) outbox rows older than ``older_than`` seconds: messages whose
        writer died or could not reach the bus. Returns how many messages were published."""
        cutoff = utcnow() - timedelta(seconds=older_than)
        c = _TABLE.c
        with self._sessions() as s:
            rows = s.execute(
                select(c.id, c.topic, c.key, c.value, c.batch_id)
                .where(c.created_at <= cutoff)
                .order_by(c.id)
                .limit(limit)
            ).all()
            messages: list[Message] = []
            for r in rows:
                if r.batch_id is None:
                    key = bytes(r.key) if r.key is not None else None
                    messages.append(Message(r.topic, bytes(r.value), key))
                    continue
                ids = s.scalars(
                    select(jobs_table.c.id).where(
                        jobs_table.c.batch_id == r.batch_id, jobs_table.c.status == "queued"
                    )
                ).all()
                messages.extend(Message(r.topic, i.encode(), i.encode()) for i in ids)
        if not rows:
            return 0
        if messages:
            self.ensure_topics(m.topic for m in messages)
            self._bus.publish_batch(messages)
        ids = [r.id for r in rows]
        with self._sessions.begin() as s:
            for start in range(0, len(ids), 500):
                s.execute(delete(_TABLE).where(c.id.in_(ids[start : start + 500])))
        log.info("outbox relay published %d message(s)", len(messages))
        return len(messages)
