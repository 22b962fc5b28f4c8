"""Topic naming rules of the event log: the dead-letter topic of a topic.

Topic names themselves live with the package that owns the topic (``nunchi.jobs.topics``,
``nunchi.webhooks.topics``, an app's ``topics`` module); none is typed twice.
"""

from __future__ import annotations

__all__ = ["dlq_topic", "is_dlq"]

_DLQ_SUFFIX = ".dlq"


def dlq_topic(topic: str) -> str:
    """The dead-letter topic of ``topic``."""
    if topic.endswith(_DLQ_SUFFIX):
        raise ValueError(f"{topic!r} is already a dead-letter topic")
    return topic + _DLQ_SUFFIX


def is_dlq(topic: str) -> bool:
    """Whether ``topic`` is a dead-letter topic."""
    return topic.endswith(_DLQ_SUFFIX)
