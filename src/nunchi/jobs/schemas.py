"""The shapes jobs take outside the database: API requests and responses, webhook payloads."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

from nunchi.urls import url_origin

__all__ = [
    "BatchCounts",
    "BatchOut",
    "BatchSubmit",
    "JobDetail",
    "JobError",
    "JobEventOut",
    "JobOut",
    "JobPage",
    "JobStatus",
    "JobSubmit",
    "RetriedCount",
    "Timeline",
]

JobStatus = Literal["queued", "running", "succeeded", "failed"]
EventType = Literal["queued", "started", "attempt_failed", "succeeded", "dead_lettered", "retried"]


def _get(row: Any, name: str) -> Any:
    return row[name] if isinstance(row, Mapping) else getattr(row, name)


class JobError(BaseModel):
    """Why a job (or its last attempt) failed."""

    type: str = Field(description="Exception type, e.g. 'TimeoutError'.")
    message: str
    traceback: str | None = Field(
        default=None, description="Only in job details, never in webhooks."
    )


class JobOut(BaseModel):
    """A job as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: str = Field(description="Time-ordered id (UUIDv7, 32 hex digits).")
    kind: str
    status: JobStatus
    input: Any
    result: Any = None
    error: JobError | None = Field(
        default=None, description="The final error of a failed job, or the last failed attempt's."
    )
    attempts: int = Field(description="Attempts started so far, across retries.")
    batch_id: str | None = None
    callback_url: str | None = Field(
        default=None,
        description="The URL notified when the job finishes: in full for admin keys; others "
        "see only its scheme, host and port (callback URLs often carry tokens).",
    )
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any, *, with_traceback: bool = False) -> JobOut:
        """Build from an ORM ``Job`` or a row mapping of the ``jobs`` table."""
        return cls(**_job_fields(row, with_traceback))

    def for_reader(self, private: bool) -> Self:
        """This job as a reader may see it: as is with ``private`` (admin keys), else with
        the callback URL cut to where it points and no traceback (server paths)."""
        if private:
            return self
        changes: dict[str, Any] = {}
        if self.callback_url:
            changes["callback_url"] = url_origin(self.callback_url)
        if self.error is not None and self.error.traceback:
            changes["error"] = self.error.model_copy(update={"traceback": None})
        return self.model_copy(update=changes) if changes else self


_JOB_FIELDS = (
    "id",
    "kind",
    "status",
    "input",
    "result",
    "attempts",
    "batch_id",
    "callback_url",
    "created_at",
    "started_at",
    "finished_at",
    "updated_at",
)


def _job_fields(row: Any, with_traceback: bool) -> dict[str, Any]:
    error = _get(row, "error")
    if isinstance(error, Mapping):
        error = JobError(
            type=str(error.get("type", "")),
            message=str(error.get("message", "")),
            traceback=error.get("traceback") if with_traceback else None,
        )
    else:
        error = None
    fields = {name: _get(row, name) for name in _JOB_FIELDS}
    fields["error"] = error
    return fields


class JobEventOut(BaseModel):
    """One step of a job's history."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    type: EventType
    attempt: int
    detail: Any = None
    actor: str | None = None


class JobDetail(JobOut):
    """A job with its full history (and the traceback of its final error, if any)."""

    events: list[JobEventOut]

    @classmethod
    def from_rows(cls, job: Any, events: list[Any]) -> JobDetail:
        """Build from a job row and its event rows (oldest first)."""
        return cls(**_job_fields(job, True), events=[JobEventOut.model_validate(e) for e in events])


class JobPage(BaseModel):
    """One page of a job listing, newest first."""

    items: list[JobOut]
    next_cursor: str | None = Field(
        default=None, description="Pass as ?cursor= for the next page; null on the last page."
    )

    def for_reader(self, private: bool) -> JobPage:
        """The page as a reader may see it (see :meth:`JobOut.for_reader`)."""
        if private:
            return self
        return self.model_copy(update={"items": [i.for_reader(False) for i in self.items]})


class BatchCounts(BaseModel):
    """A batch's jobs by status."""

    queued: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0


class BatchOut(BaseModel):
    """A batch as the API shows it."""

    id: str
    kind: str
    total: int
    callback_url: str | None = Field(
        default=None,
        description="The URL notified when the batch is done: in full for admin keys; others "
        "see only its scheme, host and port.",
    )
    created_at: datetime
    completed_at: datetime | None = Field(
        default=None, description="When the last job reached a final state."
    )
    counts: BatchCounts

    def for_reader(self, private: bool) -> BatchOut:
        """The batch as a reader may see it (the callback URL cut unless ``private``)."""
        if private or not self.callback_url:
            return self
        return self.model_copy(update={"callback_url": url_origin(self.callback_url)})


class JobSubmit(BaseModel):
    """Body of ``POST /api/v1/jobs``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    kind: str = Field(description="A registered job kind, e.g. 'diagnostic.echo'.")
    input: dict[str, Any] = Field(default_factory=dict)
    callback_url: str | None = Field(
        default=None, max_length=2048, description="http(s) URL to notify when the job finishes."
    )


class BatchSubmit(BaseModel):
    """Body of ``POST /api/v1/batches``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    kind: str
    items: list[dict[str, Any]] = Field(description="One input per job, all of ``kind``.")
    callback_url: str | None = Field(
        default=None,
        max_length=2048,
        description="http(s) URL to notify when the whole batch is done.",
    )


class RetriedCount(BaseModel):
    """How many jobs a bulk retry queued again."""

    batch_id: str
    retried: int


class Timeline(BaseModel):
    """Jobs that finished per minute: ``minutes`` are the minutes' starts (UTC)."""

    minutes: list[datetime]
    succeeded: list[int]
    failed: list[int]
