"""JobService: submit jobs and batches, look them up, list them, retry them.

Dual write (database + bus) uses a **transactional outbox** (:mod:`nunchi.jobs.outbox`): a
submit inserts the job rows, their ``queued`` events and the ``jobs.<kind>.requested``
messages (as outbox rows) in ONE transaction; after commit the messages are published and
their outbox rows deleted. If the process dies between commit and publish, or the bus is
down, the rows stay and :meth:`JobService.relay_outbox` (run every few seconds by
:func:`nunchi.jobs.relay.outbox_relay`) publishes them. A committed job is therefore never
lost, and nothing is published for a job that was not committed. The price is a possible
duplicate message, which the job stages ignore (their handlers are idempotent). Unlike a
"re-publish stale queued jobs" sweep, the outbox never re-publishes jobs that are merely
waiting behind a long backlog.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ColumnElement, Integer, cast, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from nunchi import strictjson
from nunchi.bus.base import Bus, Message
from nunchi.config import Settings
from nunchi.errors import Conflict, InvalidInput, NotFound, OutboundBlocked
from nunchi.jobs.kinds import ECHO, JobKind, KindRegistry
from nunchi.jobs.lifecycle import batch_out
from nunchi.jobs.models import (
    JOB_STATUSES,
    Batch,
    Job,
    JobEvent,
    batches_table,
    job_events_table,
    jobs_table,
)
from nunchi.jobs.outbox import Outbox, PendingMessages
from nunchi.jobs.schemas import BatchOut, JobDetail, JobOut, JobPage, Timeline
from nunchi.jobs.topics import job_requested
from nunchi.outbound import OutboundPolicy, check_url_syntax
from nunchi.runtime.nudges import Nudges
from nunchi.store.blobs import BlobStore
from nunchi.store.bulk import bulk_insert
from nunchi.store.ids import new_id
from nunchi.store.types import utcnow

__all__ = ["JOBS_CHANNEL", "MAX_PAGE_SIZE", "JobService"]

MAX_PAGE_SIZE = 500
JOBS_CHANNEL = "jobs"
"""Nudged whenever any job of this process changes state (Operations)."""
_JOBS = jobs_table
_EVENTS = job_events_table
_ID = re.compile(r"^[0-9a-f]{32}$")
_MAX_ERRORS_SHOWN = 5


def _describe(e: ValidationError, *, item_offset: bool = False) -> str:
    parts = []
    for err in e.errors()[:_MAX_ERRORS_SHOWN]:
        loc = list(err.get("loc", ()))
        where = ""
        if item_offset and loc and isinstance(loc[0], int):
            where = f"item {loc.pop(0)}: "
        field = ".".join(str(p) for p in loc)
        where += f"field '{field}': " if field else ""
        parts.append(f"{where}{err.get('msg', 'invalid')}")
    more = len(e.errors()) - _MAX_ERRORS_SHOWN
    return "; ".join(parts) + (f"; and {more} more error(s)" if more > 0 else "")


def _check_callback(url: str | None, policy: OutboundPolicy) -> str | None:
    """``url`` if it can be delivered to (everything but DNS is checked now, so a bad URL is
    refused at submit instead of failing at delivery)."""
    if url is None:
        return None
    try:
        check_url_syntax(url, policy)
    except OutboundBlocked as e:
        raise InvalidInput(f"callback_url is refused: {e}") from None
    return url


def _epoch_minute(dialect: str) -> ColumnElement[int]:
    """Minutes since the epoch of ``jobs.finished_at``, in the database's own SQL."""
    if dialect == "postgresql":
        return cast(func.floor(func.extract("epoch", Job.finished_at) / 60), Integer)
    return cast(cast(func.strftime("%s", Job.finished_at), Integer) / 60, Integer)


