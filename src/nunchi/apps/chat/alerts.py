"""Alerts on a broadcast's chat: rules, their evaluation, incidents opened once and resolved
once.

Rules (per broadcast, or for every broadcast when ``broadcast`` is empty):

- ``negative_spike``: the negative share of the latest busy minute (``min_volume`` messages at
  least) is ``factor`` times its rolling baseline (the ``baseline_minutes`` before it) and at
  least 10 points above it;
- ``profane_rate``: ``per_minute`` profane messages or more in the latest minute;
- ``silence``: no message for ``minutes`` minutes while the broadcast's watch is live;
- ``source_failing``: the watch is failing, or reconnecting for ``minutes`` minutes.

An incident opens when its condition holds and no incident of the rule and broadcast is open
(nor resolved less than ``cooldown_s`` ago); it resolves once the condition has not held for a
minute. Opening and resolving each send one notice to every channel of the rule, through
``chat.notify`` jobs (retried like any job) and, for a webhook, the signed webhook notifier.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, sessionmaker

from nunchi.apps.chat.models import (
    AlertRule,
    ChatAlert,
    ChatAlertNotice,
    ChatBroadcast,
    ChatMinute,
    ChatWatch,
)
from nunchi.config import Settings
from nunchi.errors import InvalidInput, NotFound, OutboundBlocked
from nunchi.jobs.schemas import JobOut
from nunchi.jobs.service import JobService
from nunchi.outbound import OutboundPolicy, check_url_syntax
from nunchi.store.ids import new_id
from nunchi.store.types import utcnow

__all__ = [
    "ALERTS",
    "KINDS",
    "AlertEvaluator",
    "AlertRules",
    "Condition",
    "check_rule",
    "judge",
]

log = logging.getLogger(__name__)

ALERTS = "chat.alerts"
"""Name of the evaluation loop."""
KINDS = ("negative_spike", "profane_rate", "silence", "source_failing")
_DEFAULTS: dict[str, dict[str, float]] = {
    "negative_spike": {"factor": 2.0, "min_volume": 20, "baseline_minutes": 10},
    "profane_rate": {"per_minute": 10},
    "silence": {"minutes": 3},
    "source_failing": {"minutes": 1},
}
_EMAIL = re.compile(r"^[^@\s<>\"]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,}$")
_RESOLVE_AFTER = timedelta(minutes=1)
_ACTIVE = timedelta(minutes=15)
"""Broadcasts with chat this recent (or a running watch) are evaluated."""


def check_rule(
    kind: str,
    params: dict[str, Any],
    channels: dict[str, Any],
    settings: Settings,
) -> tuple[dict[str, float], dict[str, Any]]:
    """A rule's parameters (defaults filled in) and channels, checked: InvalidInput says
    what to fix (an unknown kind, a bad number, a URL the outbound guard refuses, e-mail
    without a mail server)."""
    if kind not in KINDS:
        raise InvalidInput(f"unknown alert kind {kind!r}; use one of {', '.join(KINDS)}")
    merged = dict(_DEFAULTS[kind])
    for name, value in params.items():
        if name not in merged:
            raise InvalidInput(f"{kind} takes {', '.join(merged)}, not {name!r}")
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise InvalidInput(f"{name} must be a positive number")
        merged[name] = float(value)
    policy = OutboundPolicy.from_settings(settings)
    checked: dict[str, Any] = {}
    for name in ("slack", "webhook"):
        url = channels.get(name)
        if url:
            try:
                check_url_syntax(str(url), policy)
            except OutboundBlocked as e:
                raise InvalidInput(f"the {name} URL is refused: {e}") from None
            checked[name] = str(url)
    emails = channels.get("email") or []
    if isinstance(emails, str):
        emails = [e.strip() for e in emails.split(",") if e.strip()]
    if emails:
        bad = [e for e in emails if not _EMAIL.match(str(e))]
        if bad:
            raise InvalidInput(f"not an e-mail address: {bad[0]!r}")
        if not settings.smtp_host:
            raise InvalidInput("e-mail alerts need a mail server: set NUNCHI_SMTP_HOST")
        checked["email"] = [str(e) for e in emails][:20]
    unknown = set(channels) - {"slack", "webhook", "email"}
    if unknown:
        raise InvalidInput(f"unknown alert channels {sorted(unknown)}: use slack, email, webhook")
    if not checked:
        raise InvalidInput("give at least one channel: slack, email or webhook")
    return merged, checked


@dataclass(frozen=True)
class Condition:
    """What a rule found on a broadcast now."""

    holds: bool
    summary: dict[str, Any]


def _latest_busy(minutes: Sequence[ChatMinute], volume: float) -> ChatMinute | None:
    for minute in reversed(minutes[-2:]):
        if minute.messages >= volume:
            return minute
    return None


def negative_spike(minutes: Sequence[ChatMinute], params: dict[str, float]) -> Condition:
    """The ``negative_spike`` condition over a broadcast's minutes (oldest first)."""
    latest = _latest_busy(minutes, params["min_volume"])
    if latest is None:
        return Condition(False, {})
    earlier = [m for m in minutes if m.minute < latest.minute][-int(params["baseline_minutes"]) :]
    volume = sum(m.messages for m in earlier)
    if len(earlier) < 2 or not volume:
        return Condition(False, {})
    baseline = sum(m.negative for m in earlier) / volume
    share = latest.negative / latest.messages
    holds = share >= params["factor"] * baseline and share - baseline >= 0.1
    return Condition(
        holds,
        {
            "share": round(share, 3),
            "baseline": round(baseline, 3),
            "messages": latest.messages,
            "minute": latest.minute.isoformat(),
        },
    )


