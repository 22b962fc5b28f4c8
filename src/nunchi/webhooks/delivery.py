"""Delivering webhooks: store each request once, claim due deliveries, attempt, record.

:class:`WebhookDeliverer` is shared by the stage (first attempt, right after a request is
consumed) and the scheduler (later attempts). A claim is one ``UPDATE ... RETURNING`` that
moves ``next_attempt_at`` forward by a lease and stamps a token: on PostgreSQL the candidate
rows are picked ``FOR UPDATE SKIP LOCKED``; on SQLite the statement itself is the atomic,
conditional claim (one writer at a time). The HTTP call runs outside any transaction; its
result is recorded only if the claim token still matches, so a redeliver (which resets the
row) or a lease that ran out is never overwritten by a stale attempt.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import SecretStr
from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from nunchi.errors import InvalidInput, OutboundBlocked, PermanentError
from nunchi.outbound import GuardedClient
from nunchi.store.ids import new_id
from nunchi.store.types import utcnow
from nunchi.webhooks.models import WebhookAttempt, WebhookDelivery
from nunchi.webhooks.signing import load_secret, signed_headers

if TYPE_CHECKING:
    from nunchi.config import Settings

__all__ = [
    "AttemptOutcome",
    "Claim",
    "WebhookDeliverer",
    "WebhookRequest",
    "build_body",
    "parse_request",
]

log = logging.getLogger(__name__)

EXCERPT_CHARS = 1000
"""Characters of a receiver's response kept with each attempt."""
_READ_BYTES = 16 * 1024
_MAX_EVENT_ID = 200
_MAX_TYPE = 100
_MAX_URL = 2048


@dataclass(frozen=True)
class WebhookRequest:
    """What the ``webhooks.deliver`` topic carries: an event to POST to a URL."""

    event_id: str
    type: str
    url: str
    payload: dict[str, Any]
    subject_id: str | None = None
    """The job or batch the event is about, if any (shown with that job or batch)."""

    def to_json(self) -> bytes:
        """The message value for ``webhooks.deliver``."""
        doc: dict[str, Any] = {"event_id": self.event_id, "type": self.type, "url": self.url}
        doc["payload"] = self.payload
        if self.subject_id is not None:
            doc["subject_id"] = self.subject_id
        return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def parse_request(value: bytes) -> WebhookRequest:
    """Parse a ``webhooks.deliver`` message; raises :class:`PermanentError` saying what is wrong."""
    try:
        data = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise PermanentError(f"webhook request is not JSON: {e}") from e
    if not isinstance(data, dict):
        raise PermanentError("webhook request must be a JSON object")
    problems: list[str] = []
    for name, limit in (("event_id", _MAX_EVENT_ID), ("type", _MAX_TYPE), ("url", _MAX_URL)):
        v = data.get(name)
        if not isinstance(v, str) or not v.strip() or len(v) > limit:
            problems.append(f"'{name}' must be a non-empty string of at most {limit} characters")
    if not isinstance(data.get("payload"), dict):
        problems.append("'payload' must be a JSON object")
    subject = data.get("subject_id")
    if subject is not None and (not isinstance(subject, str) or len(subject) > _MAX_EVENT_ID):
        problems.append(f"'subject_id' must be a string of at most {_MAX_EVENT_ID} characters")
    if problems:
        raise PermanentError("bad webhook request: " + "; ".join(problems))
    return WebhookRequest(
        data["event_id"], data["type"], data["url"], data["payload"], subject or None
    )


def build_body(event_type: str, created_at: datetime, payload: Any) -> bytes:
    """The POST body, in the Standard Webhooks shape ``{"type", "timestamp", "data"}``.

    Built from stored fields only, so every attempt sends the same bytes."""
    stamp = created_at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    doc = {"type": event_type, "timestamp": stamp, "data": payload}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class Claim:
    """A delivery this worker holds until its lease ends: everything needed for one attempt."""

    id: str
    event_id: str
    type: str
    url: str
    payload: Any
    created_at: datetime
    schedule_step: int
    trigger: str
    actor: str | None
    token: str


@dataclass(frozen=True)
class AttemptOutcome:
    """What one HTTP attempt produced."""

    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int
    excerpt: str | None
    permanent: bool = False
    """True when retrying cannot help (the URL was refused)."""

    @property
    def delivered(self) -> bool:
        """Whether the receiver answered 2xx."""
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300