def _check_id(value: str, what: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise NotFound(f"no {what} {value!r}")
    return value


class JobService:
    """Everything the API and CLI do with jobs. Owns its transactions; thread-safe."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        bus: Bus,
        registry: KindRegistry | None = None,
        settings: Settings | None = None,
        *,
        blobs: BlobStore | None = None,
        nudges: Nudges | None = None,
    ) -> None:
        self.sessions = sessions
        self.bus = bus
        self.nudges = nudges if nudges is not None else Nudges()
        """Wakes live pages (``job:<id>``, ``batch:<id>``) when jobs change state."""
        self.registry = registry if registry is not None else KindRegistry([ECHO])
        self.settings = settings if settings is not None else Settings()
        self.blobs = blobs
        self.outbox = Outbox(sessions, bus, self.settings.default_partitions)
        self._outbound = OutboundPolicy.from_settings(self.settings)

    # -- submitting -------------------------------------------------------------------

    def _validate(self, kind: JobKind[Any], data: Any) -> Any:
        """The stored form of one input: JSON that can be stored and sent back
        (:mod:`nunchi.strictjson`), validated strictly (``"100"`` is not an integer)."""
        strictjson.check(data, "input")
        try:
            model = kind.input_model.model_validate_json(json.dumps(data), strict=True)
        except ValidationError as e:
            raise InvalidInput(f"invalid input for job kind {kind.name!r}: {_describe(e)}") from e
        return model.model_dump(mode="json")

    def submit(
        self,
        kind: str,
        input: dict[str, Any] | None = None,
        callback_url: str | None = None,
        actor: str | None = None,
    ) -> JobOut:
        """Validate and store one job, then queue it. Raises :class:`InvalidInput` for an
        unknown kind, bad input or a bad callback URL (nothing is stored then)."""
        job_kind = self.registry.get(kind)
        data = self._validate(job_kind, input if input is not None else {})
        callback_url = _check_callback(callback_url, self._outbound)
        now = utcnow()
        row = {
            "id": new_id(),
            "kind": kind,
            "status": "queued",
            "input": data,
            "result": None,
            "error": None,
            "attempts": 0,
            "batch_id": None,
            "callback_url": callback_url,
            "created_at": now,
            "started_at": None,
            "finished_at": None,
            "updated_at": now,
        }
        topic = job_requested(kind)
        with self.sessions.begin() as s:
            s.execute(insert(_JOBS), [row])
            s.execute(
                insert(_EVENTS),
                [{"job_id": row["id"], "at": now, "type": "queued", "actor": actor}],
            )
            pending = self.outbox.stage(s, [Message(topic, row["id"].encode(), row["id"].encode())])
        self.outbox.flush(pending)
        return JobOut.from_row(row)

    def submit_batch(
        self,
        kind: str,
        items: Sequence[Any],
        callback_url: str | None = None,
        actor: str | None = None,
    ) -> BatchOut:
        """Validate EVERY item, then store and queue one job per item in one transaction.
        One bad item raises :class:`InvalidInput` naming its index and field; nothing is
        stored then."""
        job_kind = self.registry.get(kind)
        if not isinstance(items, Sequence) or isinstance(items, str | bytes):
            raise InvalidInput("items must be a list of job inputs")
        if not items:
            raise InvalidInput("a batch needs at least one item")
        limit = self.settings.max_batch_items
        if len(items) > limit:
            raise InvalidInput(f"a batch takes at most {limit} items; got {len(items)}")
        strictjson.check(list(items), "items")
        try:
            models = job_kind.items_adapter().validate_json(json.dumps(list(items)), strict=True)
        except ValidationError as e:
            raise InvalidInput(
                f"invalid batch item for job kind {kind!r}: {_describe(e, item_offset=True)}"
            ) from e
        callback_url = _check_callback(callback_url, self._outbound)
        now = utcnow()
        batch_id = new_id()
        ids = [new_id() for _ in models]
        topic = job_requested(kind)
        base = {
            "kind": kind,
            "status": "queued",
            "attempts": 0,
            "batch_id": batch_id,
            "created_at": now,
            "updated_at": now,
        }
        with self.sessions.begin() as s:
            s.execute(
                insert(batches_table),
                [
                    {
                        "id": batch_id,
                        "kind": kind,
                        "total": len(ids),
                        "callback_url": callback_url,
                        "created_at": now,
                        "completed_at": None,
                        "completion_notified": False,
                    }
                ],
            )
            bulk_insert(
                s,
                _JOBS,
                [
                    {**base, "id": job_id, "input": m.model_dump(mode="json")}
                    for job_id, m in zip(ids, models, strict=True)
                ],
            )
            bulk_insert(
                s,
                _EVENTS,
                [{"job_id": i, "at": now, "type": "queued", "actor": actor} for i in ids],
            )
            pending = self.outbox.stage(
                s, [Message(topic, i.encode(), i.encode()) for i in ids], batch=(topic, batch_id)
            )
        self.outbox.flush(pending)
        return BatchOut.model_validate(
            {
                "id": batch_id,
                "kind": kind,
                "total": len(ids),
                "callback_url": callback_url,
                "created_at": now,
                "counts": {"queued": len(ids)},
            }
        )

    # -- reading ----------------------------------------------------------------------

    def get(self, job_id: str) -> JobDetail:
        """A job with its history; :class:`NotFound` if there is none."""
        _check_id(job_id, "job")
        with self.sessions() as s:
            job = s.get(Job, job_id)
            if job is None:
                raise NotFound(f"no job {job_id!r}")
            events = s.scalars(
                select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id)
            ).all()
            return JobDetail.from_rows(job, [*events])

    def many(self, job_ids: Iterable[str]) -> dict[str, JobOut]:
        """The jobs of ``job_ids`` that exist, by id, in one query (an app showing the jobs it
        started beside its own rows); ids that match no job, or no job id at all, are left
        out."""
        ids = sorted({i for i in job_ids if isinstance(i, str) and _ID.match(i)})
        found: dict[str, JobOut] = {}
        with self.sessions() as s:
            for start in range(0, len(ids), MAX_PAGE_SIZE):
                rows = s.scalars(select(Job).where(Job.id.in_(ids[start : start + MAX_PAGE_SIZE])))
                found.update((r.id, JobOut.from_row(r)) for r in rows)
        return found

    def list(
        self,
        status: str | None = None,
        kind: str | None = None,
        batch: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> JobPage:
        """Jobs newest first, filtered by status, kind and batch; pass the returned
        ``next_cursor`` back as ``cursor`` for the next page."""
        if status is not None and status not in JOB_STATUSES:
            raise InvalidInput(f"unknown status {status!r}; use one of {', '.join(JOB_STATUSES)}")
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_SIZE}; got {limit}")
        if cursor is not None and not _ID.match(cursor):
            raise InvalidInput("bad cursor: pass back the next_cursor of the previous page")
        query = select(Job).order_by(Job.id.desc()).limit(limit + 1)
        if status is not None:
            query = query.where(Job.status == status)
        if kind is not None:
            query = query.where(Job.kind == kind)
        if batch is not None:
            query = query.where(Job.batch_id == batch)
        if cursor is not None:
            query = query.where(Job.id < cursor)
        with self.sessions() as s:
            rows = s.scalars(query).all()
        items = [JobOut.from_row(r) for r in rows[:limit]]
        next_cursor = items[-1].id if len(rows) > limit else None
        return JobPage(items=items, next_cursor=next_cursor)

    def get_batch(self, batch_id: str) -> BatchOut:
        """A batch with its jobs counted by status; :class:`NotFound` if there is none."""
        _check_id(batch_id, "batch")
        with self.sessions() as s:
            batch = s.get(Batch, batch_id)
            if batch is None:
                raise NotFound(f"no batch {batch_id!r}")
            return batch_out(s, batch)

    def counts(self) -> dict[str, dict[str, int]]:
        """Jobs by kind, then by status (every status present, zero included)."""
        with self.sessions() as s:
            rows = s.execute(
                select(Job.kind, Job.status, func.count()).group_by(Job.kind, Job.status)
            ).all()
        out: dict[str, dict[str, int]] = {}
        for kind, status, n in rows:
            out.setdefault(kind, dict.fromkeys(JOB_STATUSES, 0))[status] = n
        return out

    def timeline(self, minutes: int = 60, *, now: datetime | None = None) -> Timeline:
        """Jobs that finished in each of the last ``minutes`` minutes (oldest first), as
        succeeded and failed counts: the platform's throughput and failures over time."""
        if not 1 <= minutes <= 24 * 60:
            raise InvalidInput(f"minutes must be between 1 and 1440; got {minutes}")
        end = (now or utcnow()).replace(second=0, microsecond=0) + timedelta(minutes=1)
        start = end - timedelta(minutes=minutes)
        with self.sessions() as s:
            bucket = _epoch_minute(s.get_bind().dialect.name)
            rows = s.execute(
                select(bucket, Job.status, func.count())
                .where(Job.finished_at >= start, Job.finished_at < end)
                .group_by(bucket, Job.status)
            ).all()
        succeeded = [0] * minutes
        failed = [0] * minutes
        first = int(start.timestamp()) // 60
        for minute, status, n in rows:
            slot = int(minute) - first
            if 0 <= slot < minutes:
                (succeeded if status == "succeeded" else failed)[slot] += int(n)
        starts = [start + timedelta(minutes=i) for i in range(minutes)]
        return Timeline(minutes=starts, succeeded=succeeded, failed=failed)

    # -- retrying ---------------------------------------------------------------------

    def retry(self, job_id: str, actor: str | None = None) -> JobOut:
        """Queue a failed job again (its attempt count carries on). :class:`Conflict` if
        the job is not failed, :class:`NotFound` if there is none."""
        _check_id(job_id, "job")
        now = utcnow()
        with self.sessions.begin() as s:
            row = (
                s.execute(
                    update(_JOBS)
                    .where(_JOBS.c.id == job_id, _JOBS.c.status == "failed")
                    .values(status="queued", finished_at=None, updated_at=now)
                    .returning(*_JOBS.c)
                )
                .mappings()
                .first()
            )
            if row is None:
                current = s.scalar(select(Job.status).where(Job.id == job_id))
                if current is None:
                    raise NotFound(f"no job {job_id!r}")
                raise Conflict(f"job {job_id} is {current}; only failed jobs can be retried")
            pending = self._requeue(s, [(row["id"], row["kind"], row["attempts"])], actor, now)
            if row["batch_id"]:
                s.execute(
                    update(Batch).where(Batch.id == row["batch_id"]).values(completed_at=None)
                )
        self.outbox.flush(pending)
        self.announce([row["id"]], [row["batch_id"]])
        return JobOut.from_row(row)

    def retry_failed(self, batch_id: str, actor: str | None = None) -> int:
        """Queue every failed job of a batch again; returns how many."""
        _check_id(batch_id, "batch")
        now = utcnow()
        with self.sessions.begin() as s:
            rows = s.execute(
                update(_JOBS)
                .where(_JOBS.c.batch_id == batch_id, _JOBS.c.status == "failed")
                .values(status="queued", finished_at=None, updated_at=now)
                .returning(_JOBS.c.id, _JOBS.c.kind, _JOBS.c.attempts)
            ).all()
            if not rows and s.get(Batch, batch_id) is None:
                raise NotFound(f"no batch {batch_id!r}")
            if rows:
                s.execute(update(Batch).where(Batch.id == batch_id).values(completed_at=None))
            pending = self._requeue(s, [(r.id, r.kind, r.attempts) for r in rows], actor, now)
        self.outbox.flush(pending)
        self.announce([r.id for r in rows], [batch_id])
        return len(rows)

    def _requeue(
        self,
        s: Session,
        jobs: Sequence[tuple[str, str, int]],
        actor: str | None,
        now: datetime,
    ) -> PendingMessages:
        if jobs:
            s.execute(
                insert(_EVENTS),
                [
                    {"job_id": i, "at": now, "type": "retried", "attempt": n, "actor": actor}
                    for i, _, n in jobs
                ],
            )
        return self.outbox.stage(
            s, [Message(job_requested(k), i.encode(), i.encode()) for i, k, _ in jobs]
        )

    # -- live pages -------------------------------------------------------------------

    def announce(self, job_ids: Iterable[str], batch_ids: Iterable[str | None] = ()) -> None:
        """Tell this process's live pages that these jobs and batches changed state."""
        channels = [f"job:{i}" for i in job_ids] + [f"batch:{b}" for b in batch_ids if b]
        if channels:
            self.nudges.nudge([JOBS_CHANNEL, *channels])

    # -- outbox -----------------------------------------------------------------------

    def relay_outbox(self, older_than: float = 30.0, limit: int = 1000) -> int:
        """Publish messages left in the outbox for more than ``older_than`` seconds (their
        writer crashed or the bus was down). Returns how many were published."""
        return self.outbox.relay(older_than=older_than, limit=limit)
