"""``chat.notify``: one notice of an alert (opened or resolved) to one channel.

- **Slack**: an incoming-webhook POST of ``{"text": ..., "blocks": [...]}`` (the format of
  Slack's "Sending messages using incoming webhooks"), through the SSRF-guarded client. A 429
  or 5xx answer is retried like any job; another 4xx (``invalid_payload``,
  ``channel_not_found``...) fails the job at once, with Slack's answer in its error.
- **E-mail**: SMTP with STARTTLS and login when configured (``NUNCHI_SMTP_*``), one message
  to the rule's addresses, ``Message-ID`` fixed by alert and event so a retried send is
  recognisable as the same notice.
- **Webhook**: a signed ``chat.alert.opened`` / ``chat.alert.resolved`` event through the
  platform's webhook notifier (its retries, dead letters and redelivery); the event id is
  fixed by alert and event, so a retried job stores one delivery.

A notice already sent (recorded on the alert) is not sent again when a job is retried.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session, sessionmaker

from nunchi.apps.chat.models import (
    AlertRule,
    ChatAlert,
    ChatAlertNotice,
    ChatBroadcast,
    ChatWatch,
    notices_table,
)
from nunchi.bus.base import Message
from nunchi.config import Settings
from nunchi.errors import NotFound, PermanentError
from nunchi.jobs.kinds import JobContext, JobKind
from nunchi.outbound import GuardedClient
from nunchi.runtime.stage import RetryPolicy
from nunchi.store.types import utcnow
from nunchi.store.upsert import insert_new
from nunchi.webhooks.delivery import WebhookRequest
from nunchi.webhooks.topics import WEBHOOKS_DELIVER

__all__ = ["NOTIFY", "Notice", "NotifyInput", "notice_of", "notify_kind"]

log = logging.getLogger(__name__)

NOTIFY = "chat.notify"
_KIND_KO = {
    "negative_spike": "부정 반응 급증",
    "profane_rate": "욕설 급증",
    "silence": "채팅 끊김",
    "source_failing": "채팅 연결 실패",
}
_KIND_EN = {
    "negative_spike": "negative spike",
    "profane_rate": "profanity spike",
    "silence": "chat went silent",
    "source_failing": "chat source failing",
}


class NotifyInput(BaseModel):
    """Input of ``chat.notify``."""

    model_config = ConfigDict(extra="forbid")

    alert_id: str = Field(min_length=1, max_length=32)
    channel: Literal["slack", "email", "webhook"]
    event: Literal["opened", "resolved"]


class Notice(BaseModel):
    """What a notice says (the same words on every channel)."""

    alert_id: str
    event: str
    kind: str
    broadcast: str
    title: str
    subject: str
    text: str
    link: str
    detail: dict[str, Any]


def _describe(kind: str, summary: dict[str, Any]) -> str:
    if kind == "negative_spike" and summary:
        return (
            f"부정 {summary['share']:.0%} (평소 {summary['baseline']:.0%}, "
            f"{summary['messages']}건/분)"
        )
    if kind == "profane_rate" and summary:
        return f"욕설 {summary['profane']}건/분"
    if kind == "silence" and summary:
        return f"마지막 채팅 {summary.get('last_message') or '-'}"
    if kind == "source_failing" and summary:
        return f"상태 {summary.get('state')}: {summary.get('error') or ''}".strip()
    return ""


def notice_of(s: Session, alert_id: str, event: str, base_url: str) -> Notice:
    """The notice of ``alert_id``'s ``event``; NotFound when the alert is gone."""
    alert = s.get(ChatAlert, alert_id)
    if alert is None:
        raise NotFound(f"no chat alert {alert_id}")
    broadcast = s.get(ChatBroadcast, alert.broadcast)
    watch = s.get(ChatWatch, broadcast.watch_id) if broadcast and broadcast.watch_id else None
    title = (watch.title if watch is not None else None) or alert.broadcast
    detail = dict(alert.detail or {})
    summary = detail.get("opened" if event == "opened" else "resolved") or {}
    what_ko, what_en = _KIND_KO.get(alert.kind, alert.kind), _KIND_EN.get(alert.kind, alert.kind)
    state = "발생" if event == "opened" else "해소"
    subject = f"[nunchi] {what_ko} {state}: {title}"
    link = f"{base_url.rstrip('/')}/chat/live/{alert.broadcast}" if base_url else ""
    lines = [
        f"{what_ko} {state} ({what_en} {event}) — {title}",
        _describe(alert.kind, summary),
        f"시작 {alert.opened_at.isoformat()}",
    ]
    if alert.resolved_at is not None:
        lines.append(f"해소 {alert.resolved_at.isoformat()}")
    if link:
        lines.append(link)
    return Notice(
        alert_id=alert.id,
        event=event,
        kind=alert.kind,
        broadcast=alert.broadcast,
        title=title,
        subject=subject,
        text="\n".join(line for line in lines if line),
        link=link,
        detail=detail,
    )


