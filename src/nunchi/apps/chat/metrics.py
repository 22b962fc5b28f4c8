"""Prometheus metrics of the chat pipeline, labelled by platform and stage, never by
broadcast (one label value per broadcast would grow without bound)."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable

from prometheus_client import Counter, Histogram

__all__ = ["LATENCY", "MESSAGES", "PARSE_FAILURES", "RECONNECTS", "count_messages"]

MESSAGES = Counter(
    "nunchi_chat_messages",
    "Chat messages by pipeline step (received, scored, stored) and platform.",
    ["step", "platform"],
)
RECONNECTS = Counter(
    "nunchi_chat_source_reconnects", "Chat sources that lost their connection.", ["platform"]
)
PARSE_FAILURES = Counter(
    "nunchi_chat_parse_failures", "Chat frames a source could not parse.", ["platform"]
)
LATENCY = Histogram(
    "nunchi_chat_latency_seconds",
    "From nunchi receiving a message to its live page sending it to a browser.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.175, 0.25, 0.5, 1.0, 2.5, 5.0),
)


def count_messages(step: str, platforms: Iterable[str]) -> None:
    """Count a batch's messages at ``step``, one platform per message: one label lookup a
    platform, not one a message."""
    for platform, n in Tally(platforms).items():
        MESSAGES.labels(step, platform).inc(n)
