"""YouTube live chat by the web client's continuation polling (no API key needed).

See :mod:`.youtube_parse` for the format and where it comes from. A session loads the watch
page (``/watch?v=ID``; ``/@handle/live`` is resolved to the video first), then polls
``get_live_chat`` waiting the ``timeoutMs`` the server returns (clamped to ``min_wait`` ..
``max_wait``). A 403/404 on a continuation (it expired) reloads the page; an answer with no
continuation, or a watch page no longer live, ends the watch. Messages are deduplicated by
id across reloads. The broadcast id is ``youtube:<videoId>``.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from nunchi.apps.chat.sources._dedupe import RecentKeys
from nunchi.apps.chat.sources._net import HttpStatusError, Net
from nunchi.apps.chat.sources.base import (
    ChatSource,
    ParseError,
    ReconnectNow,
    SessionContext,
    SourceEnded,
    SourceGone,
)
from nunchi.apps.chat.sources.youtube_parse import (
    WatchPage,
    parse_live_chat_response,
    parse_watch_page,
)
from nunchi.errors import InvalidInput

__all__ = ["YOUTUBE_WEB", "YouTubeSource", "parse_video_id_from_page"]

YOUTUBE_WEB = "https://www.youtube.com"
_VIDEO_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
_HANDLE = re.compile(r"^@[A-Za-z0-9._-]{3,100}$")
_CANONICAL = re.compile(r'<link rel="canonical" href="[^"]*?[?&]v=([A-Za-z0-9_-]{11})')


def parse_video_id_from_page(html: str) -> str | None:
    """The video id a channel's ``/live`` page shows (its canonical link), if any."""
    match = _CANONICAL.search(html)
    return match.group(1) if match else None


class YouTubeSource(ChatSource):
    """The live chat of one YouTube video (``video_id``) or of a channel's current live
    stream (``handle`` such as ``@name``)."""

    platform = "youtube"

    def __init__(
        self,
        video_id: str | None = None,
        *,
        handle: str | None = None,
        base_url: str = YOUTUBE_WEB,
        net: Net | None = None,
        all_messages: bool = True,
        min_wait: float = 1.0,
        max_wait: float = 10.0,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        if (video_id is None) == (handle is None):
            raise InvalidInput("give a YouTube video id or a channel handle (@name), not both")
        if video_id is not None and not _VIDEO_ID.match(video_id):
            raise InvalidInput(f"{video_id!r} is not a YouTube video id (11 characters)")
        if handle is not None and not _HANDLE.match(handle):
            raise InvalidInput(f"{handle!r} is not a YouTube handle (@name)")
        self.video_id = video_id
        self.handle = handle
        self.base_url = base_url.rstrip("/")
        self.net = net or Net()
        self.all_messages = all_messages
        self.min_wait = min_wait
        self.max_wait = max_wait
        self._channel_id: str | None = None
        self._seen = RecentKeys()

    @property
    def channel(self) -> str:
        """The channel id once known, else the handle or video id."""
        return self._channel_id or self.handle or self.video_id or ""

    def _broadcast_hint(self) -> str | None:
        return f"youtube:{self.video_id}" if self.video_id else None

    def _page(self, path: str) -> str:
        try:
            return self.net.request(
                "GET",
                f"{self.base_url}{path}",
                headers={
                    "accept-language": "en-US,en;q=0.8,ko;q=0.6",
                    "cookie": "CONSENT=YES+1",
                },
            ).text
        except HttpStatusError as e:
            if e.status == 404:
                raise SourceGone(f"YouTube has no page at {path}") from e
            raise

    def _watch(self) -> WatchPage:
        if self.video_id is None:
            html = self._page(f"/{self.handle}/live")
            video_id = parse_video_id_from_page(html)
            if video_id is None:
                raise SourceEnded(f"{self.handle} is not live")
            self.video_id = video_id
        html = self._page(f"/watch?{urllib.parse.urlencode({'v': self.video_id})}")
        return parse_watch_page(html, all_messages=self.all_messages)

    def _session(self, ctx: SessionContext) -> None:
        page = self._watch()
        self._channel_id = page.channel_id or self._channel_id
        if page.continuation is None:
            if not page.is_live:
                raise SourceEnded("the stream is not live")
            raise SourceGone(f"YouTube live chat unavailable: {page.chat_unavailable}")
        if not page.api_key:
            raise ParseError("watch page: no INNERTUBE_API_KEY")
        broadcast = f"youtube:{page.video_id}"
        api = f"{self.base_url}/youtubei/v1/live_chat/get_live_chat?" + urllib.parse.urlencode(
            {"key": page.api_key, "prettyPrint": "false"}
        )
        continuation: str | None = page.continuation
        while continuation is not None and not ctx.stop.is_set():
            try:
                data = self.net.post_json(
                    api,
                    {"context": page.context, "continuation": continuation},
                    headers={
                        "origin": self.base_url,
                        "referer": f"{self.base_url}/watch?v={page.video_id}",
                    },
                )
            except HttpStatusError as e:
                if e.status in (400, 403, 404):
                    raise ReconnectNow(f"continuation refused ({e.status}); reloading") from e
                raise
            except ValueError as e:
                ctx.parse_failure("", f"get_live_chat answer is not JSON: {e}")
                if ctx.wait(self.max_wait):
                    return
                continue
            try:
                result = parse_live_chat_response(data, channel=self.channel, broadcast=broadcast)
            except ParseError as e:
                ctx.parse_failure(repr(data), e)
                if ctx.wait(self.max_wait):
                    return
                continue
            ctx.live()
            for raw, error in result.failures:
                ctx.parse_failure(raw, error)
            fresh = [m for m in result.messages if self._seen.add(m.message_id)]
            if fresh:
                ctx.sink.messages(fresh)
            if result.deletions:
                ctx.sink.deletions(result.deletions)
            continuation = result.continuation
            if continuation is None:
                raise SourceEnded("the live chat ended")
            wait = result.timeout if result.timeout is not None else self.min_wait
            if ctx.wait(min(self.max_wait, max(self.min_wait, wait))):
                return