def send_slack(client: GuardedClient, url: str, notice: Notice) -> dict[str, Any]:
    """POST ``notice`` to a Slack incoming webhook."""
    body = {
        "text": notice.text,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": notice.subject[:150]}},
            {"type": "section", "text": {"type": "plain_text", "text": notice.text[:3000]}},
        ],
    }
    try:
        response = client.post(
            url,
            headers={"content-type": "application/json; charset=utf-8"},
            content=json.dumps(body, ensure_ascii=False).encode(),
            follow_redirects=False,
            max_body_bytes=4096,
            truncate=True,
        )
    except httpx.TransportError as e:
        raise RuntimeError(f"Slack did not answer: {type(e).__name__}") from None
    answer = response.text[:200]
    if response.status_code == 429 or response.status_code >= 500:
        raise RuntimeError(f"Slack answered {response.status_code} {answer!r}; will retry")
    if not response.is_success:
        raise PermanentError(f"Slack refused the notice: {response.status_code} {answer!r}")
    return {"status": response.status_code}


def send_email(settings: Settings, to: list[str], notice: Notice) -> dict[str, Any]:
    """Send ``notice`` to ``to`` through the configured SMTP server."""
    if not settings.smtp_host:
        raise PermanentError("e-mail alerts need a mail server: set NUNCHI_SMTP_HOST")
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = ", ".join(to)
    message["Subject"] = notice.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(f"{notice.alert_id}.{notice.event}", "nunchi")
    message.set_content(notice.text, charset="utf-8")
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=20) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
            refused = smtp.send_message(message)
    except smtplib.SMTPAuthenticationError as e:
        raise PermanentError(f"the mail server refused the login ({e.smtp_code})") from None
    except smtplib.SMTPRecipientsRefused as e:
        raise PermanentError(
            f"the mail server refused every recipient: {sorted(e.recipients)}"
        ) from None
    except (OSError, smtplib.SMTPException) as e:
        raise RuntimeError(f"sending mail failed: {type(e).__name__}: {e}") from None
    return {"recipients": len(to) - len(refused), "refused": sorted(refused)}


def webhook_notice(url: str, notice: Notice) -> Message:
    """The webhook notifier's request for ``notice`` (one event id per alert and event)."""
    payload = notice.model_dump(exclude={"subject"})
    request = WebhookRequest(
        f"chat.alert.{notice.alert_id}.{notice.event}",
        f"chat.alert.{notice.event}",
        url,
        payload,
        subject_id=notice.alert_id,
    )
    return Message(WEBHOOKS_DELIVER, request.to_json(), key=notice.alert_id.encode())


def _already(sessions: sessionmaker[Session], data: NotifyInput) -> dict[str, Any] | None:
    with sessions() as s:
        if s.get(ChatAlert, data.alert_id) is None:
            raise PermanentError(f"no chat alert {data.alert_id}")
        sent = s.get(ChatAlertNotice, (data.alert_id, data.event, data.channel))
        return dict(sent.outcome or {}) if sent is not None else None


def _record(sessions: sessionmaker[Session], data: NotifyInput, outcome: dict[str, Any]) -> None:
    row = {
        "alert_id": data.alert_id,
        "event": data.event,
        "channel": data.channel,
        "sent_at": utcnow(),
        "outcome": outcome,
    }
    with sessions.begin() as s:
        insert_new(
            s,
            notices_table,
            [row],
            keys=["alert_id", "event", "channel"],
            returning=["alert_id"],
        )


def notify_kind() -> JobKind[NotifyInput]:
    """The ``chat.notify`` job kind."""

    def run(ctx: JobContext, data: NotifyInput) -> dict[str, Any]:
        done = _already(ctx.sessions, data)
        if done is not None:
            return {"already_sent": True, **done}
        with ctx.sessions() as s:
            try:
                notice = notice_of(s, data.alert_id, data.event, ctx.settings.public_url)
            except NotFound as e:
                raise PermanentError(str(e)) from None
            alert = s.get(ChatAlert, data.alert_id)
            rule = s.get(AlertRule, alert.rule_id) if alert is not None else None
            channels = dict(rule.channels or {}) if rule is not None else {}
        target = channels.get(data.channel)
        if not target:
            raise PermanentError(f"the alert's rule has no {data.channel} channel any more")
        if data.channel == "slack":
            outcome = send_slack(ctx.client, str(target), notice)
        elif data.channel == "email":
            outcome = send_email(ctx.settings, [str(t) for t in target], notice)
        else:
            ctx.bus.ensure_topic(WEBHOOKS_DELIVER, ctx.settings.default_partitions)
            ctx.bus.publish_batch([webhook_notice(str(target), notice)])
            outcome = {"queued": f"chat.alert.{data.alert_id}.{data.event}"}
        _record(ctx.sessions, data, outcome)
        log.info("chat alert %s %s sent to %s", data.alert_id, data.event, data.channel)
        return outcome

    return JobKind(
        name=NOTIFY,
        input_model=NotifyInput,
        run=run,
        retry=RetryPolicy(max_attempts=6, base_delay=2.0),
        description="One notice of a chat alert to Slack, e-mail or a webhook.",
        example={"alert_id": "0" * 26, "channel": "slack", "event": "opened"},
    )
