"""ChatService: what the chat app's API, pages and commands do with watches, broadcasts and
messages. It owns its transactions; routes hold no queries."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from nunchi.apps.chat.models import (
    ChatAuthor,
    ChatBroadcast,
    ChatKeyword,
    ChatLabel,
    ChatMessageRow,
    ChatMinute,
    ChatWatch,
    messages_table,
)
from nunchi.apps.chat.schemas import (
    BroadcastOut,
    MessageOut,
    MessagePage,
    MinuteOut,
    OffenderOut,
    WatchOut,
)
from nunchi.apps.chat.sources.resolve import resolve_source
from nunchi.errors import Conflict, InvalidInput, NotFound
from nunchi.store.ids import new_id
from nunchi.store.types import utcnow
from nunchi.urls import split_url

__all__ = ["MAX_PAGE", "ChatService", "MessageFilter"]

MAX_PAGE = 500
WEB_PLATFORMS = ("twitch", "youtube", "chzzk", "soop", "shoppinglive")
"""Platforms resolved from the URL itself (a watch's stored platform is only a label)."""
_PLATFORMS = (*WEB_PLATFORMS, "replay")
SOURCE_OPTIONS = frozenset({"speed", "url", "base_url", "api_base", "game_base", "chat_scheme"})
"""Watch options passed to a source's constructor as they are stored (endpoints: tests and
relays point them elsewhere; the outbound guard still decides what may be reached)."""
_WATCH_OPTIONS = SOURCE_OPTIONS | {"chat_url"}
"""Every watch option (``chat_url`` is resolved before it reaches the source)."""
"""What a watch may name; YouTube's Data API and Chzzk's Open API are chosen by the settings
(NUNCHI_CHAT_YOUTUBE_API_KEY, NUNCHI_CHAT_CHZZK_ACCESS_TOKEN), not per watch."""


class MessageFilter:
    """Which stored messages a search wants (every part optional)."""

    def __init__(
        self,
        *,
        author: str | None = None,
        text: str | None = None,
        profane: bool | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> None:
        if text is not None and len(text) > 200:
            raise InvalidInput("the text filter is longer than 200 characters")
        self.author, self.text, self.profane = author, text, profane
        self.since, self.until = since, until

    def apply(self, query: Any) -> Any:
        """``query`` narrowed to the filter."""
        m = ChatMessageRow
        if self.author:
            query = query.where((m.author_id == self.author) | (m.author_name == self.author))
        if self.text:
            pattern = "%" + self.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(m.text.like(pattern + "%", escape="\\"))
        if self.profane is not None:
            query = query.where(m.profane.is_(self.profane))
        if self.since is not None:
            query = query.where(m.sent_at >= self.since)
        if self.until is not None:
            query = query.where(m.sent_at < self.until)
        return query


class ChatService:
    """Watches, broadcasts, messages, aggregates, labels and exports."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    # -- watches ------------------------------------------------------------------------

    def start_watch(
        self,
        url: str,
        *,
        platform: str | None = None,
        title: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> WatchOut:
        """Ask for ``url``'s chat to be watched (a process with the chat watcher runs it).
        The URL is checked now: :class:`InvalidInput` names the supported shapes."""
        if platform is not None and platform not in _PLATFORMS:
            raise InvalidInput(f"unknown platform {platform!r}; use one of {', '.join(_PLATFORMS)}")
        opts = dict(options or {})
        source = resolve_source(url, platform, **_checked_options(opts))
        now = utcnow()
        watch = ChatWatch(
            id=new_id(),
            platform=platform or source.platform,
            url=url[:2048],
            title=(title or "")[:200] or None,
            options=opts,
            desired="running",
            state="idle",
            created_at=now,
            updated_at=now,
        )
        with self.sessions.begin() as s:
            s.add(watch)
        return WatchOut.of(watch)

    def stop_watch(self, watch_id: str) -> WatchOut:
        """Stop a watch (its process ends the source within a second or two)."""
        with self.sessions.begin() as s:
            watch = s.get(ChatWatch, watch_id)
            if watch is None:
                raise NotFound(f"no chat watch {watch_id!r}")
            if watch.desired == "stopped":
                raise Conflict(f"chat watch {watch_id} is already stopped")
            watch.desired, watch.state, watch.updated_at = "stopped", "stopped", utcnow()
            return WatchOut.of(watch)

    def watches(self, limit: int = 100) -> list[WatchOut]:
        """Watches, newest first."""
        with self.sessions() as s:
            rows = s.scalars(select(ChatWatch).order_by(ChatWatch.created_at.desc()).limit(limit))
            return [WatchOut.of(w) for w in rows]

    def live_watches(self) -> int:
        """Watches running now (the figure on the home card)."""
        with self.sessions() as s:
            return int(
                s.scalar(
                    select(func.count())
                    .select_from(ChatWatch)
                    .where(ChatWatch.desired == "running")
                )
                or 0
            )

    def watch(self, watch_id: str) -> WatchOut:
        """One watch; :class:`NotFound` if there is none."""
        with self.sessions() as s:
            watch = s.get(ChatWatch, watch_id)
            if watch is None:
                raise NotFound(f"no chat watch {watch_id!r}")
            return WatchOut.of(watch)

    # -- broadcasts ---------------------------------------------------------------------

    def broadcasts(self, limit: int = 100) -> list[BroadcastOut]:
        """Broadcasts, most recently active first, with the state of their watch."""
        with self.sessions() as s:
            rows = s.execute(
                select(ChatBroadcast, ChatWatch.state)
                .outerjoin(ChatWatch, ChatWatch.id == ChatBroadcast.watch_id)
                .order_by(ChatBroadcast.last_at.desc())
                .limit(limit)
            ).all()
            return [BroadcastOut.of(b, state) for b, state in rows]

    def broadcast(self, broadcast: str) -> BroadcastOut:
        """One broadcast; :class:`NotFound` if nothing of it is stored."""
        with self.sessions() as s:
            row = s.execute(
                select(ChatBroadcast, ChatWatch.state)
                .outerjoin(ChatWatch, ChatWatch.id == ChatBroadcast.watch_id)
                .where(ChatBroadcast.id == broadcast)
            ).first()
            if row is None:
                raise NotFound(f"no chat of broadcast {broadcast!r} is stored")
            return BroadcastOut.of(row[0], row[1])

    # -- messages -----------------------------------------------------------------------

    def messages(
        self,
        broadcast: str,
        where: MessageFilter | None = None,
        *,
        cursor: int | None = None,
        limit: int = 100,
    ) -> MessagePage:
        """Stored messages, newest first; ``next_cursor`` pages on."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}; got {limit}")
        query = select(ChatMessageRow).where(ChatMessageRow.broadcast == broadcast)
        query = (where or MessageFilter()).apply(query)
        if cursor is not None:
            query = query.where(ChatMessageRow.id < cursor)
        query = query.order_by(ChatMessageRow.id.desc()).limit(limit + 1)
        with self.sessions() as s:
            rows = list(s.scalars(query))
        items = [MessageOut.of(r) for r in rows[:limit]]
        return MessagePage(items=items, next_cursor=items[-1].id if len(rows) > limit else None)

    def messages_after(self, broadcast: str, after: int, limit: int = 300) -> list[MessageOut]:
        """Messages stored after row ``after``, oldest first (a live page's next batch)."""
        with self.sessions() as s:
            rows = s.scalars(
                select(ChatMessageRow)
                .where(ChatMessageRow.broadcast == broadcast, ChatMessageRow.id > after)
                .order_by(ChatMessageRow.id)
                .limit(limit)
            )
            return [MessageOut.of(r) for r in rows]

    def live_rows_after(self, broadcast: str, after: int, limit: int = 300) -> list[Any]:
        """What a live page draws of the messages stored after row ``after``, oldest first:
        plain rows of the columns it needs (no objects built: a busy chat sends a thousand a
        second)."""
        t = messages_table
        query = (
            select(
                t.c.id, t.c.author_name, t.c.author_id, t.c.text, t.c.masked, t.c.spans,
                t.c.profane, t.c.polarity, t.c.polarity_score, t.c.kind, t.c.amount,
                t.c.currency, t.c.sent_at, t.c.deleted, t.c.received_at,
            )
            .where(t.c.broadcast == broadcast, t.c.id > after)
            .order_by(t.c.id)
            .limit(limit)
        )  # fmt: skip
        with self.sessions() as s:
            return list(s.execute(query).all())

    def backlog_start(self, broadcast: str, count: int) -> int:
        """The row after which the broadcast's ``count`` newest messages come (0 when it has
        no more than ``count``). Row ids are shared by every broadcast, so this counts the
        broadcast's own rows, not ids."""
        with self.sessions() as s:
            found = s.scalar(
                select(ChatMessageRow.id)
                .where(ChatMessageRow.broadcast == broadcast)
                .order_by(ChatMessageRow.id.desc())
                .offset(count)
                .limit(1)
            )
            return int(found or 0)

    # -- aggregates ---------------------------------------------------------------------

    def minutes(self, broadcast: str, last: int = 60) -> list[MinuteOut]:
        """The last ``last`` minutes that had chat, oldest first."""
        with self.sessions() as s:
            rows = list(
                s.scalars(
                    select(ChatMinute)
                    .where(ChatMinute.broadcast == broadcast)
                    .order_by(ChatMinute.minute.desc())
                    .limit(last)
                )
            )
        return [MinuteOut.of(r) for r in reversed(rows)]

    def keywords(self, broadcast: str, minutes: int = 5, top: int = 100) -> list[tuple[str, int]]:
        """The ``top`` words of the broadcast's last ``minutes`` minutes with chat."""
        with self.sessions() as s:
            latest = s.scalar(
                select(func.max(ChatKeyword.minute)).where(ChatKeyword.broadcast == broadcast)
            )
            if latest is None:
                return []
            since = latest - timedelta(minutes=minutes - 1)
            total = func.sum(ChatKeyword.count).label("n")
            rows = s.execute(
                select(ChatKeyword.word, total)
                .where(ChatKeyword.broadcast == broadcast, ChatKeyword.minute >= since)
                .group_by(ChatKeyword.word)
                .order_by(total.desc(), ChatKeyword.word)
                .limit(top)
            ).all()
        return [(str(w), int(n)) for w, n in rows]

    def offenders(self, broadcast: str, min_profane: int = 3, limit: int = 20) -> list[OffenderOut]:
        """Authors with at least ``min_profane`` profane messages, most first."""
        if min_profane < 1:
            raise InvalidInput("min_profane must be at least 1")
        with self.sessions() as s:
            rows = s.scalars(
                select(ChatAuthor)
                .where(ChatAuthor.broadcast == broadcast, ChatAuthor.profane >= min_profane)
                .order_by(ChatAuthor.profane.desc(), ChatAuthor.author_id)
                .limit(limit)
            )
            return [OffenderOut.of(a) for a in rows]

    # -- moderators ---------------------------------------------------------------------

    def label(self, row: int, label: str, actor: str) -> None:
        """A moderator's verdict on stored message ``row``: ``profane`` or ``clean``."""
        if label not in ("profane", "clean"):
            raise InvalidInput("label must be 'profane' or 'clean'")
        with self.sessions.begin() as s:
            message = s.get(ChatMessageRow, row)
            if message is None:
                raise NotFound(f"no stored chat message {row}")
            s.add(
                ChatLabel(
                    message_row=row,
                    broadcast=message.broadcast,
                    text=message.text,
                    label=label,
                    actor=actor[:200],
                    at=utcnow(),
                )
            )

    def labels_export(self) -> Iterator[str]:
        """Every labelled message once (its latest verdict) as ``text|label`` lines (1 =
        profane, 0 = clean): the curse-data format ``nunchi models train-profanity --extra``
        reads."""
        latest = (
            select(ChatLabel.message_row, func.max(ChatLabel.id).label("last"))
            .group_by(ChatLabel.message_row)
            .subquery()
        )
        with self.sessions() as s:
            rows = s.execute(
                select(ChatLabel.text, ChatLabel.label)
                .join(latest, ChatLabel.id == latest.c.last)
                .order_by(ChatLabel.id)
            ).all()
        for text, label in rows:
            clean = " ".join(str(text).split())  # one line: the format is line-based
            yield f"{clean}|{1 if label == 'profane' else 0}\n"

    def export_csv(self, broadcast: str) -> Iterator[str]:
        """The broadcast's stored chat as CSV (UTF-8 with BOM), oldest first, in chunks."""
        self.broadcast(broadcast)
        header = [
            "sent_at",
            "author_id",
            "author_name",
            "kind",
            "amount",
            "text",
            "profane",
            "polarity",
            "deleted",
        ]
        yield "\ufeff" + _csv_line(header)
        after = 0
        while True:
            batch = self.messages_after(broadcast, after, limit=2000)
            if not batch:
                return
            for m in batch:
                amount = "" if m.amount is None else str(m.amount)
                cells = [
                    m.sent_at.isoformat(),
                    m.author_id,
                    m.author_name,
                    m.kind,
                    amount,
                    m.text,
                    str(m.profane).lower(),
                    m.polarity,
                    str(m.deleted).lower(),
                ]
                yield _csv_line(cells)
            after = batch[-1].id


def _csv_line(cells: Sequence[str]) -> str:
    out = io.StringIO()
    safe = [("'" + c) if c[:1] in ("=", "+", "-", "@", "\t", "\r") else c for c in cells]
    csv.writer(out, lineterminator="\r\n").writerow(safe)
    return out.getvalue()


_URL_OPTIONS = frozenset({"url", "base_url", "api_base", "game_base", "chat_url"})
"""The watch options that are URLs."""
_URL_SCHEMES = frozenset({"http", "https", "ws", "wss"})


def _checked_options(options: dict[str, Any]) -> dict[str, Any]:
    """The watch options a source constructor takes (replay ``speed``, a platform's endpoint
    URLs, which the outbound guard still checks); others refused."""
    unknown = sorted(set(options) - _WATCH_OPTIONS)
    if unknown:
        raise InvalidInput(f"unknown watch options {unknown}; only {sorted(_WATCH_OPTIONS)}")
    speed = options.get("speed")
    if speed is not None and (isinstance(speed, bool) or not isinstance(speed, int | float)):
        raise InvalidInput("speed must be a number")
    for key, value in options.items():
        if key != "speed" and not isinstance(value, str):
            raise InvalidInput(f"watch option {key!r} must be a URL text")
        if key in _URL_OPTIONS:
            parts = split_url(value)
            if parts is None or parts.scheme not in _URL_SCHEMES or not parts.hostname:
                raise InvalidInput(
                    f"watch option {key!r} must be an absolute http(s) or ws(s) URL, "
                    f"e.g. wss://irc-ws.chat.twitch.tv:443"
                )
    return {k: v for k, v in options.items() if k in SOURCE_OPTIONS}
