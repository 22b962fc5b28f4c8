"""Signed webhooks (Standard Webhooks) with scheduled retries and a delivery log.

Flow: the jobs subsystem publishes ``{"event_id", "type", "url", "payload", "subject_id"}``
(:meth:`WebhookRequest.to_json`; ``subject_id``, the job or batch, optional) on
``webhooks.deliver``; :func:`webhook_stage` stores it once (keyed by ``event_id``) and makes the
first attempt; :class:`WebhookScheduler` makes the later ones on ``settings.webhook_schedule``;
:class:`WebhookService` lists deliveries and redelivers by hand. Every request goes through
:class:`nunchi.outbound.GuardedClient` and is signed with :func:`load_secret`'s secret.
"""

from __future__ import annotations

from nunchi.webhooks.delivery import (
    AttemptOutcome,
    Claim,
    WebhookDeliverer,
    WebhookRequest,
    build_body,
    parse_request,
)
from nunchi.webhooks.models import WebhookAttempt, WebhookDelivery
from nunchi.webhooks.scheduler import WebhookScheduler
from nunchi.webhooks.schemas import AttemptInfo, DeliveryDetail, DeliveryInfo, DeliveryPage
from nunchi.webhooks.service import WebhookService
from nunchi.webhooks.signing import (
    generate_secret,
    load_secret,
    sign,
    signed_headers,
    verify,
)
from nunchi.webhooks.stage import webhook_stage

__all__ = [
    "AttemptInfo",
    "AttemptOutcome",
    "Claim",
    "DeliveryDetail",
    "DeliveryInfo",
    "DeliveryPage",
    "WebhookAttempt",
    "WebhookDeliverer",
    "WebhookDelivery",
    "WebhookRequest",
    "WebhookScheduler",
    "WebhookService",
    "build_body",
    "generate_secret",
    "load_secret",
    "parse_request",
    "sign",
    "signed_headers",
    "verify",
    "webhook_stage",
]
