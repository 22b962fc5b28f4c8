"""Topics of the jobs subsystem."""

from __future__ import annotations

__all__ = ["JOBS_COMPLETED", "job_requested"]

JOBS_COMPLETED = "jobs.completed"
"""A job reached a final state (succeeded or failed); value and key are the job id, header
``batch`` the batch id when it belongs to one."""


def job_requested(kind: str) -> str:
    """Topic on which jobs of ``kind`` wait to run."""
    return f"jobs.{kind}.requested"
