"""The ``webhooks.deliver`` stage: store each webhook request once and make its first attempt."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from nunchi.outbound import GuardedClient
from nunchi.runtime.stage import Delivery, Stage, StageContext
from nunchi.webhooks.delivery import WebhookDeliverer, parse_request
from nunchi.webhooks.topics import WEBHOOKS_DELIVER

if TYPE_CHECKING:
    from nunchi.config import Settings

__all__ = ["STAGE_NAME", "webhook_stage"]

STAGE_NAME = "webhooks.deliver"


def webhook_stage(
    sessions: sessionmaker[Session],
    client: GuardedClient,
    settings: Settings,
    *,
    concurrency: int = 4,
    secret: SecretStr | None = None,
) -> Stage:
    """The stage consuming :data:`~nunchi.bus.topics.WEBHOOKS_DELIVER`.

    Each message (``{"event_id", "type", "url", "payload"}``) becomes one delivery row keyed
    by ``event_id``; a message seen again adds nothing. When the delivery is due (the first
    schedule entry is 0, or a redeliver reset it) this stage claims it and attempts it at
    once; later attempts are the :class:`~nunchi.webhooks.WebhookScheduler`'s. A
    malformed message fails permanently (dead-lettered); a receiver's failure does not fail
    the stage, it is recorded and retried on schedule."""
    deliverer = WebhookDeliverer(sessions, client, settings, secret=secret)

    def handle(delivery: Delivery, ctx: StageContext) -> None:
        request = parse_request(delivery.record.value)
        delivery_id = deliverer.enqueue(request)
        deliverer.process(deliverer.claim_due(limit=1, delivery_id=delivery_id))

    return Stage(name=STAGE_NAME, topic=WEBHOOKS_DELIVER, handle=handle, concurrency=concurrency)
