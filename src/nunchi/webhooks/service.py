"""Reading webhook deliveries and redelivering them by hand."""

from __future__ import annotations

import logging
import re

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from nunchi.bus.base import Bus
from nunchi.errors import InvalidInput, NotFound, NunchiError
from nunchi.store.types import utcnow
from nunchi.webhooks.delivery import WebhookRequest
from nunchi.webhooks.models import DELIVERY_STATUSES, WebhookAttempt, WebhookDelivery
from nunchi.webhooks.schemas import AttemptInfo, DeliveryDetail, DeliveryInfo, DeliveryPage
from nunchi.webhooks.topics import WEBHOOKS_DELIVER

__all__ = ["MAX_PAGE", "WebhookService"]

log = logging.getLogger(__name__)

MAX_PAGE = 200
_ID = re.compile(r"^[0-9a-f]{32}$")


def _check_id(value: str, what: str) -> str:
    if not _ID.match(value):
        raise InvalidInput(f"{what} {value!r} is not a delivery id (32 lowercase hex digits)")
    return value


class WebhookService:
    """Lists deliveries, shows one with its attempts, and redelivers on request."""

    def __init__(self, sessions: sessionmaker[Session], bus: Bus) -> None:
        self.sessions = sessions
        self.bus = bus

    def list_deliveries(
        self,
        *,
        status: str | None = None,
        subject_id: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> DeliveryPage:
        """Deliveries newest first, optionally only those in ``status`` or about the job or
        batch ``subject_id``.

        ``cursor`` is the ``next_cursor`` of the previous page."""
        if status is not None and status not in DELIVERY_STATUSES:
            raise InvalidInput(
                f"unknown status {status!r}: use one of {', '.join(DELIVERY_STATUSES)}"
            )
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}")
        query = select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(limit + 1)
        if status is not None:
            query = query.where(WebhookDelivery.status == status)
        if subject_id is not None:
            query = query.where(WebhookDelivery.subject_id == subject_id)
        if cursor:
            query = query.where(WebhookDelivery.id < _check_id(cursor, "cursor"))
        with self.sessions() as s:
            rows = list(s.scalars(query))
        more = len(rows) > limit
        items = [DeliveryInfo.of(r) for r in rows[:limit]]
        return DeliveryPage(items=items, next_cursor=items[-1].id if more else None)

    def counts(self) -> dict[str, int]:
        """How many deliveries are in each state (every state present)."""
        with self.sessions() as s:
            rows = s.execute(
                select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
            ).all()
        found = {str(status): int(n) for status, n in rows}
        return {status: found.get(status, 0) for status in DELIVERY_STATUSES}

    def get(self, delivery_id: str) -> DeliveryDetail:
        """One delivery with its payload and attempts; raises :class:`NotFound`."""
        _check_id(delivery_id, "delivery id")
        with self.sessions() as s:
            row = s.get(WebhookDelivery, delivery_id)
            if row is None:
                raise NotFound(f"no webhook delivery {delivery_id}")
            attempts = s.scalars(
                select(WebhookAttempt)
                .where(WebhookAttempt.delivery_id == delivery_id)
                .order_by(WebhookAttempt.id)
            ).all()
            info = DeliveryInfo.of(row)
            return DeliveryDetail(
                **info.model_dump(),
                payload=row.payload,
                history=[AttemptInfo.of(a) for a in attempts],
            )

    def redeliver(self, delivery_id: str, actor: str) -> DeliveryInfo:
        """Send a delivery again now, whatever its state, restarting its retry schedule.

        The next attempt is logged as ``manual`` by ``actor``. The delivery is published on
        ``webhooks.deliver`` for an immediate attempt; if the bus is unavailable the retry
        scheduler still makes it (it is due at once)."""
        _check_id(delivery_id, "delivery id")
        if not actor.strip():
            raise InvalidInput("actor must name who asked for the redelivery")
        now = utcnow()
        with self.sessions.begin() as s:
            # Write first (no read-then-upgrade): SQLite then waits for the lock politely.
            row = s.scalars(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery_id)
                .values(
                    status="pending",
                    schedule_step=0,
                    next_attempt_at=now,
                    next_trigger="manual",
                    next_actor=actor[:200],
                    claim_token=None,  # an attempt in flight no longer moves this delivery
                    updated_at=now,
                )
                .returning(WebhookDelivery)
                .execution_options(synchronize_session=False)
            ).one_or_none()
            if row is None:
                raise NotFound(f"no webhook delivery {delivery_id}")
            request = WebhookRequest(row.event_id, row.type, row.url, row.payload, row.subject_id)
            info = DeliveryInfo.of(row)
        try:
            self.bus.publish(
                WEBHOOKS_DELIVER, request.to_json(), key=request.event_id.encode("utf-8")
            )
        except NunchiError as e:
            log.warning(
                "redeliver %s: not published (%s); the scheduler will send it", delivery_id, e
            )
        log.info("webhook %s redelivery requested by %s", delivery_id, actor)
        return info
