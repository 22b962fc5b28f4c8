"""Chzzk (치지직) chat through the web player's unofficial chat WebSocket.

**Terms:** Chzzk's terms of service restrict automated access by unofficial clients; this
adapter reads what the public web player reads, anonymously, and is meant for a broadcaster
watching their own channel or with the broadcaster's consent. Operators with Open API
credentials should use :class:`~nunchi.apps.chat.sources.chzzk_official.ChzzkOpenApiSource`.

Flow (see :mod:`.chzzk_parse` for the frames and where they come from): the channel's live
status gives its ``chatChannelId``, which changes at every broadcast start (the status is
re-checked every ``status_interval`` s: a new id reconnects, CLOSE ends the watch after
``end_grace`` s without a restart); an access token for that id; the chat WebSocket; connect
(cmd 100), ask for the recent messages (5101 -> 15101, deduplicated with what came live),
answer pings (0 -> 10000). The broadcast id is ``chzzk:<channelId>:<chatChannelId>``.
"""

from __future__ import annotations

import re
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from nunchi.apps.chat.sources._dedupe import RecentKeys
from nunchi.apps.chat.sources._net import HttpStatusError, Net, frames
from nunchi.apps.chat.sources.base import (
    ChatSource,
    ParseError,
    ReconnectNow,
    SessionContext,
    SourceEnded,
    SourceGone,
)
from nunchi.apps.chat.sources.chzzk_parse import (
    CMD_CONNECTED,
    CMD_PING,
    CMD_PONG,
    ChzzkLiveStatus,
    chat_server_url,
    connect_frame,
    parse_access_token,
    parse_chzzk_frame,
    parse_live_status,
    recent_frame,
)
from nunchi.errors import InvalidInput

__all__ = ["CHZZK_API", "CHZZK_GAME_API", "ChzzkSource"]

CHZZK_API = "https://api.chzzk.naver.com"
CHZZK_GAME_API = "https://comm-api.game.naver.com/nng_main"
_CHANNEL_ID = re.compile(r"^[0-9a-f]{32}$")


class ChzzkSource(ChatSource):
    """A Chzzk channel's live chat (``channel_id``: the 32-hex id of chzzk.naver.com/live/...)."""

    platform = "chzzk"

    def __init__(
        self,
        channel_id: str,
        *,
        api_base: str = CHZZK_API,
        game_base: str = CHZZK_GAME_API,
        chat_url: Callable[[str], str] = chat_server_url,
        net: Net | None = None,
        status_interval: float = 30.0,
        end_grace: float = 90.0,
        wait_for_live: bool = False,
        recent_count: int = 50,
        idle_timeout: float = 90.0,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        if not _CHANNEL_ID.match(channel_id):
            raise InvalidInput(
                f"{channel_id!r} is not a Chzzk channel id (32 hex digits, as in "
                "https://chzzk.naver.com/live/<channelId>)"
            )
        self._channel = channel_id
        self.api_base = api_base.rstrip("/")
        self.game_base = game_base.rstrip("/")
        self.chat_url = chat_url
        self.net = net or Net()
        self.status_interval = status_interval
        self.end_grace = end_grace
        self.wait_for_live = wait_for_live
        self.recent_count = recent_count
        self.idle_timeout = idle_timeout
        self._seen = RecentKeys()
        self._chat_channel_id: str | None = None
        self._was_live = False

    @property
    def channel(self) -> str:
        """The channel id."""
        return self._channel

    @property
    def broadcast(self) -> str | None:
        """``chzzk:<channelId>:<chatChannelId>`` of the current broadcast, once known."""
        if self._chat_channel_id is None:
            return None
        return f"chzzk:{self._channel}:{self._chat_channel_id}"

    def _broadcast_hint(self) -> str | None:
        return self.broadcast

    def _status(self) -> ChzzkLiveStatus:
        url = f"{self.api_base}/polling/v2/channels/{self._channel}/live-status"
        try:
            status = parse_live_status(self.net.get_json(url))
        except HttpStatusError as e:
            if e.status == 404:
                raise SourceGone(f"Chzzk channel {self._channel} does not exist") from e
            raise
        if status is None:
            raise SourceGone(f"Chzzk channel {self._channel} does not exist")
        return status

    def _await_live(self, ctx: SessionContext) -> ChzzkLiveStatus | None:
        """The status once the channel is live; None when stop was set. Ends the watch when
        the channel stays closed (for ``end_grace`` after a broadcast, or at once)."""
        status = self._status()
        closed_since = time.monotonic()
        while not status.is_live:
            if not self.wait_for_live:
                waited = time.monotonic() - closed_since
                if not self._was_live or waited >= self.end_grace:
                    raise SourceEnded(
                        "the broadcast ended" if self._was_live else "the channel is not live"
                    )
            if ctx.wait(
                self.status_interval
                if self.wait_for_live
                else min(
                    self.status_interval,
                    max(0.0, self.end_grace - (time.monotonic() - closed_since)),
                )
            ):
                return None
            status = self._status()
        return status

    def _session(self, ctx: SessionContext) -> None:
        status = self._await_live(ctx)
        if status is None or status.chat_channel_id is None:
            return
        chat_id = status.chat_channel_id
        self._chat_channel_id = chat_id
        broadcast = f"chzzk:{self._channel}:{chat_id}"
        query = urllib.parse.urlencode({"channelId": chat_id, "chatType": "STREAMING"})
        token = parse_access_token(
            self.net.get_json(f"{self.game_base}/v1/chats/access-token?{query}")
        )
        next_check = [time.monotonic() + self.status_interval]

        def check_status() -> None:
            if time.monotonic() < next_check[0]:
                return
            next_check[0] = time.monotonic() + self.status_interval
            current = self._status()
            if not current.is_live:
                raise ReconnectNow("Chzzk says the broadcast is closed; re-checking")
            if current.chat_channel_id != chat_id:
                raise ReconnectNow(
                    f"chatChannelId changed ({chat_id} -> {current.chat_channel_id}): "
                    "a new broadcast started"
                )

        with self.net.websocket(self.chat_url(chat_id)) as ws:
            ws.send(connect_frame(chat_id, token))
            for raw in frames(ws, ctx.stop, idle_timeout=self.idle_timeout, on_tick=check_status):
                try:
                    frame = parse_chzzk_frame(raw, channel=self._channel, broadcast=broadcast)
                except ParseError as e:
                    ctx.parse_failure(raw, e)
                    continue
                for bad, error in frame.failures:
                    ctx.parse_failure(bad, error)
                if frame.cmd == CMD_PING:
                    ws.send(f'{{"ver":"2","cmd":{CMD_PONG}}}')
                elif frame.cmd == CMD_CONNECTED:
                    if frame.ret_code != 0 or not frame.sid:
                        raise ConnectionError(
                            f"Chzzk refused the chat connection ({frame.ret_code})"
                        )
                    self._was_live = True
                    ctx.live()
                    if self.recent_count > 0:
                        ws.send(recent_frame(chat_id, frame.sid, self.recent_count))
                fresh = [m for m in frame.messages if self._seen.add(m.message_id)]
                if fresh:
                    ctx.sink.messages(fresh)
                if frame.deletions:
                    ctx.sink.deletions(frame.deletions)
