"""What every live-chat source hands the chat app: messages, deletions and its own state.

A source is one broadcast's chat on one platform. :meth:`ChatSource.run` blocks on the
caller's thread until ``stop`` is set or the broadcast has ended, and reports through a
:class:`SourceSink`: batches of :class:`ChatMessage`, :class:`ChatDeletion` events, every
:class:`SourceState` change, and frames it could not parse (which never end the watch).

Connecting and reconnecting is shared: an adapter implements :meth:`ChatSource._session`
(connect, report :meth:`SessionContext.live`, read until the connection drops) and the base
retries network failures, expired tokens and stream restarts with the project's
:class:`~nunchi.runtime.stage.RetryPolicy` (exponential backoff, jitter, a cap).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, Protocol, get_args

from nunchi.errors import InvalidInput, NunchiError, PermanentError
from nunchi.runtime.stage import RetryPolicy

__all__ = [
    "DEFAULT_RECONNECT",
    "ChatDeletion",
    "ChatMessage",
    "ChatSource",
    "MessageKind",
    "ParseError",
    "ReconnectNow",
    "SessionContext",
    "SourceEnded",
    "SourceGone",
    "SourceSink",
    "SourceState",
    "StateKind",
    "excerpt",
]

_log = logging.getLogger("nunchi.apps.chat.sources")

MessageKind = Literal["chat", "donation", "subscription", "system"]
StateKind = Literal["connecting", "live", "reconnecting", "ended", "failing"]
_KINDS: frozenset[str] = frozenset(get_args(MessageKind))

DEFAULT_RECONNECT = RetryPolicy(
    max_attempts=1_000_000, base_delay=1.0, multiplier=2.0, max_delay=60.0, jitter=0.5
)
"""Reconnect for as long as the broadcast lasts: 1 s, 2 s, 4 s ... capped at 60 s, +-jitter.
:class:`~nunchi.errors.PermanentError` (refused URL, unknown channel) is never retried."""

_EXCERPT = 400


def excerpt(raw: str | bytes, limit: int = _EXCERPT) -> str:
    """The start of a raw frame for a parse-failure report (bytes shown escaped)."""
    text = raw if isinstance(raw, str) else repr(bytes(raw))[2:-1]
    return text if len(text) <= limit else text[:limit] + "..."


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise InvalidInput(f"timestamp {value.isoformat()} has no time zone; give an aware time")
    return value.astimezone(UTC)


def _parse_time(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be an ISO-8601 string, got {type(value).__name__}")
    try:
        return _utc(datetime.fromisoformat(value))
    except ValueError as e:
        raise InvalidInput(f"{name} {value!r} is not an ISO-8601 time: {e}") from e


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One chat line (or donation, subscription, system notice) of one broadcast.

    ``amount`` is a donation in the smallest unit of ``currency``: ``"bits"`` (Twitch),
    ``"KRW"`` (Chzzk cheese: 1 cheese = 1 won), ``"star_balloon"`` / ``"ad_balloon"``
    (SOOP, a count), or an ISO 4217 code in that currency's minor unit (YouTube: KRW in won,
    USD in cents). Subscriptions carry their months as a ``months/<n>`` badge.
    ``original_sent_at`` is set where ``sent_at`` is not the platform's time (replays)."""

    platform: str
    channel: str
    broadcast: str
    message_id: str
    author_id: str
    author_name: str
    text: str
    sent_at: datetime
    kind: MessageKind = "chat"
    amount: int | None = None
    currency: str | None = None
    badges: tuple[str, ...] = ()
    original_sent_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise InvalidInput(f"message kind {self.kind!r} is not one of {sorted(_KINDS)}")
        object.__setattr__(self, "sent_at", _utc(self.sent_at))
        if self.original_sent_at is not None:
            object.__setattr__(self, "original_sent_at", _utc(self.original_sent_at))
        object.__setattr__(self, "badges", tuple(self.badges))

    def to_dict(self) -> dict[str, Any]:
        """The message as JSON-ready values (times as ISO-8601 UTC)."""
        return {
            "platform": self.platform,
            "channel": self.channel,
            "broadcast": self.broadcast,
            "message_id": self.message_id,
            "author_id": self.author_id,
            "author_name": self.author_name,
            "text": self.text,
            "sent_at": self.sent_at.isoformat(),
            "kind": self.kind,
            "amount": self.amount,
            "currency": self.currency,
            "badges": list(self.badges),
            "original_sent_at": (
                self.original_sent_at.isoformat() if self.original_sent_at else None
            ),
        }

    def to_json(self) -> bytes:
        """UTF-8 JSON with stable field names, for the event log."""
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChatMessage:
        """A message from :meth:`to_dict` output; raises InvalidInput naming a bad field."""
        try:
            amount = data.get("amount")
            if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int)):
                raise InvalidInput(f"amount must be an integer or null, got {amount!r}")
            original = data.get("original_sent_at")
            return cls(
                platform=str(data["platform"]),
                channel=str(data["channel"]),
                broadcast=str(data["broadcast"]),
                message_id=str(data["message_id"]),
                author_id=str(data["author_id"]),
                author_name=str(data["author_name"]),
                text=str(data["text"]),
                sent_at=_parse_time(data["sent_at"], "sent_at"),
                kind=data.get("kind", "chat"),
                amount=amount,
                currency=data.get("currency"),
                badges=tuple(str(b) for b in data.get("badges") or ()),
                original_sent_at=(
                    _parse_time(original, "original_sent_at") if original is not None else None
                ),
            )
        except KeyError as e:
            raise InvalidInput(f"chat message is missing the field {e.args[0]!r}") from e

    @classmethod
    def from_json(cls, raw: bytes | str) -> ChatMessage:
        """The inverse of :meth:`to_json`."""
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise InvalidInput(f"chat message is not valid JSON: {e}") from e
        if not isinstance(data, dict):
            raise InvalidInput("chat message JSON must be an object")
        return cls.from_dict(data)


