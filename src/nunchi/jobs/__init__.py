"""Jobs: requests with an id, a status and a result, run by stages, with batches and retries."""

from __future__ import annotations

from nunchi.jobs.kinds import ECHO, JobContext, JobKind, KindRegistry, echo_kind
from nunchi.jobs.schemas import BatchOut, JobDetail, JobEventOut, JobOut, JobPage
from nunchi.jobs.service import JobService

__all__ = [
    "ECHO",
    "BatchOut",
    "JobContext",
    "JobDetail",
    "JobEventOut",
    "JobKind",
    "JobOut",
    "JobPage",
    "JobService",
    "KindRegistry",
    "echo_kind",
]
