"""The shapes the chat app's API answers with (and takes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, StrictStr

from nunchi.apps.chat.models import (
    ChatAuthor,
    ChatBroadcast,
    ChatMessageRow,
    ChatMinute,
    ChatWatch,
)

__all__ = [
    "AlertOut",
    "AlertRuleIn",
    "AlertRuleOut",
    "BroadcastOut",
    "IngestBatch",
    "IngestMessage",
    "MessageOut",
    "MessagePage",
    "MinuteOut",
    "OffenderOut",
    "UnsentNotice",
    "WatchIn",
    "WatchOut",
]


class WatchIn(BaseModel):
    """Body of ``POST /api/v1/chat/watches``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    url: str = Field(
        max_length=2048,
        description="The broadcast's URL; with platform `replay`, a stored recording's name "
        "(GET /api/v1/chat/recordings).",
    )
    platform: str | None = Field(default=None, description="Force a platform (see the docs).")
    title: str | None = Field(default=None, max_length=200)
    speed: float | None = Field(default=None, ge=0, le=1000, description="Replay speed.")


class WatchOut(BaseModel):
    """A watch and how it goes."""

    id: str
    platform: str
    url: str
    title: str | None
    desired: str
    state: str = Field(description="idle, connecting, live, reconnecting, ended, failing, stopped")
    error: str | None
    broadcast: str | None
    messages: int
    parse_failures: int
    reconnects: int
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None

    @classmethod
    def of(cls, w: ChatWatch) -> WatchOut:
        """From a row."""
        return cls(
            id=w.id,
            platform=w.platform,
            url=w.url,
            title=w.title,
            desired=w.desired,
            state=w.state,
            error=w.error,
            broadcast=w.broadcast,
            messages=w.messages or 0,
            parse_failures=w.parse_failures or 0,
            reconnects=w.reconnects or 0,
            created_at=w.created_at,
            updated_at=w.updated_at,
            ended_at=w.ended_at,
        )


class BroadcastOut(BaseModel):
    """A broadcast's chat in figures."""

    id: str
    platform: str
    channel: str
    watch_id: str | None
    state: str | None = Field(description="Its watch's state (None without a watch).")
    first_at: datetime
    last_at: datetime
    messages: int
    profane: int
    positive: int
    neutral: int
    negative: int

    @classmethod
    def of(cls, b: ChatBroadcast, state: str | None) -> BroadcastOut:
        """From a row and its watch's state."""
        return cls(
            id=b.id,
            platform=b.platform,
            channel=b.channel,
            watch_id=b.watch_id,
            state=state,
            first_at=b.first_at,
            last_at=b.last_at,
            messages=b.messages,
            profane=b.profane,
            positive=b.positive,
            neutral=b.neutral,
            negative=b.negative,
        )


class MessageOut(BaseModel):
    """One stored message with its scores; ``spans`` index ``text``, ``masked`` hides them."""

    model_config = ConfigDict(from_attributes=True)

    id: int = Field(description="The stored row (a cursor for pages and live updates).")
    broadcast: str
    message_id: str
    platform: str
    author_id: str
    author_name: str
    text: str
    kind: str
    amount: int | None
    currency: str | None
    badges: list[str]
    sent_at: datetime
    received_at: datetime
    profane: bool
    profanity: float
    spans: list[tuple[int, int]]
    masked: str
    polarity: Literal["positive", "neutral", "negative"] | str
    polarity_score: float
    keywords: list[str]
    deleted: bool

    @classmethod
    def of(cls, row: ChatMessageRow) -> MessageOut:
        """From a row."""
        return cls.model_validate(row)


class MessagePage(BaseModel):
    """Messages newest first; ``next_cursor`` (a row id) pages on."""

    items: list[MessageOut]
    next_cursor: int | None = None


class MinuteOut(BaseModel):
    """One minute of a broadcast's chat, counted."""

    model_config = ConfigDict(from_attributes=True)

    minute: datetime
    messages: int
    profane: int
    positive: int
    neutral: int
    negative: int

    @classmethod
    def of(cls, row: ChatMinute) -> MinuteOut:
        """From a row."""
        return cls.model_validate(row)


