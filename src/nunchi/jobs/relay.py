"""The outbox relay: a background loop publishing outbox messages their writer left behind."""

from __future__ import annotations

from nunchi.jobs.service import JobService
from nunchi.runtime.background import Background, every

__all__ = ["OUTBOX_RELAY", "outbox_relay"]

OUTBOX_RELAY = "jobs.outbox-relay"
"""Name of the relay loop (``nunchi worker --stage jobs.outbox-relay``)."""


def outbox_relay(service: JobService, interval: float = 10.0, grace: float = 30.0) -> Background:
    """Every ``interval`` seconds, publish outbox rows older than ``grace`` seconds until
    none is left. Run one in every process that serves the API or runs job stages
    (``nunchi up``, ``nunchi worker``); several relays at once only cause harmless duplicate
    messages."""
    if grace < 0:
        raise ValueError("grace must not be negative")

    def drain() -> None:
        while service.relay_outbox(older_than=grace):
            pass

    return every(OUTBOX_RELAY, interval, drain)
