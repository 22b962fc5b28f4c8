"""Naver Shopping Live (네이버 쇼핑라이브) comments: a live broadcast's feed, or a replay's.

Undocumented JSON endpoints of the viewer web app (``apis.naver.com/live_commerce_web/
viewer_api_web``), as called by small public collectors (a replay-comment crawler's
``stage3_comments.py`` and a live "cue" watcher polling ``recent-comments``, both on GitHub);
they are the least certain of all the adapters here, so every path is a parameter:

* ``GET /v1/broadcast/<id>`` -> ``status`` (ended: END, REPLAY, BLOCK, FINISHED, CLOSE, STOP),
  ``startDate``, ``endDate``, ``nickname``.
* live: ``GET /v1/broadcast/<id>/recent-comments?next=<cursor>&size=30`` ->
  ``{"list": [{commentNo, commentType, message, nickname, commentCreatedAt, ...}],
  "next": cursor}``; polled every ``poll_interval`` s, the status re-checked every
  ``status_every`` polls (an ended broadcast ends the watch).
* replay: ``GET /v1/broadcast/<id>/replays/comments?size=100&lastCommentNo=<cursor>`` ->
  ``{"comments": [{commentNo, idNo, nickname, message, commentType, createdAt,
  createdAtMilli}], "hasNext", "lastCommentNo"}``; paged through as fast as allowed, then
  the watch ends.

Both send ``x-external-service-id: shoppinglive``. Comments are deduplicated on
``commentNo``. ``createdAt`` / ``commentCreatedAt`` (ISO-8601) give ``sent_at``; an epoch-ms
``createdAtMilli`` is used otherwise, then the receive time. The broadcast id is
``shoppinglive:<id>``.
"""

from __future__ import annotations

import hashlib
import urllib.parse
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from nunchi.apps.chat.sources._dedupe import RecentKeys
from nunchi.apps.chat.sources._net import HttpStatusError, Net
from nunchi.apps.chat.sources.base import (
    ChatMessage,
    ChatSource,
    ParseError,
    SessionContext,
    SourceEnded,
    SourceGone,
)
from nunchi.errors import InvalidInput

__all__ = [
    "ENDED_STATUSES",
    "SHOPPINGLIVE_API",
    "ShoppingLiveSource",
    "parse_comment",
    "parse_live_comments",
    "parse_replay_comments",
]

SHOPPINGLIVE_API = "https://apis.naver.com/live_commerce_web/viewer_api_web"
ENDED_STATUSES = frozenset({"END", "REPLAY", "BLOCK", "FINISHED", "CLOSE", "STOP"})
_HEADERS = {"x-external-service-id": "shoppinglive", "accept": "application/json"}


def _when(comment: Mapping[str, Any]) -> datetime:
    for key in ("createdAt", "commentCreatedAt"):
        value = comment.get(key)
        if isinstance(value, str) and value:
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError as e:
                raise ParseError(f"{key} {value!r} is not ISO-8601") from e
            return (
                parsed.astimezone(UTC)
                if parsed.tzinfo
                else parsed.replace(tzinfo=UTC).astimezone(UTC)
            )
    milli = comment.get("createdAtMilli")
    if isinstance(milli, int) and milli > 10**11:
        return datetime.fromtimestamp(milli / 1000, UTC)
    return datetime.now(UTC)


def parse_comment(comment: Any, *, channel: str, broadcast: str) -> ChatMessage:
    """One comment object (live or replay) as a message; ``commentNo`` is its id."""
    if not isinstance(comment, Mapping):
        raise ParseError("comment is not an object")
    number = comment.get("commentNo")
    if not isinstance(number, (int, str)) or isinstance(number, bool) or number == "":
        raise ParseError("comment without commentNo")
    name = str(comment.get("nickname") or "")
    author = comment.get("idNo") or comment.get("userId") or comment.get("profileId")
    if not author:  # no stable user id: hash the nickname so one viewer stays one author
        author = "nick:" + hashlib.sha256(name.encode()).hexdigest()[:16]
    kind = str(comment.get("commentType") or "CHATTING")
    badges = () if kind in ("CHATTING", "COMMENT") else (f"type/{kind}",)
    return ChatMessage(
        "shoppinglive",
        channel,
        broadcast,
        str(number),
        str(author),
        name,
        str(comment.get("message") or ""),
        _when(comment),
        kind="chat" if not badges else "system",
        badges=badges,
    )


def parse_live_comments(
    data: Any, *, channel: str, broadcast: str
) -> tuple[list[ChatMessage], Any, list[tuple[str, str]]]:
    """``recent-comments``: (messages, next cursor, failures)."""
    if not isinstance(data, Mapping) or not isinstance(data.get("list", []), list):
        raise ParseError("recent-comments answer is not an object with a list")
    messages, failures = _comments(data.get("list") or [], channel, broadcast)
    return messages, data.get("next"), failures


