"""What the webhook service returns (and the API serialises): deliveries and their attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from nunchi.webhooks.models import WebhookAttempt, WebhookDelivery

__all__ = ["AttemptInfo", "DeliveryDetail", "DeliveryInfo", "DeliveryPage"]


class AttemptInfo(BaseModel):
    """One HTTP attempt at a delivery."""

    model_config = ConfigDict(from_attributes=True)

    attempt_no: int
    at: datetime
    status_code: int | None = Field(description="HTTP status the receiver answered, if any")
    error: str | None = Field(description="Why the attempt failed (None when it succeeded)")
    duration_ms: int
    response_excerpt: str | None = Field(description="Start of the receiver's response body")
    trigger: Literal["auto", "manual"]
    actor: str | None = Field(description="Who asked for a manual redelivery")

    @classmethod
    def of(cls, row: WebhookAttempt) -> AttemptInfo:
        """From a stored attempt."""
        return cls.model_validate(row)


class DeliveryInfo(BaseModel):
    """A webhook delivery and where it stands."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    event_id: str = Field(description="Sent as the webhook-id header")
    type: str
    url: str
    subject_id: str | None = Field(description="The job or batch the event is about")
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def of(cls, row: WebhookDelivery) -> DeliveryInfo:
        """From a stored delivery."""
        return cls.model_validate(row)


class DeliveryDetail(DeliveryInfo):
    """A delivery with its payload and every attempt, oldest first."""

    payload: dict[str, Any]
    history: list[AttemptInfo]


class DeliveryPage(BaseModel):
    """One page of deliveries, newest first."""

    items: list[DeliveryInfo]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page")
