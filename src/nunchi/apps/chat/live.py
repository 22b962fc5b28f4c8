"""A broadcast's live view: what its page's event stream sends. Messages as they are stored
(from the browser's last one on, so a reconnect resumes without gaps or repeats), and about once
a second the figures: minute chart, word cloud, mood, offenders, the watch's state."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nunchi.apps.chat import metrics
from nunchi.apps.chat.schemas import BroadcastOut, MessageOut, MinuteOut, OffenderOut
from nunchi.apps.chat.service import ChatService
from nunchi.errors import NotFound
from nunchi.web.sse import ServerEvent

__all__ = ["BACKLOG", "LiveView", "Mood", "message_event", "mood"]

BACKLOG = 200
"""Messages a page gets when it first connects (the most recent ones)."""
STATS_SECONDS = 1.0
_BATCH = 500


@dataclass(frozen=True)
class Mood:
    """Where the chat's polarity is heading: the share of positive minus negative messages
    in the last two minutes, and its change against the five minutes before."""

    share: float
    change: float
    direction: str
    """``up``, ``down`` or ``flat`` (a change under 5 points is flat)."""
    messages: int


def mood(minutes: Sequence[MinuteOut]) -> Mood:
    """The mood of a minute series (oldest first)."""
    recent, before = minutes[-2:], minutes[-7:-2]

    def share(rows: Sequence[MinuteOut]) -> tuple[float, int]:
        total = sum(r.messages for r in rows)
        if not total:
            return 0.0, 0
        return (sum(r.positive for r in rows) - sum(r.negative for r in rows)) / total, total

    now, n = share(recent)
    then, m = share(before)
    change = now - then if m else 0.0
    direction = "flat" if abs(change) < 0.05 else ("up" if change > 0 else "down")
    return Mood(round(now, 3), round(change, 3), direction, n)


def message_event(m: MessageOut | Any) -> dict[str, Any]:
    """A message as the page's script draws it (text only: the script never parses HTML):
    a :class:`MessageOut`, or a row of :meth:`ChatService.live_rows_after` (same names)."""
    return {
        "id": m.id,
        "a": m.author_name,
        "aid": m.author_id,
        "t": m.text,
        "mk": m.masked,
        "sp": m.spans,
        "p": m.profane,
        "pol": m.polarity,
        "ps": m.polarity_score,
        "k": m.kind,
        "am": m.amount,
        "cur": m.currency,
        "at": m.sent_at.isoformat(),
        "d": m.deleted,
        "r": m.received_at.timestamp(),
    }


def minute_chart(minutes: Sequence[MinuteOut], names: dict[str, str]) -> dict[str, Any]:
    """The minute chart's data (the chart macro's line shape)."""
    keys = ("messages", "profane", "positive", "neutral", "negative")
    colors = {
        "messages": "#5b6470",
        "profane": "#b3261e",
        "positive": "#1e7b45",
        "neutral": "#a0a7b1",
        "negative": "#c2661c",
    }
    return {
        "x": [m.minute.isoformat() for m in minutes],
        "x_type": "time",
        "series": [
            {"name": names[k], "values": [getattr(m, k) for m in minutes], "color": colors[k]}
            for k in keys
        ],
    }


def word_cloud(words: Sequence[tuple[str, int]]) -> dict[str, Any]:
    """The word cloud's data."""
    return {"words": [{"word": w, "weight": n} for w, n in words]}


Render = Callable[[str, dict[str, Any]], str]


class LiveView:
    """The ``fetch`` of one connection's event stream (:func:`nunchi.web.sse.event_stream`)."""

    def __init__(
        self,
        chat: ChatService,
        broadcast: str,
        render: Render,
        names: dict[str, str],
        *,
        min_profane: int = 3,
    ) -> None:
        self.chat = chat
        self.broadcast = broadcast
        self.render = render
        self.names = names
        self.min_profane = min_profane
        self._stats_at = 0.0
        self._stats_key = ""

    def __call__(self, cursor: str | None) -> tuple[list[ServerEvent], str | None]:
        """Messages after ``cursor`` (a stored row) and, when due, the figures."""
        after = _row(cursor)
        if after is None:  # first connection: the recent backlog
            after = self.chat.backlog_start(self.broadcast, BACKLOG)
        events: list[ServerEvent] = []
        batch = self.chat.live_rows_after(self.broadcast, after, limit=_BATCH)
        if batch:
            now = time.time()
            messages = [message_event(r) for r in batch]
            for m in messages:
                metrics.LATENCY.observe(max(0.0, now - m["r"]))
            after = batch[-1].id
            data = {"messages": messages}
            events.append(ServerEvent(data, "chat", str(after)))
        events.extend(self._stats(str(after)))
        return events, str(after)

    def _stats(self, cursor: str) -> list[ServerEvent]:
        if time.monotonic() - self._stats_at < STATS_SECONDS:
            return []
        self._stats_at = time.monotonic()
        minutes = self.chat.minutes(self.broadcast, last=60)
        words = self.chat.keywords(self.broadcast)
        offenders = self.chat.offenders(self.broadcast, self.min_profane)
        try:
            broadcast: BroadcastOut | None = self.chat.broadcast(self.broadcast)
        except NotFound:
            broadcast = None
        figures = {**self._figures(broadcast, minutes, offenders), "broadcast_id": self.broadcast}
        key = hashlib.sha256(
            json.dumps([figures, words], default=str, sort_keys=True).encode()
        ).hexdigest()
        if key == self._stats_key:
            return []
        self._stats_key = key
        return [
            ServerEvent(
                {"id": "chat-minutes", "data": minute_chart(minutes, self.names)}, "chart", cursor
            ),
            ServerEvent({"id": "chat-words", "data": word_cloud(words)}, "chart", cursor),
            ServerEvent(
                {"html": self.render("chat/_figures.html", figures), "target": "chat-figures"},
                "html",
                cursor,
            ),
        ]

    @staticmethod
    def _figures(
        broadcast: BroadcastOut | None, minutes: Sequence[MinuteOut], offenders: list[OffenderOut]
    ) -> dict[str, Any]:
        return {"broadcast": broadcast, "mood": mood(minutes), "offenders": offenders}


def _row(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        return max(0, int(cursor))
    except ValueError:
        return None