@dataclass(frozen=True, slots=True)
class ChatDeletion:
    """The platform removed one message (``message_id``), all of one user's messages
    (``author_id``: a ban, timeout or blind), or, with neither, the whole chat so far.

    Twitch CLEARMSG/CLEARCHAT, YouTube's deletion actions, Chzzk's blind, SOOP's kicks."""

    platform: str
    channel: str
    broadcast: str
    deleted_at: datetime
    message_id: str | None = None
    author_id: str | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "deleted_at", _utc(self.deleted_at))

    def to_json(self) -> bytes:
        """UTF-8 JSON with stable field names, for the event log."""
        data = {
            "platform": self.platform,
            "channel": self.channel,
            "broadcast": self.broadcast,
            "deleted_at": self.deleted_at.isoformat(),
            "message_id": self.message_id,
            "author_id": self.author_id,
            "reason": self.reason,
        }
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> ChatDeletion:
        """The inverse of :meth:`to_json`."""
        try:
            data = json.loads(raw)
            return cls(
                platform=str(data["platform"]),
                channel=str(data["channel"]),
                broadcast=str(data["broadcast"]),
                deleted_at=_parse_time(data["deleted_at"], "deleted_at"),
                message_id=data.get("message_id"),
                author_id=data.get("author_id"),
                reason=data.get("reason"),
            )
        except (ValueError, TypeError, KeyError) as e:
            raise InvalidInput(f"chat deletion is not valid: {e}") from e


@dataclass(frozen=True, slots=True)
class SourceState:
    """Where a source stands. ``connecting`` (first attempt), ``live``, ``reconnecting``
    (lost it, trying again: ``attempt`` counts the tries of this streak, ``error`` says why),
    ``ended`` (the broadcast is over, or stop was asked) and ``failing`` (given up: a
    permanent error or the retry budget spent). ``since`` is when this state began."""

    kind: StateKind
    since: datetime
    attempt: int = 0
    error: str | None = None
    broadcast: str | None = None

    @property
    def final(self) -> bool:
        """Whether the source stopped (``run`` returns after a final state)."""
        return self.kind in ("ended", "failing")


class SourceSink(Protocol):
    """What the app passes to :meth:`ChatSource.run`. Called on the source's thread."""

    def messages(self, messages: list[ChatMessage]) -> None:
        """New messages, in the order the platform sent them."""

    def deletions(self, deletions: list[ChatDeletion]) -> None:
        """Messages the platform removed."""

    def state(self, state: SourceState) -> None:
        """The source's state changed."""

    def parse_failure(self, platform: str, raw_excerpt: str, error: str) -> None:
        """A frame could not be parsed; it was skipped and the watch goes on."""


class ParseError(ValueError):
    """A frame or response is not in the shape the adapter knows (the platform changed).
    ``raw`` is the offending piece when it is smaller than the whole frame."""

    def __init__(self, message: str, raw: str | bytes | None = None) -> None:
        super().__init__(message)
        self.raw = raw