_CLAIM_COLUMNS = (
    WebhookDelivery.id,
    WebhookDelivery.event_id,
    WebhookDelivery.type,
    WebhookDelivery.url,
    WebhookDelivery.payload,
    WebhookDelivery.created_at,
    WebhookDelivery.schedule_step,
    WebhookDelivery.next_trigger,
    WebhookDelivery.next_actor,
    WebhookDelivery.claim_token,
)


class WebhookDeliverer:
    """Stores, claims, attempts and records webhook deliveries."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        client: GuardedClient,
        settings: Settings,
        *,
        secret: SecretStr | None = None,
    ) -> None:
        schedule = [float(s) for s in settings.webhook_schedule]
        if not schedule or any(s < 0 for s in schedule):
            raise InvalidInput(
                "webhook_schedule must list one or more non-negative delays in seconds, "
                "e.g. [0, 5, 300, 1800, 7200]"
            )
        if settings.webhook_timeout <= 0:
            raise InvalidInput("webhook_timeout must be a positive number of seconds")
        self.sessions = sessions
        self.client = client
        self.schedule: tuple[float, ...] = tuple(schedule)
        self.timeout = float(settings.webhook_timeout)
        self.lease = max(30.0, 3 * self.timeout)
        """Seconds a claim holds a delivery before another worker may take it over."""
        self._secret = secret if secret is not None else load_secret(settings)

    # -- storing ---------------------------------------------------------------------------

    def enqueue(self, request: WebhookRequest) -> str:
        """Store ``request`` unless its ``event_id`` is already stored; return the delivery id."""
        now = utcnow()
        values = {
            "id": new_id(),
            "event_id": request.event_id,
            "type": request.type,
            "url": request.url,
            "subject_id": request.subject_id,
            "payload": request.payload,
            "status": "pending",
            "attempts": 0,
            "schedule_step": 0,
            "next_attempt_at": now + timedelta(seconds=self.schedule[0]),
            "next_trigger": "auto",
            "created_at": now,
            "updated_at": now,
        }
        with self.sessions.begin() as s:
            dialect = s.get_bind().dialect.name
            if dialect == "postgresql":
                pg = postgresql.insert(WebhookDelivery).values(values)
                s.execute(pg.on_conflict_do_nothing(index_elements=["event_id"]))
            elif dialect == "sqlite":
                lite = sqlite.insert(WebhookDelivery).values(values)
                s.execute(lite.on_conflict_do_nothing(index_elements=["event_id"]))
            else:  # pragma: no cover - the store supports only these two
                raise InvalidInput(f"unsupported database {dialect!r}")
            found = s.scalar(
                select(WebhookDelivery.id).where(WebhookDelivery.event_id == request.event_id)
            )
        assert found is not None
        return found

    # -- claiming --------------------------------------------------------------------------

    def claim_due(self, limit: int = 10, *, delivery_id: str | None = None) -> list[Claim]:
        """Claim up to ``limit`` pending deliveries that are due (or just ``delivery_id``)."""
        now = utcnow()
        token = secrets.token_hex(16)
        with self.sessions.begin() as s:
            pick = (
                select(WebhookDelivery.id)
                .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                .limit(limit)
            )
            if delivery_id is not None:
                pick = pick.where(WebhookDelivery.id == delivery_id)
            if s.get_bind().dialect.name == "postgresql":
                pick = pick.with_for_update(skip_locked=True)
            stmt = (
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id.in_(pick),
                    WebhookDelivery.status == "pending",
                    WebhookDelivery.next_attempt_at <= now,
                )
                .values(
                    claim_token=token,
                    next_attempt_at=now + timedelta(seconds=self.lease),
                    updated_at=now,
                )
                .returning(*_CLAIM_COLUMNS)
                .execution_options(synchronize_session=False)
            )
            rows = s.execute(stmt).all()
        return [
            Claim(r.id, r.event_id, r.type, r.url, r.payload, r.created_at,
                  r.schedule_step, r.next_trigger, r.next_actor, token)
            for r in rows
        ]  # fmt: skip

    def next_due(self) -> datetime | None:
        """When the earliest pending delivery is due (None when nothing is pending)."""
        with self.sessions() as s:
            return s.scalar(
                select(func.min(WebhookDelivery.next_attempt_at)).where(
                    WebhookDelivery.status == "pending"
                )
            )

    # -- attempting ------------------------------------------------------------------------

    def attempt(self, claim: Claim) -> AttemptOutcome:
        """POST the signed event to its URL once. Never raises for a receiver's failure."""
        body = build_body(claim.type, claim.created_at, claim.payload)
        headers = signed_headers(self._secret, claim.event_id, body)
        headers["content-type"] = "application/json"
        at = utcnow()
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        excerpt: str | None = None
        permanent = False
        try:
            response = self.client.post(
                claim.url,
                headers=headers,
                content=body,
                follow_redirects=False,
                max_body_bytes=_READ_BYTES,
                truncate=True,
                timeout=self.timeout,
            )
            status = response.status_code
            excerpt = response.text[:EXCERPT_CHARS] or None
            if not response.is_success:
                error = f"HTTP {status}"
                if 300 <= status < 400:
                    error += " (redirects are not followed: point the webhook at the final URL)"
        except OutboundBlocked as e:
            error, permanent = str(e), True
        except httpx.TimeoutException as e:
            error = f"timed out after {self.timeout:g} s ({type(e).__name__}: {e})"
        except httpx.HTTPError as e:
            error = f"{type(e).__name__}: {e}"
        except Exception as e:  # a bug must not wedge the delivery: record it and move on
            log.exception("webhook delivery %s: unexpected error", claim.id)
            error = f"internal error: {type(e).__name__}: {e}"
        duration_ms = int((time.monotonic() - started) * 1000)
        return AttemptOutcome(at, status, error, duration_ms, excerpt, permanent)

    def record(self, claim: Claim, outcome: AttemptOutcome) -> str | None:
        """Log the attempt and move the delivery on; returns its new status.

        Returns None when the claim was lost meanwhile (the attempt is still logged)."""
        now = utcnow()
        with self.sessions.begin() as s:
            attempt_no = s.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == claim.id)
                .values(attempts=WebhookDelivery.attempts + 1)
                .returning(WebhookDelivery.attempts)
                .execution_options(synchronize_session=False)
            ).scalar_one_or_none()
            if attempt_no is None:
                return None  # the delivery was deleted
            s.add(
                WebhookAttempt(
                    delivery_id=claim.id,
                    at=outcome.at,
                    attempt_no=attempt_no,
                    status_code=outcome.status_code,
                    error=outcome.error,
                    duration_ms=outcome.duration_ms,
                    response_excerpt=outcome.excerpt,
                    trigger=claim.trigger,
                    actor=claim.actor,
                )
            )
            step = claim.schedule_step + 1
            values: dict[str, Any] = {
                "schedule_step": step,
                "last_status_code": outcome.status_code,
                "last_error": outcome.error,
                "claim_token": None,
                "next_trigger": "auto",
                "next_actor": None,
                "updated_at": now,
            }
            if outcome.delivered:
                values.update(status="delivered", delivered_at=now, next_attempt_at=None)
            elif outcome.permanent or step >= len(self.schedule):
                values.update(status="failed", next_attempt_at=None)
            else:
                values.update(next_attempt_at=now + timedelta(seconds=self.schedule[step]))
            moved = s.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == claim.id, WebhookDelivery.claim_token == claim.token)
                .values(values)
                .returning(WebhookDelivery.id)
                .execution_options(synchronize_session=False)
            ).scalar_one_or_none()
            status = str(values.get("status", "pending")) if moved is not None else None
        self._log(claim, outcome, status)
        return status

    def process(self, claims: Sequence[Claim]) -> None:
        """Attempt and record each claim in turn."""
        for claim in claims:
            self.record(claim, self.attempt(claim))

    @staticmethod
    def _log(claim: Claim, outcome: AttemptOutcome, status: str | None) -> None:
        # The URL may carry a token in its path or query: log the delivery id only.
        if outcome.delivered:
            log.info("webhook %s delivered (HTTP %s)", claim.id, outcome.status_code)
        else:
            log.warning(
                "webhook %s attempt failed: %s -> %s", claim.id, outcome.error, status or "stale"
            )