def profane_rate(minutes: Sequence[ChatMinute], params: dict[str, float]) -> Condition:
    """The ``profane_rate`` condition."""
    latest = minutes[-1] if minutes else None
    if latest is None:
        return Condition(False, {})
    holds = latest.profane >= params["per_minute"]
    return Condition(holds, {"profane": latest.profane, "minute": latest.minute.isoformat()})


@dataclass(frozen=True)
class _Facts:
    """What the rules read of one broadcast."""

    minutes: Sequence[ChatMinute] = ()
    """Its latest minutes, oldest first."""
    watch: ChatWatch | None = None
    """Its newest running watch."""
    last_at: datetime | None = None
    """When its last message came."""


_NO_FACTS = _Facts()


def _params(rule: AlertRule) -> dict[str, float]:
    return {**_DEFAULTS[rule.kind], **(rule.params or {})}


_BY_MINUTE = ("negative_spike", "profane_rate")
"""The rule kinds that read a broadcast's minutes; the others read its watch."""


def _facts(s: Session, broadcasts: Sequence[str], rules: Sequence[AlertRule]) -> dict[str, _Facts]:
    """What ``rules`` read of each of ``broadcasts``: the latest minutes (as many as the
    deepest baseline needs), the newest running watch, the last message time; one query
    each, and only those some rule reads."""
    if not broadcasts:
        return {}
    kinds = {r.kind for r in rules}
    depth = max((int(_params(r).get("baseline_minutes", 1)) + 2 for r in rules), default=0)
    minutes: dict[str, list[ChatMinute]] = {}
    watches: dict[str, ChatWatch] = {}
    last: dict[str, datetime] = {}
    if kinds & set(_BY_MINUTE):
        minutes = _minutes(s, broadcasts, depth)
    if kinds - set(_BY_MINUTE):
        for watch in s.scalars(
            select(ChatWatch)
            .where(ChatWatch.broadcast.in_(broadcasts), ChatWatch.desired == "running")
            .order_by(ChatWatch.created_at.desc())
        ):
            if watch.broadcast is not None:
                watches.setdefault(watch.broadcast, watch)
    if "silence" in kinds:
        found = select(ChatBroadcast.id, ChatBroadcast.last_at)
        last = dict(s.execute(found.where(ChatBroadcast.id.in_(broadcasts))).all())
    return {b: _Facts(tuple(minutes.get(b, ())), watches.get(b), last.get(b)) for b in broadcasts}


