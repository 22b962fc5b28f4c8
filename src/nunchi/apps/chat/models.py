"""Tables of the chat app: watches, broadcasts, every message with its scores, the per-minute
and per-author aggregates, keyword counts, moderator labels, alert rules and alerts.

Messages are unique on ``(broadcast, message_id)``: a redelivered or replayed message is stored
once, and the aggregates count only the rows a transaction really inserted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from nunchi.store.base import Base
from nunchi.store.types import BigSerial, JSONDocument, UTCDateTime, utcnow

__all__ = [
    "POLARITIES",
    "WATCH_STATES",
    "AlertRule",
    "ChatAlert",
    "ChatAlertNotice",
    "ChatAuthor",
    "ChatBroadcast",
    "ChatKeyword",
    "ChatLabel",
    "ChatMessageRow",
    "ChatMinute",
    "ChatWatch",
    "authors_table",
    "broadcasts_table",
    "keywords_table",
    "messages_table",
    "minutes_table",
    "notices_table",
]

POLARITIES = ("positive", "neutral", "negative")
WATCH_STATES = ("idle", "connecting", "live", "reconnecting", "ended", "failing", "stopped")


class ChatWatch(Base):
    """A broadcast's chat being watched (or once watched): what to watch and how it goes."""

    __tablename__ = "chat_watches"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(String(2048))
    title: Mapped[str | None] = mapped_column(String(200))
    options: Mapped[Any] = mapped_column(JSONDocument, default=dict)
    """Source options (replay speed and file). Secrets never: API keys come from settings."""
    desired: Mapped[str] = mapped_column(String(16), default="running")
    """``running`` or ``stopped``: what the operator asked for."""
    state: Mapped[str] = mapped_column(String(16), default="idle")
    error: Mapped[str | None] = mapped_column(Text)
    broadcast: Mapped[str | None] = mapped_column(String(200))
    owner: Mapped[str | None] = mapped_column(String(100))
    """The process running it (one at a time: a lease that ``lease_until`` ends)."""
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    messages: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    parse_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reconnects: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_chat_watches_desired_lease", "desired", "lease_until"),)


class ChatBroadcast(Base):
    """One broadcast's chat: where it comes from and its totals."""

    __tablename__ = "chat_broadcasts"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(200))
    watch_id: Mapped[str | None] = mapped_column(String(32))
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)
    messages: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    profane: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    positive: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    neutral: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    negative: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")

    __table_args__ = (Index("ix_chat_broadcasts_last_at", "last_at"),)


class ChatMessageRow(Base):
    """One stored message with its scores."""

    __tablename__ = "chat_messages"

    id: Mapped[int] = mapped_column(BigSerial, primary_key=True, autoincrement=True)
    broadcast: Mapped[str] = mapped_column(String(200))
    message_id: Mapped[str] = mapped_column(String(200))
    platform: Mapped[str] = mapped_column(String(32))
    author_id: Mapped[str] = mapped_column(String(200))
    author_name: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), default="chat")
    amount: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(16))
    badges: Mapped[Any] = mapped_column(JSONDocument, default=list)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    """When nunchi got it (the start of the ingest-to-screen latency)."""
    profane: Mapped[bool] = mapped_column(Boolean, default=False)
    profanity: Mapped[float] = mapped_column(Float, default=0.0)
    spans: Mapped[Any] = mapped_column(JSONDocument, default=list)
    masked: Mapped[str] = mapped_column(Text)
    polarity: Mapped[str] = mapped_column(String(8))
    polarity_score: Mapped[float] = mapped_column(Float)
    keywords: Mapped[Any] = mapped_column(JSONDocument, default=list)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """The platform removed it (Twitch CLEARMSG, YouTube deletion, Chzzk blind)."""

    __table_args__ = (
        UniqueConstraint("broadcast", "message_id", name="broadcast_message"),
        Index("ix_chat_messages_broadcast_id", "broadcast", "id"),
        Index("ix_chat_messages_broadcast_author_id", "broadcast", "author_id", "id"),
        Index("ix_chat_messages_broadcast_sent_at", "broadcast", "sent_at"),
    )