class OffenderOut(BaseModel):
    """An author over the profane-message threshold."""

    model_config = ConfigDict(from_attributes=True)

    author_id: str
    author_name: str
    messages: int
    profane: int
    last_at: datetime

    @classmethod
    def of(cls, row: ChatAuthor) -> OffenderOut:
        """From a row."""
        return cls.model_validate(row)


class IngestMessage(BaseModel):
    """One message sent to ``POST /api/v1/chat/{broadcast}/messages`` (or its WebSocket).
    Strict: ``"5"`` is not a number, ``5`` is not a text; ``sent_at`` is ISO 8601."""

    model_config = ConfigDict(extra="forbid")

    message_id: StrictStr = Field(min_length=1, max_length=200, description="Unique per broadcast.")
    author_id: StrictStr = Field(min_length=1, max_length=200)
    author_name: StrictStr = Field(default="", max_length=200)
    text: StrictStr = Field(max_length=20_000)
    sent_at: AwareDatetime | None = Field(default=None, description="Default: when received.")
    kind: Literal["chat", "donation", "subscription", "system"] = "chat"
    amount: StrictInt | None = None
    currency: StrictStr | None = Field(default=None, max_length=16)
    badges: list[StrictStr] = Field(default_factory=list, max_length=20)


class IngestBatch(BaseModel):
    """Body of ``POST /api/v1/chat/{broadcast}/messages``."""

    model_config = ConfigDict(extra="forbid")

    platform: StrictStr = Field(default="http", max_length=32, pattern=r"^[a-z][a-z0-9_-]*$")
    channel: StrictStr = Field(default="", max_length=200)
    messages: list[IngestMessage]


class AlertRuleIn(BaseModel):
    """Body of ``POST /api/v1/chat/alerts/rules``: when to alert and where."""

    model_config = ConfigDict(extra="forbid", strict=True)

    kind: Literal["negative_spike", "profane_rate", "silence", "source_failing"]
    broadcast: str | None = Field(
        default=None, max_length=200, description="One broadcast; left out: every broadcast."
    )
    params: dict[str, float] = Field(
        default_factory=dict,
        description="negative_spike: factor, min_volume, baseline_minutes; profane_rate: "
        "per_minute; silence / source_failing: minutes.",
    )
    slack: str | None = Field(default=None, max_length=2048, description="Incoming webhook.")
    email: list[str] = Field(default_factory=list, max_length=20)
    webhook: str | None = Field(default=None, max_length=2048, description="Signed webhook.")
    cooldown_s: StrictInt = Field(default=600, ge=0, le=604800)


class AlertRuleOut(BaseModel):
    """A saved rule (channel URLs by host only: a Slack webhook's path is its secret)."""

    id: str
    kind: str
    broadcast: str | None
    params: dict[str, float]
    channels: dict[str, str | list[str]]
    cooldown_s: int
    enabled: bool
    created_at: datetime


class UnsentNotice(BaseModel):
    """A notice of an alert that has not gone out (yet), with its ``chat.notify`` job."""

    notice: str = Field(description="event.channel, e.g. opened.slack.")
    job_id: str
    status: str = Field(
        description="The job's status (queued, running, failed), or gone when "
        "the job was pruned without sending."
    )
    error: str | None = Field(default=None, description="The job's last error, if any.")


class AlertOut(BaseModel):
    """One incident: opened once, resolved once, the notices sent."""

    id: str
    rule_id: str
    kind: str
    broadcast: str
    state: Literal["firing", "resolved"]
    opened_at: datetime
    resolved_at: datetime | None
    detail: dict[str, Any]
    notices: list[str] = Field(description="event.channel of every notice sent.")
    unsent: list[UnsentNotice] = Field(
        default_factory=list,
        description="Notices queued and not sent yet: still trying, or failed for good.",
    )