def _minutes(s: Session, broadcasts: Sequence[str], depth: int) -> dict[str, list[ChatMinute]]:
    """The latest ``depth`` minutes of each of ``broadcasts``, oldest first."""
    ranked = (
        select(
            ChatMinute,
            func.row_number()
            .over(partition_by=ChatMinute.broadcast, order_by=ChatMinute.minute.desc())
            .label("rank"),
        )
        .where(ChatMinute.broadcast.in_(broadcasts))
        .subquery()
    )
    latest = aliased(ChatMinute, ranked)
    minutes: dict[str, list[ChatMinute]] = {}
    rows = s.scalars(
        select(latest).where(ranked.c.rank <= depth).order_by(latest.broadcast, latest.minute)
    )
    for minute in rows:
        minutes.setdefault(minute.broadcast, []).append(minute)
    return minutes


def judge(rule: AlertRule, facts: _Facts, now: datetime) -> Condition:
    """What ``rule`` finds in a broadcast's ``facts`` now."""
    params = _params(rule)
    if rule.kind in _BY_MINUTE:
        check = negative_spike if rule.kind == "negative_spike" else profane_rate
        return check(facts.minutes, params)
    watch = facts.watch
    if watch is None:
        return Condition(False, {})
    limit = timedelta(minutes=params["minutes"])
    if rule.kind == "silence":
        last = facts.last_at
        quiet = watch.state == "live" and last is not None and now - last >= limit
        return Condition(quiet, {"last_message": last.isoformat() if last else None})
    failing = watch.state == "failing" or (
        watch.state == "reconnecting" and now - watch.updated_at >= limit
    )
    return Condition(failing, {"state": watch.state, "error": watch.error})