def _comments(
    items: list[Any], channel: str, broadcast: str
) -> tuple[list[ChatMessage], list[tuple[str, str]]]:
    messages: list[ChatMessage] = []
    failures: list[tuple[str, str]] = []
    for item in items:
        try:
            messages.append(parse_comment(item, channel=channel, broadcast=broadcast))
        except ParseError as e:
            failures.append((repr(item)[:400], str(e)))
    return messages, failures


def parse_replay_comments(
    data: Any, *, channel: str, broadcast: str
) -> tuple[list[ChatMessage], bool, Any, list[tuple[str, str]]]:
    """``replays/comments``: (messages, has next, last comment no, failures)."""
    if not isinstance(data, Mapping) or not isinstance(data.get("comments", []), list):
        raise ParseError("replays/comments answer is not an object with comments")
    messages, failures = _comments(data.get("comments") or [], channel, broadcast)
    return messages, bool(data.get("hasNext")), data.get("lastCommentNo"), failures


class ShoppingLiveSource(ChatSource):
    """A Shopping Live broadcast's comments (``mode`` "live" polls, "replay" pages through)."""

    platform = "shoppinglive"

    def __init__(
        self,
        broadcast_id: str,
        *,
        mode: Literal["live", "replay"] = "live",
        api_base: str = SHOPPINGLIVE_API,
        net: Net | None = None,
        poll_interval: float = 3.0,
        status_every: int = 10,
        page_size: int = 100,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        if not broadcast_id.isdigit():
            raise InvalidInput(f"{broadcast_id!r} is not a Shopping Live broadcast number")
        if mode not in ("live", "replay"):
            raise InvalidInput(f"mode {mode!r} is neither 'live' nor 'replay'")
        self.broadcast_id = broadcast_id
        self.mode = mode
        self.api_base = api_base.rstrip("/")
        self.net = net or Net()
        self.poll_interval = poll_interval
        self.status_every = max(1, status_every)
        self.page_size = page_size
        self._session_id = str(uuid.uuid4())
        self._seen = RecentKeys(200_000)
        self._cursor: Any = None

    @property
    def channel(self) -> str:
        """The broadcast number (Shopping Live comments belong to a broadcast)."""
        return self.broadcast_id

    def _broadcast_hint(self) -> str | None:
        return f"shoppinglive:{self.broadcast_id}"

    def _get(self, path: str, **params: Any) -> Any:
        query = urllib.parse.urlencode(
            {k: v for k, v in {**params, "slSessionId": self._session_id}.items() if v is not None}
        )
        url = f"{self.api_base}/v1/broadcast/{self.broadcast_id}{path}?{query}"
        try:
            return self.net.get_json(url, headers=_HEADERS)
        except HttpStatusError as e:
            if e.status == 404:
                raise SourceGone(f"Shopping Live broadcast {self.broadcast_id} not found") from e
            raise

    def _status(self) -> str:
        data = self._get("")
        if not isinstance(data, Mapping):
            raise ParseError("broadcast answer is not an object")
        return str(data.get("status") or "").upper()

    def _emit(
        self, ctx: SessionContext, messages: list[ChatMessage], failures: list[tuple[str, str]]
    ) -> None:
        for raw, error in failures:
            ctx.parse_failure(raw, error)
        fresh = [m for m in messages if self._seen.add(m.message_id)]
        if fresh:
            ctx.sink.messages(fresh)

    def _session(self, ctx: SessionContext) -> None:
        broadcast = f"shoppinglive:{self.broadcast_id}"
        status = self._status()
        if self.mode == "live" and status in ENDED_STATUSES:
            raise SourceEnded(f"the broadcast is over (status {status}); watch its replay")
        ctx.live()
        polls = 0
        while not ctx.stop.is_set():
            if self.mode == "replay":
                data = self._get(
                    "/replays/comments", size=self.page_size, lastCommentNo=self._cursor
                )
                messages, has_next, last, failures = parse_replay_comments(
                    data, channel=self.channel, broadcast=broadcast
                )
                self._emit(ctx, messages, failures)
                if not has_next or last is None or last == self._cursor:
                    raise SourceEnded("every replay comment was read")
                self._cursor = last
                continue
            data = self._get("/recent-comments", next=self._cursor or 0, size=30)
            messages, cursor, failures = parse_live_comments(
                data, channel=self.channel, broadcast=broadcast
            )
            self._emit(ctx, messages, failures)
            if cursor is not None:
                self._cursor = cursor
            polls += 1
            if polls % self.status_every == 0 and self._status() in ENDED_STATUSES:
                raise SourceEnded("the broadcast ended")
            if ctx.wait(self.poll_interval):
                return
