"""State transitions of jobs and batches, as statements inside a caller's transaction.

Every transition is a conditional UPDATE whose WHERE clause states the statuses it may leave,
so applying the same transition twice (a redelivered message, two workers racing) changes
nothing the second time. Transitions that reach a final state return the messages that
announce it, for the caller to stage in the outbox of the same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, exists, func, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from nunchi.bus.base import Message
from nunchi.jobs.models import Batch, job_events_table, jobs_table
from nunchi.jobs.schemas import BatchCounts, BatchOut, JobOut
from nunchi.jobs.topics import JOBS_COMPLETED
from nunchi.runtime.failures import error_record
from nunchi.store.types import JSONDocument, UTCDateTime
from nunchi.webhooks.delivery import WebhookRequest
from nunchi.webhooks.topics import WEBHOOKS_DELIVER

__all__ = [
    "StartedJob",
    "batch_out",
    "complete_batches",
    "completion_messages",
    "job_completed_messages",
    "record_attempt_failures",
    "record_dead_letter",
    "record_successes",
    "start_jobs",
    "webhook_message",
]

_JOBS = jobs_table
_EVENTS = job_events_table
_ACTIVE = ("queued", "running")


@dataclass(frozen=True)
class StartedJob:
    """A job that was just marked running, with its new attempt number."""

    id: str
    kind: str
    input: Any
    attempt: int
    batch_id: str | None


_START = (
    update(_JOBS)
    .where(_JOBS.c.id.in_(bindparam("p_ids", expanding=True)), _JOBS.c.status.in_(_ACTIVE))
    .values(
        status="running",
        attempts=_JOBS.c.attempts + 1,
        started_at=bindparam("p_now", type_=UTCDateTime()),
        updated_at=bindparam("p_now", type_=UTCDateTime()),
    )
    .returning(_JOBS.c.id, _JOBS.c.kind, _JOBS.c.input, _JOBS.c.attempts, _JOBS.c.batch_id)
)
_SUCCEED = (
    update(_JOBS)
    .where(_JOBS.c.id.in_(bindparam("p_ids", expanding=True)), _JOBS.c.status != "succeeded")
    .values(
        status="succeeded",
        error=None,
        finished_at=bindparam("p_now", type_=UTCDateTime()),
        updated_at=bindparam("p_now", type_=UTCDateTime()),
    )
    .returning(_JOBS.c.id)
)
_STORE_RESULT = (
    update(_JOBS)
    .where(_JOBS.c.id == bindparam("p_id"))
    .values(result=bindparam("p_result", type_=JSONDocument))
)
_CHUNK = 500
"""Most ids in one ``IN (...)`` list."""
_REQUEUE_AFTER_FAILURE = (
    update(_JOBS)
    .where(_JOBS.c.id == bindparam("p_id"), _JOBS.c.status == "running")
    .values(
        status="queued",
        error=bindparam("p_error", type_=JSONDocument),
        updated_at=bindparam("p_now", type_=UTCDateTime()),
    )
)
_ADD_EVENTS = insert(_EVENTS)


def start_jobs(session: Session, ids: Sequence[str], now: datetime) -> dict[str, StartedJob]:
    """Mark the queued or running jobs among ``ids`` running, count an attempt and record
    ``started``. Jobs already final (or unknown) are left out of the result."""
    if not ids:
        return {}
    conn = session.connection()
    rows = conn.execute(_START, {"p_ids": list(ids), "p_now": now}).all()
    started = {r.id: StartedJob(r.id, r.kind, r.input, r.attempts, r.batch_id) for r in rows}
    if started:
        conn.execute(
            _ADD_EVENTS,
            [
                {"job_id": j.id, "at": now, "type": "started", "attempt": j.attempt}
                for j in started.values()
            ],
        )
    return started


def record_successes(
    session: Session, done: Sequence[tuple[StartedJob, Any]], now: datetime
) -> list[str]:
    """Store each result and mark its job succeeded, unless it already is (one success per
    job, ever). Returns the ids this call marked succeeded.

    Two statements per chunk, not one per job: an UPDATE marks the jobs that are not yet
    succeeded and returns which they are (holding their rows, or SQLite's write lock, until
    the transaction ends), then one executemany stores the results of exactly those."""
    conn = session.connection()
    pending: dict[str, tuple[StartedJob, Any]] = {}
    for job, result in done:
        pending.setdefault(job.id, (job, result))  # one success per job: the first wins
    ids = list(pending)
    marked: set[str] = set()
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        marked.update(conn.execute(_SUCCEED, {"p_ids": chunk, "p_now": now}).scalars())
    applied = [pending[i][0] for i in ids if i in marked]
    if applied:
        conn.execute(
            _STORE_RESULT, [{"p_id": j.id, "p_result": pending[j.id][1]} for j in applied]
        )
        conn.execute(
            _ADD_EVENTS,
            [
                {"job_id": j.id, "at": now, "type": "succeeded", "attempt": j.attempt}
                for j in applied
            ],
        )
    return [j.id for j in applied]


def record_attempt_failures(
    session: Session, failed: Sequence[tuple[StartedJob, BaseException]], now: datetime
) -> None:
    """Record failed attempts: an ``attempt_failed`` event each, the error as the job's last
    error, and status back to queued (the runtime retries or dead-letters them)."""
    if not failed:
        return
    conn = session.connection()
    details = [(job, error_record(error)) for job, error in failed]
    conn.execute(
        _REQUEUE_AFTER_FAILURE,
        [{"p_id": job.id, "p_error": detail, "p_now": now} for job, detail in details],
    )
    conn.execute(
        _ADD_EVENTS,
        [
            {
                "job_id": job.id,
                "at": now,
                "type": "attempt_failed",
                "attempt": job.attempt,
                "detail": detail,
            }
            for job, detail in details
        ],
    )


def record_dead_letter(
    session: Session,
    job_id: str,
    error: Mapping[str, Any],
    detail: Mapping[str, Any],
    now: datetime,
) -> RowMapping | None:
    """Mark a queued or running job failed with ``error`` and record ``dead_lettered``.
    Returns the updated row when applied, None if the job was already final or unknown."""
    row = (
        session.execute(
            update(_JOBS)
            .where(_JOBS.c.id == job_id, _JOBS.c.status.in_(_ACTIVE))
            .values(status="failed", error=dict(error), finished_at=now, updated_at=now)
            .returning(*_JOBS.c)
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    session.execute(
        insert(_EVENTS),
        [
            {
                "job_id": job_id,
                "at": now,
                "type": "dead_lettered",
                "attempt": row["attempts"],
                "detail": dict(detail),
            }
        ],
    )
    return row


def webhook_message(event_type: str, url: str, key: str, payload: dict[str, Any]) -> Message:
    """A request to deliver one webhook event about the job or batch ``key`` (``event_id``
    is fixed when it is written)."""
    request = WebhookRequest(str(uuid.uuid4()), event_type, url, payload, subject_id=key)
    return Message(WEBHOOKS_DELIVER, request.to_json(), key=key.encode())


def job_completed_messages(row: Mapping[Any, Any]) -> list[Message]:
    """What announces that a job reached a final state: its id on ``jobs.completed`` and,
    with a callback URL, a ``job.succeeded``/``job.failed`` webhook."""
    job_id = str(row["id"])
    messages = [Message(JOBS_COMPLETED, job_id.encode(), key=job_id.encode())]
    if row["callback_url"]:
        payload = JobOut.from_row(row).model_dump(mode="json")
        messages.append(
            webhook_message(f"job.{row['status']}", row["callback_url"], job_id, payload)
        )
    return messages


def completion_messages(session: Session, ids: Sequence[str]) -> tuple[list[Message], set[str]]:
    """The announcements of jobs that just reached a final state (see
    :func:`job_completed_messages`), and the batches they belong to."""
    if not ids:
        return [], set()
    conn = session.connection()
    messages: list[Message] = []
    batches: set[str] = set()
    with_callback: list[str] = []
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        rows = conn.execute(
            select(_JOBS.c.id, _JOBS.c.batch_id, _JOBS.c.callback_url).where(_JOBS.c.id.in_(chunk))
        ).all()
        for r in rows:
            if r.batch_id:
                batches.add(r.batch_id)
            if r.callback_url:
                with_callback.append(r.id)
            else:
                messages.append(Message(JOBS_COMPLETED, r.id.encode(), key=r.id.encode()))
    for start in range(0, len(with_callback), 500):
        full = conn.execute(
            select(_JOBS).where(_JOBS.c.id.in_(with_callback[start : start + 500]))
        ).mappings()
        for row in full:
            messages.extend(job_completed_messages(row))
    return messages, batches


def batch_out(session: Session, batch: Batch) -> BatchOut:
    """The API view of ``batch`` with its jobs counted by status."""
    counts = session.execute(
        select(_JOBS.c.status, func.count())
        .where(_JOBS.c.batch_id == batch.id)
        .group_by(_JOBS.c.status)
    ).all()
    return BatchOut(
        id=batch.id,
        kind=batch.kind,
        total=batch.total,
        callback_url=batch.callback_url,
        created_at=batch.created_at,
        completed_at=batch.completed_at,
        counts=BatchCounts(**{status: n for status, n in counts}),
    )


def complete_batches(
    session: Session, batch_ids: Iterable[str | None], now: datetime
) -> list[Message]:
    """For each batch whose jobs are now all final: set ``completed_at`` and, the first time
    only, return its ``batch.completed`` webhook (exactly once, guarded by
    ``completion_notified``). Call after the jobs' own updates in the same transaction:
    the batch row is locked so concurrent finishers serialise and exactly one sees the
    batch complete.

    The lock is PostgreSQL's ``FOR NO KEY UPDATE``, not ``FOR UPDATE``: a transaction that
    updated one of the batch's job rows twice already holds ``FOR KEY SHARE`` on the batch
    (the foreign-key check), and two workers upgrading that to ``FOR UPDATE`` deadlock."""
    messages: list[Message] = []
    for batch_id in sorted({b for b in batch_ids if b}):
        batch = session.execute(
            select(Batch).where(Batch.id == batch_id).with_for_update(key_share=True)
        ).scalar_one_or_none()
        if batch is None:
            continue
        unfinished = session.execute(
            select(exists().where(_JOBS.c.batch_id == batch_id, _JOBS.c.status.in_(_ACTIVE)))
        ).scalar_one()
        if unfinished:
            continue
        if batch.completed_at is None:
            batch.completed_at = now
        if batch.completion_notified:
            continue
        batch.completion_notified = True
        session.flush()
        if batch.callback_url:
            payload = batch_out(session, batch).model_dump(mode="json")
            messages.append(
                webhook_message("batch.completed", batch.callback_url, batch.id, payload)
            )
    return messages