class AlertEvaluator:
    """Evaluates every enabled rule on the active broadcasts and opens/resolves incidents."""

    def __init__(self, sessions: sessionmaker[Session], jobs: JobService) -> None:
        self.sessions = sessions
        self.jobs = jobs
        self._lock = threading.Lock()

    def run(self, stop: threading.Event, every: float = 5.0) -> None:
        """Evaluate every ``every`` seconds until ``stop``."""
        while not stop.is_set():
            try:
                self.evaluate()
            except Exception:
                log.exception("chat alert evaluation failed; retrying")
            stop.wait(every)

    def evaluate(self, now: datetime | None = None) -> list[str]:
        """One pass; returns the ids of the alerts it opened or resolved.

        What every rule needs of every broadcast is read in one session (a few queries
        however many rules and broadcasts); only a rule and broadcast whose condition holds
        on that reading, or whose incident is open, gets its own transaction, which reads the
        condition again before opening or resolving anything."""
        now = now or utcnow()
        with self._lock, self.sessions() as s:
            rules = list(s.scalars(select(AlertRule).where(AlertRule.enabled.is_(True))))
            if not rules:
                return []
            active = self._active(s, now)
            pairs = [(r, b) for r in rules for b in ([r.broadcast] if r.broadcast else active)]
            facts = _facts(s, sorted({b for _, b in pairs}), rules)
            open_keys = set(
                s.scalars(select(ChatAlert.open_key).where(ChatAlert.open_key.is_not(None)))
            )
        changed: list[str] = []
        for rule, broadcast in pairs:
            quiet = not judge(rule, facts.get(broadcast, _NO_FACTS), now).holds
            if quiet and f"{rule.id}:{broadcast}" not in open_keys:
                continue
            alert = self._step(rule, broadcast, now)
            if alert is not None:
                changed.append(alert)
        return changed

    @staticmethod
    def _active(s: Session, now: datetime) -> list[str]:
        recent = s.scalars(select(ChatBroadcast.id).where(ChatBroadcast.last_at >= now - _ACTIVE))
        watched = s.scalars(
            select(ChatWatch.broadcast).where(
                ChatWatch.desired == "running", ChatWatch.broadcast.is_not(None)
            )
        )
        return sorted({*recent, *(b for b in watched if b)})

    def condition(self, s: Session, rule: AlertRule, broadcast: str, now: datetime) -> Condition:
        """What ``rule`` finds on ``broadcast`` now."""
        return judge(rule, _facts(s, [broadcast], [rule]).get(broadcast, _NO_FACTS), now)

    def _step(self, rule: AlertRule, broadcast: str, now: datetime) -> str | None:
        key = f"{rule.id}:{broadcast}"
        channels = dict(rule.channels or {})
        try:
            with self.sessions.begin() as s:
                found = self.condition(s, rule, broadcast, now)
                open_alert = s.scalars(select(ChatAlert).where(ChatAlert.open_key == key)).first()
                if open_alert is None:
                    if not found.holds or self._cooling(s, rule, broadcast, now):
                        return None
                    alert_id = new_id()
                    s.add(
                        ChatAlert(
                            id=alert_id,
                            rule_id=rule.id,
                            broadcast=broadcast,
                            kind=rule.kind,
                            state="firing",
                            opened_at=now,
                            detail={"opened": found.summary},
                            deliveries={},
                            open_key=key,
                        )
                    )
                    event = "opened"
                else:
                    alert_id = open_alert.id
                    detail = dict(open_alert.detail or {})
                    if found.holds:
                        if "clear_since" in detail:
                            detail.pop("clear_since")
                            open_alert.detail = detail
                        return None
                    since = detail.setdefault("clear_since", now.isoformat())
                    if now - datetime.fromisoformat(since) < _RESOLVE_AFTER:
                        open_alert.detail = detail
                        return None
                    detail["resolved"] = found.summary
                    detail.pop("clear_since")
                    done: CursorResult[Any] = s.execute(  # type: ignore[assignment]
                        update(ChatAlert)
                        .where(ChatAlert.id == alert_id, ChatAlert.state == "firing")
                        .values(state="resolved", resolved_at=now, open_key=None, detail=detail)
                        .execution_options(synchronize_session=False)
                    )
                    if not done.rowcount:  # another process resolved it
                        return None
                    event = "resolved"
        except IntegrityError:  # another process opened it first
            return None
        self._notify(alert_id, channels, event)
        return alert_id

    @staticmethod
    def _cooling(s: Session, rule: AlertRule, broadcast: str, now: datetime) -> bool:
        last = s.scalar(
            select(func.max(ChatAlert.resolved_at)).where(
                ChatAlert.rule_id == rule.id, ChatAlert.broadcast == broadcast
            )
        )
        return last is not None and now - last < timedelta(seconds=rule.cooldown_s)

    def _notify(self, alert_id: str, channels: dict[str, Any], event: str) -> None:
        sent: dict[str, str] = {}
        for channel in ("slack", "email", "webhook"):
            if channels.get(channel):
                job = self.jobs.submit(
                    "chat.notify", {"alert_id": alert_id, "channel": channel, "event": event}
                )
                sent[channel] = job.id
        with self.sessions.begin() as s:
            alert = s.get(ChatAlert, alert_id)
            if alert is None:  # pragma: no cover - deleted meanwhile
                raise NotFound(f"no alert {alert_id}")
            deliveries = dict(alert.deliveries or {})
            deliveries[event] = sent
            alert.deliveries = deliveries
        log.info("chat alert %s %s: notices %s", alert_id, event, sorted(sent))


def _unsent(notice: str, job_id: str, job: JobOut | None) -> dict[str, Any]:
    """A notice not sent yet, with its job's status and last error (``gone`` when the job
    was pruned without sending it)."""
    error = job.error.message if job is not None and job.error is not None else None
    return {"notice": notice, "job_id": job_id, "status": job.status if job else "gone",
            "error": error}  # fmt: skip


