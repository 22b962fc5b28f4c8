"""Tables of webhook delivery: one row per event to deliver, one row per HTTP attempt.

A delivery is ``pending`` until an attempt gets a 2xx (``delivered``) or the schedule runs
out or the URL is refused (``failed``). ``next_attempt_at`` is when it is next due; a worker
that claims it moves ``next_attempt_at`` forward by a lease and stamps ``claim_token``, so a
worker that dies mid-attempt only delays the delivery until the lease ends.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from nunchi.store.base import Base
from nunchi.store.types import BigSerial, JSONDocument, UTCDateTime, utcnow

__all__ = [
    "DELIVERY_STATUSES",
    "TRIGGERS",
    "WebhookAttempt",
    "WebhookDelivery",
]

DELIVERY_STATUSES = ("pending", "delivered", "failed")
TRIGGERS = ("auto", "manual")


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


class WebhookDelivery(Base):
    """One event to deliver to one URL, with its delivery state."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(200), unique=True)
    """Sent as ``webhook-id``; the same on every attempt so receivers can de-duplicate."""
    type: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(String(2048))
    subject_id: Mapped[str | None] = mapped_column(String(200))
    """The job or batch the event is about (None for other events)."""
    payload: Mapped[Any] = mapped_column(JSONDocument)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Attempts made in all (automatic and manual)."""
    schedule_step: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Attempts made since the schedule last (re)started; indexes the retry schedule."""
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_trigger: Mapped[str] = mapped_column(String(8), default="auto", server_default="auto")
    """Trigger recorded on the next attempt: ``manual`` right after a redeliver."""
    next_actor: Mapped[str | None] = mapped_column(String(200))
    claim_token: Mapped[str | None] = mapped_column(String(32))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(f"status IN ({_in(DELIVERY_STATUSES)})", name="status"),
        CheckConstraint(f"next_trigger IN ({_in(TRIGGERS)})", name="next_trigger"),
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_status_id", "status", "id"),
        Index("ix_webhook_deliveries_subject_id_id", "subject_id", "id"),
    )


class WebhookAttempt(Base):
    """One HTTP attempt at a delivery and what came of it."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigSerial, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("webhook_deliveries.id", ondelete="CASCADE")
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempt_no: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    response_excerpt: Mapped[str | None] = mapped_column(Text)
    trigger: Mapped[str] = mapped_column(String(8), default="auto")
    actor: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        CheckConstraint(f"trigger IN ({_in(TRIGGERS)})", name="trigger"),
        Index("ix_webhook_attempts_delivery_id_id", "delivery_id", "id"),
    )