class ReconnectNow(Exception):
    """Raised by a session to reconnect at once, without backoff (Twitch RECONNECT, a new
    Chzzk chatChannelId, an expired YouTube continuation)."""


class SourceGone(PermanentError):
    """The channel, video or broadcast does not exist or cannot be watched (never retried)."""

    code = "chat_source_gone"
    status = 404


class SourceEnded(Exception):
    """Raised by a session when the broadcast is over."""


@dataclass
class SessionContext:
    """What a running session uses: the sink, the stop flag and a way to say it is live."""

    sink: SourceSink
    stop: threading.Event
    platform: str
    _on_live: Callable[[], None] = field(repr=False)
    _live: bool = False

    def live(self) -> None:
        """Report that the connection is up and messages flow (once per session)."""
        if not self._live:
            self._live = True
            self._on_live()

    @property
    def is_live(self) -> bool:
        """Whether :meth:`live` was called in this session."""
        return self._live

    def parse_failure(self, raw: str | bytes, error: BaseException | str) -> None:
        """Report a frame that could not be parsed (and go on)."""
        message = str(error) or type(error).__name__
        _log.warning("%s: unparsable frame skipped: %s", self.platform, message)
        self.sink.parse_failure(self.platform, excerpt(raw), message)

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True when stop was set meanwhile."""
        return self.stop.wait(max(0.0, seconds))


class ChatSource(ABC):
    """One broadcast's chat. Subclasses implement :meth:`_session`; :meth:`run` reconnects.

    ``reconnect`` sets the backoff; ``healthy_after`` is how long a session must have been
    live for the next failure to count as a fresh streak (so a server that accepts and drops
    at once still backs off)."""

    platform: ClassVar[str]

    def __init__(
        self,
        *,
        reconnect: RetryPolicy = DEFAULT_RECONNECT,
        healthy_after: float = 30.0,
    ) -> None:
        self.reconnect = reconnect
        self.healthy_after = healthy_after

    @property
    @abstractmethod
    def channel(self) -> str:
        """The channel (or video) being watched."""

    @abstractmethod
    def _session(self, ctx: SessionContext) -> None:
        """Connect once and read until the connection drops (raise), the broadcast ends
        (raise :class:`SourceEnded` or return) or ``ctx.stop`` is set (return)."""

    def _broadcast_hint(self) -> str | None:
        """The broadcast id when known (reported with states)."""
        return None

    def run(self, sink: SourceSink, stop: threading.Event) -> None:
        """Watch until ``stop`` is set or the broadcast ends; never raises for network,
        platform or parse trouble (those become states)."""
        streak = 0  # failed attempts since the last healthy session
        since = _now()

        def report(kind: StateKind, attempt: int = 0, error: str | None = None) -> None:
            sink.state(SourceState(kind, since, attempt, error, self._broadcast_hint()))

        report("connecting")
        while not stop.is_set():
            live_at: list[float] = []

            def on_live(live_at: list[float] = live_at) -> None:
                nonlocal since
                live_at.append(time.monotonic())
                since = _now()
                report("live")

            ctx = SessionContext(sink, stop, self.platform, on_live)
            try:
                self._session(ctx)
            except SourceEnded as e:
                since = _now()
                report("ended", error=str(e) or None)
                return
            except Exception as e:
                if stop.is_set():
                    break
                error = _describe(e)
                if live_at and (
                    isinstance(e, ReconnectNow)
                    or time.monotonic() - live_at[0] >= self.healthy_after
                ):
                    streak = 0
                if streak == 0:
                    since = _now()
                streak += 1
                if isinstance(e, PermanentError) or not self.reconnect.should_retry(e, streak):
                    _log.warning("%s %s: giving up: %s", self.platform, self.channel, error)
                    since = _now()
                    report("failing", streak, error)
                    return
                _log.info(
                    "%s %s: attempt %d failed: %s", self.platform, self.channel, streak, error
                )
                report("reconnecting", streak, error)
                if isinstance(e, ReconnectNow) and streak == 1:
                    continue  # the platform asked: reconnect at once
                if stop.wait(self.reconnect.delay(streak)):
                    break
            else:
                if stop.is_set():
                    break
                since = _now()
                report("ended")
                return
        since = _now()
        report("ended", error="stopped")


def _now() -> datetime:
    return datetime.now(UTC)


def _describe(error: BaseException) -> str:
    if isinstance(error, (ReconnectNow, NunchiError, ParseError)) and str(error):
        return str(error)
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