def _where(url: str) -> str:
    """A channel URL as shown to readers: scheme and host (a Slack webhook's path is its
    secret)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}/…"


class AlertRules:
    """Saving, listing and removing alert rules; listing incidents."""

    def __init__(
        self, sessions: sessionmaker[Session], settings: Settings, jobs: JobService
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.jobs = jobs

    def create(
        self,
        kind: str,
        *,
        broadcast: str | None = None,
        params: dict[str, Any] | None = None,
        channels: dict[str, Any],
        cooldown_s: int = 600,
    ) -> dict[str, Any]:
        """Save a rule (checked by :func:`check_rule`); returns it as :meth:`rules` shows it."""
        merged, checked = check_rule(kind, params or {}, channels, self.settings)
        if not 0 <= cooldown_s <= 7 * 24 * 3600:
            raise InvalidInput("cooldown_s must be between 0 and 604800 seconds")
        if broadcast is not None and (not broadcast.strip() or len(broadcast) > 200):
            raise InvalidInput("broadcast must be 1-200 characters, or left out for all")
        with self.sessions.begin() as s:
            rule = AlertRule(
                id=new_id(),
                broadcast=broadcast or None,
                kind=kind,
                params=merged,
                channels=checked,
                cooldown_s=cooldown_s,
                enabled=True,
                created_at=utcnow(),
            )
            s.add(rule)
            s.flush()
            return self._out(rule)

    def rules(self) -> list[dict[str, Any]]:
        """Every rule, newest first (channel URLs shown by host only)."""
        with self.sessions() as s:
            rows = s.scalars(select(AlertRule).order_by(AlertRule.created_at.desc()))
            return [self._out(r) for r in rows]

    def set_enabled(self, rule_id: str, enabled: bool) -> dict[str, Any]:
        """Turn a rule on or off."""
        with self.sessions.begin() as s:
            rule = s.get(AlertRule, rule_id)
            if rule is None:
                raise NotFound(f"no alert rule {rule_id}")
            rule.enabled = enabled
            return self._out(rule)

    def delete(self, rule_id: str) -> None:
        """Remove a rule and its incidents."""
        with self.sessions.begin() as s:
            rule = s.get(AlertRule, rule_id)
            if rule is None:
                raise NotFound(f"no alert rule {rule_id}")
            s.query(ChatAlert).filter(ChatAlert.rule_id == rule_id).delete()
            s.delete(rule)

    def alerts(
        self, broadcast: str | None = None, *, state: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """Incidents, newest first."""
        query = select(ChatAlert).order_by(ChatAlert.opened_at.desc()).limit(limit)
        if broadcast:
            query = query.where(ChatAlert.broadcast == broadcast)
        if state:
            query = query.where(ChatAlert.state == state)
        with self.sessions() as s:
            found = list(s.scalars(query))
            sent: dict[str, list[str]] = {}
            notices = select(ChatAlertNotice).where(
                ChatAlertNotice.alert_id.in_([a.id for a in found])
            )
            for n in s.scalars(notices.order_by(ChatAlertNotice.event, ChatAlertNotice.channel)):
                sent.setdefault(n.alert_id, []).append(f"{n.event}.{n.channel}")
        queued = {
            a.id: {
                f"{event}.{channel}": job_id
                for event, jobs in (a.deliveries or {}).items()
                for channel, job_id in jobs.items()
                if f"{event}.{channel}" not in sent.get(a.id, [])
            }
            for a in found
        }
        states = self.jobs.many(j for waiting in queued.values() for j in waiting.values())
        return [
            {
                "id": a.id,
                "rule_id": a.rule_id,
                "kind": a.kind,
                "broadcast": a.broadcast,
                "state": a.state,
                "opened_at": a.opened_at,
                "resolved_at": a.resolved_at,
                "detail": {k: v for k, v in (a.detail or {}).items() if k != "clear_since"},
                "notices": sent.get(a.id, []),
                "unsent": [
                    _unsent(notice, job_id, states.get(job_id))
                    for notice, job_id in sorted(queued[a.id].items())
                ],
            }
            for a in found
        ]

    @staticmethod
    def _out(rule: AlertRule) -> dict[str, Any]:
        channels = dict(rule.channels or {})
        shown: dict[str, Any] = {
            name: _where(str(channels[name])) for name in ("slack", "webhook") if name in channels
        }
        if channels.get("email"):
            shown["email"] = list(channels["email"])
        return {
            "id": rule.id,
            "kind": rule.kind,
            "broadcast": rule.broadcast,
            "params": dict(rule.params or {}),
            "channels": shown,
            "cooldown_s": rule.cooldown_s,
            "enabled": rule.enabled,
            "created_at": rule.created_at,
        }
