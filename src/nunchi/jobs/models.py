"""Tables of the jobs subsystem: jobs, their event history, batches and the outbox.

Job and batch ids are time-ordered (UUIDv7, 32 lowercase hex digits), so ordering by id is
ordering by submission time and list pages use the id as a cursor.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from nunchi.store.base import Base
from nunchi.store.types import BigSerial, JSONDocument, UTCDateTime, utcnow

__all__ = [
    "EVENT_TYPES",
    "FINAL_STATUSES",
    "JOB_STATUSES",
    "Batch",
    "Job",
    "JobEvent",
    "OutboxMessage",
    "batches_table",
    "job_events_table",
    "jobs_outbox_table",
    "jobs_table",
]

JOB_STATUSES = ("queued", "running", "succeeded", "failed")
FINAL_STATUSES = ("succeeded", "failed")
EVENT_TYPES = ("queued", "started", "attempt_failed", "succeeded", "dead_lettered", "retried")

def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


class Batch(Base):
    """Jobs of one kind submitted together; notified once when the last one finishes."""

    __tablename__ = "batches"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(200))
    total: Mapped[int] = mapped_column(Integer)
    callback_url: Mapped[str | None] = mapped_column(String(2048))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completion_notified: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )


class Job(Base):
    """One unit of work of some kind, with its input, outcome and lifecycle times."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    input: Mapped[Any] = mapped_column(JSONDocument)
    result: Mapped[Any | None] = mapped_column(JSONDocument)
    error: Mapped[Any | None] = mapped_column(JSONDocument)
    """``{"type": ..., "message": ..., "traceback": ...?}`` once the job failed."""
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    batch_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("batches.id", ondelete="CASCADE")
    )
    callback_url: Mapped[str | None] = mapped_column(String(2048))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        CheckConstraint(f"status IN ({_in(JOB_STATUSES)})", name="status"),
        Index("ix_jobs_status_id", "status", "id"),
        Index("ix_jobs_kind_id", "kind", "id"),
        Index("ix_jobs_batch_id_status", "batch_id", "status"),
        Index("ix_jobs_finished_at", "finished_at"),
    )


class JobEvent(Base):
    """One step in a job's history (queued, started, attempt_failed, ...)."""

    __tablename__ = "job_events"

    id: Mapped[int] = mapped_column(BigSerial, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(32), ForeignKey("jobs.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    type: Mapped[str] = mapped_column(String(32))
    attempt: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    detail: Mapped[Any | None] = mapped_column(JSONDocument)
    actor: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        CheckConstraint(f"type IN ({_in(EVENT_TYPES)})", name="type"),
        Index("ix_job_events_job_id_id", "job_id", "id"),
    )


class OutboxMessage(Base):
    """A bus message written in the same transaction as the state change it announces.

    The writer publishes and deletes its rows right after commit; rows left behind by a
    crash are published by the relay (``JobService.relay_outbox``)."""

    __tablename__ = "jobs_outbox"

    id: Mapped[int] = mapped_column(BigSerial, primary_key=True, autoincrement=True)
    token: Mapped[str] = mapped_column(String(32))
    """Groups the rows of one transaction, so the writer deletes exactly its own."""
    topic: Mapped[str] = mapped_column(String(255))
    key: Mapped[bytes | None] = mapped_column(LargeBinary)
    value: Mapped[bytes] = mapped_column(LargeBinary)
    batch_id: Mapped[str | None] = mapped_column(String(32))
    """When set, the row stands for the ``topic`` messages of every still-queued job of this
    batch (one row instead of one per job for large batches); ``value`` is then empty."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_jobs_outbox_token", "token"),
        Index("ix_jobs_outbox_created_at", "created_at"),
    )


jobs_table = cast(Table, Job.__table__)
"""The ``jobs`` table, for Core statements."""
job_events_table = cast(Table, JobEvent.__table__)
"""The ``job_events`` table, for Core statements."""
batches_table = cast(Table, Batch.__table__)
"""The ``batches`` table, for Core statements."""
jobs_outbox_table = cast(Table, OutboxMessage.__table__)
"""The ``jobs_outbox`` table, for Core statements."""