class ChatMinute(Base):
    """One broadcast's chat in one minute, counted."""

    __tablename__ = "chat_minutes"

    broadcast: Mapped[str] = mapped_column(String(200), primary_key=True)
    minute: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    messages: Mapped[int] = mapped_column(Integer, default=0)
    profane: Mapped[int] = mapped_column(Integer, default=0)
    positive: Mapped[int] = mapped_column(Integer, default=0)
    neutral: Mapped[int] = mapped_column(Integer, default=0)
    negative: Mapped[int] = mapped_column(Integer, default=0)


class ChatAuthor(Base):
    """One author in one broadcast: how much they wrote and how much of it was profane."""

    __tablename__ = "chat_authors"

    broadcast: Mapped[str] = mapped_column(String(200), primary_key=True)
    author_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    author_name: Mapped[str] = mapped_column(String(200))
    messages: Mapped[int] = mapped_column(Integer, default=0)
    profane: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_chat_authors_broadcast_profane", "broadcast", "profane"),)


class ChatKeyword(Base):
    """How often a word was said in one minute of a broadcast (the word cloud)."""

    __tablename__ = "chat_keywords"

    broadcast: Mapped[str] = mapped_column(String(200), primary_key=True)
    minute: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    word: Mapped[str] = mapped_column(String(100), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class ChatLabel(Base):
    """A moderator's verdict on a message: ``profane`` or ``clean`` (training data)."""

    __tablename__ = "chat_labels"

    id: Mapped[int] = mapped_column(BigSerial, primary_key=True, autoincrement=True)
    message_row: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("chat_messages.id", ondelete="CASCADE")
    )
    broadcast: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(String(8))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_chat_labels_message_row", "message_row"),)


class AlertRule(Base):
    """When to alert about a broadcast (or every broadcast, ``broadcast`` empty) and where."""

    __tablename__ = "chat_alert_rules"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    broadcast: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    """``negative_spike``, ``profane_rate``, ``silence`` or ``source_failing``."""
    params: Mapped[Any] = mapped_column(JSONDocument, default=dict)
    channels: Mapped[Any] = mapped_column(JSONDocument, default=dict)
    """``{"slack": url?, "email": [addresses]?, "webhook": url?}`` (URLs checked at save)."""
    cooldown_s: Mapped[int] = mapped_column(Integer, default=600)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChatAlert(Base):
    """One incident of a rule on a broadcast: opened once, resolved once."""

    __tablename__ = "chat_alerts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    rule_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("chat_alert_rules.id", ondelete="CASCADE")
    )
    broadcast: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default="firing")
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    detail: Mapped[Any] = mapped_column(JSONDocument, default=dict)
    deliveries: Mapped[Any] = mapped_column(JSONDocument, default=dict)
    """The ``chat.notify`` job of each channel, for the opening and the resolving notice
    (what was sent is in ``chat_alert_notices``)."""
    open_key: Mapped[str | None] = mapped_column(String(240), unique=True)
    """``rule:broadcast`` while firing, NULL once resolved: one open incident per rule and
    broadcast, however many processes evaluate."""

    __table_args__ = (
        Index("ix_chat_alerts_rule_broadcast_state", "rule_id", "broadcast", "state"),
    )


class ChatAlertNotice(Base):
    """One notice sent: an alert's opening or resolving, on one channel (written once by the
    ``chat.notify`` job that sent it, so a retried job does not send it again)."""

    __tablename__ = "chat_alert_notices"

    alert_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("chat_alerts.id", ondelete="CASCADE"), primary_key=True
    )
    event: Mapped[str] = mapped_column(String(16), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[Any] = mapped_column(JSONDocument, default=dict)


messages_table = cast(Table, ChatMessageRow.__table__)
notices_table = cast(Table, ChatAlertNotice.__table__)
broadcasts_table = cast(Table, ChatBroadcast.__table__)
minutes_table = cast(Table, ChatMinute.__table__)
authors_table = cast(Table, ChatAuthor.__table__)
keywords_table = cast(Table, ChatKeyword.__table__)
