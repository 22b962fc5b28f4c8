"""Topic names. Every topic name in nunchi comes from here; none is typed twice."""

from __future__ import annotations

__all__ = [
    "JOBS_COMPLETED",
    "WEBHOOKS_DELIVER",
    "dlq_topic",
    "is_dlq",
    "job_requested",
]

JOBS_COMPLETED = "jobs.completed"
"""A job reached a final state (succeeded or failed); value is the job id."""
WEBHOOKS_DELIVER = "webhooks.deliver"
"""A webhook to deliver (or re-deliver)."""

_DLQ_SUFFIX = ".dlq"


def dlq_topic(topic: str) -> str:
    """The dead-letter topic of ``topic``."""
    if topic.endswith(_DLQ_SUFFIX):
        raise ValueError(f"{topic!r} is already a dead-letter topic")
    return topic + _DLQ_SUFFIX


def is_dlq(topic: str) -> bool:
    """Whether ``topic`` is a dead-letter topic."""
    return topic.endswith(_DLQ_SUFFIX)


def job_requested(kind: str) -> str:
    """Topic on which jobs of ``kind`` wait to run."""
    return f"jobs.{kind}.requested"
