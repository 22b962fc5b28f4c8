"""Jobs API (``/api/v1``): submit jobs and batches, read them, list them, retry failures.

The routes only translate HTTP to :class:`nunchi.jobs.service.JobService` calls (the app
factory puts the service at ``app.state.jobs``); errors are ``NunchiError``s that the app's
error envelope turns into 4xx answers. Scopes: ``submit`` to submit and retry, ``read`` to
read (``admin`` implies both).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel

from nunchi.jobs.schemas import (
    BatchOut,
    BatchSubmit,
    JobDetail,
    JobOut,
    JobPage,
    JobStatus,
    JobSubmit,
    RetriedCount,
)
from nunchi.jobs.service import MAX_PAGE_SIZE
from nunchi.web.auth import PRIVATE_SCOPE, ReadPrincipal, SubmitPrincipal
from nunchi.web.deps import Jobs

__all__ = ["ErrorEnvelope", "error_responses", "jobs_router"]

PREFIX = "/api/v1"

_Id = Annotated[str, Path(description="A job id (32 hex digits).", pattern=r"^[0-9a-f]{32}$")]
_BatchId = Annotated[
    str, Path(description="A batch id (32 hex digits).", pattern=r"^[0-9a-f]{32}$")
]


class _ErrorDetail(BaseModel):
    code: str
    message: str
    details: list[Any] | None = None
    request_id: str | None = None


class ErrorEnvelope(BaseModel):
    """The shape of every API error."""

    error: _ErrorDetail


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route that may answer these error codes (for the API docs)."""
    return {code: {"model": ErrorEnvelope} for code in codes}


Service = Jobs
Reader = ReadPrincipal
"""The caller, who needs the ``read`` scope."""
Submitter = SubmitPrincipal
"""The caller, who needs the ``submit`` scope (``admin`` implies it)."""


def jobs_router() -> APIRouter:
    """The ``/api/v1/jobs`` and ``/api/v1/batches`` routes."""
    router = APIRouter(prefix=PREFIX, tags=["jobs"])

    @router.post(
        "/jobs",
        status_code=202,
        response_model=JobOut,
        responses=error_responses(401, 403, 422),
        summary="Submit a job",
    )
    def submit_job(
        body: JobSubmit, response: Response, service: Service, principal: Submitter
    ) -> JobOut:
        """Queue one job; poll ``Location`` (or pass ``callback_url``) for the result."""
        job = service.submit(body.kind, body.input, body.callback_url, actor=principal.name)
        response.headers["Location"] = f"{PREFIX}/jobs/{job.id}"
        return job

    @router.post(
        "/batches",
        status_code=202,
        response_model=BatchOut,
        responses=error_responses(401, 403, 422),
        summary="Submit a batch of jobs",
    )
    def submit_batch(
        body: BatchSubmit, response: Response, service: Service, principal: Submitter
    ) -> BatchOut:
        """Queue one job per item (all of one kind); every item is validated first and one
        bad item rejects the whole batch."""
        batch = service.submit_batch(body.kind, body.items, body.callback_url, actor=principal.name)
        response.headers["Location"] = f"{PREFIX}/batches/{batch.id}"
        return batch

    @router.get(
        "/jobs/{job_id}",
        response_model=JobDetail,
        responses=error_responses(401, 403, 404),
        summary="Get a job with its history",
    )
    def get_job(job_id: _Id, service: Service, reader: Reader) -> JobDetail:
        """The job, its result or error, and every step of its history (the callback URL in
        full and the traceback for admin keys only)."""
        return service.get(job_id).for_reader(reader.allows(PRIVATE_SCOPE))

    @router.get(
        "/jobs",
        response_model=JobPage,
        responses=error_responses(401, 403, 422),
        summary="List jobs",
    )
    def list_jobs(
        service: Service,
        reader: Reader,
        status: Annotated[JobStatus | None, Query(description="Only jobs in this status.")] = None,
        kind: Annotated[str | None, Query(description="Only jobs of this kind.")] = None,
        batch: Annotated[
            str | None, Query(description="Only jobs of this batch.", pattern=r"^[0-9a-f]{32}$")
        ] = None,
        cursor: Annotated[
            str | None,
            Query(description="next_cursor of the previous page.", pattern=r"^[0-9a-f]{32}$"),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size.")] = 50,
    ) -> JobPage:
        """Jobs, newest first, one page at a time."""
        page = service.list(status=status, kind=kind, batch=batch, cursor=cursor, limit=limit)
        return page.for_reader(reader.allows(PRIVATE_SCOPE))

    @router.get(
        "/batches/{batch_id}",
        response_model=BatchOut,
        responses=error_responses(401, 403, 404),
        summary="Get a batch with its jobs counted by status",
    )
    def get_batch(batch_id: _BatchId, service: Service, reader: Reader) -> BatchOut:
        """The batch and how many of its jobs are queued, running, succeeded or failed."""
        return service.get_batch(batch_id).for_reader(reader.allows(PRIVATE_SCOPE))

    @router.post(
        "/jobs/{job_id}/retry",
        status_code=202,
        response_model=JobOut,
        responses=error_responses(401, 403, 404, 409),
        summary="Retry a failed job",
    )
    def retry_job(
        job_id: _Id, response: Response, service: Service, principal: Submitter
    ) -> JobOut:
        """Queue a failed job again (409 if it is not failed)."""
        job = service.retry(job_id, actor=principal.name)
        response.headers["Location"] = f"{PREFIX}/jobs/{job.id}"
        return job.for_reader(principal.allows(PRIVATE_SCOPE))

    @router.post(
        "/batches/{batch_id}/retry-failed",
        status_code=202,
        response_model=RetriedCount,
        responses=error_responses(401, 403, 404),
        summary="Retry every failed job of a batch",
    )
    def retry_failed(
        batch_id: _BatchId, response: Response, service: Service, principal: Submitter
    ) -> RetriedCount:
        """Queue every failed job of the batch again; answers how many."""
        n = service.retry_failed(batch_id, actor=principal.name)
        response.headers["Location"] = f"{PREFIX}/batches/{batch_id}"
        return RetriedCount(batch_id=batch_id, retried=n)

    return router
