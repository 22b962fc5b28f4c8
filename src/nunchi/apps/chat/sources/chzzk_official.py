"""Chzzk (치지직) chat through the official Open API session (for operators with credentials).

From Chzzk's developer documentation (https://chzzk.gitbook.io/chzzk/chzzk-api/session,
read through the public mirror 0junproject/chzzk-docs api/session.md, and the Open API
client in chzzkpy, gunyu1019/chzzkpy ``offical/``): ``GET /open/v1/sessions/auth`` with the
user's ``Authorization: Bearer <access token>`` returns ``content.url``, a Socket.IO
endpoint (socket.io-client 1.0 - 2.0.3, i.e. Engine.IO protocol 3) used with the websocket
transport only. Its ``SYSTEM`` event ``connected`` carries ``sessionKey``; then
``POST /open/v1/sessions/events/subscribe/{chat,donation,subscription}?sessionKey=...``
subscribes the token owner's channel, and ``CHAT`` / ``DONATION`` / ``SUBSCRIPTION`` events
follow. Engine.IO 3: the client sends ``2`` (ping) every ``pingInterval`` ms of the open
packet and the server answers ``3``; Socket.IO events are ``42["NAME",data]`` (data may be
an object or a JSON string).

**Not verified against the live service** (no credentials here): the shapes follow the
documentation; the messages have no id, ours hashes (sender channel id, messageTime), and
donations carry no time (receive time is used). The broadcast id is
``chzzk-openapi:<channelId>:<UTC date the watch started>``.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from nunchi.apps.chat.sources._net import HttpStatusError, Net, frames
from nunchi.apps.chat.sources.base import (
    ChatMessage,
    ChatSource,
    ParseError,
    SessionContext,
    SourceGone,
)
from nunchi.apps.chat.sources.chzzk_parse import chzzk_message_id
from nunchi.errors import InvalidInput

__all__ = [
    "CHZZK_OPENAPI",
    "ChzzkOpenApiSource",
    "SocketIoPacket",
    "parse_openapi_event",
    "parse_socketio_packet",
    "socketio_url",
]

CHZZK_OPENAPI = "https://openapi.chzzk.naver.com"
_EVENTS = ("chat", "donation", "subscription")


def socketio_url(session_url: str) -> str:
    """The Engine.IO 3 websocket URL for a session URL (``https://host:443?auth=...``)."""
    parts = urllib.parse.urlsplit(session_url)
    scheme = {"https": "wss", "http": "ws", "wss": "wss", "ws": "ws"}.get(parts.scheme)
    if scheme is None:
        raise ParseError(f"session URL scheme {parts.scheme!r} is not http(s)")
    query = urllib.parse.parse_qsl(parts.query)
    query += [("EIO", "3"), ("transport", "websocket")]
    return urllib.parse.urlunsplit(
        (scheme, parts.netloc, "/socket.io/", urllib.parse.urlencode(query), "")
    )


SocketIoKind = Literal["open", "close", "ping", "pong", "connect", "disconnect", "event", "other"]


class SocketIoPacket:
    """An Engine.IO packet and, for messages, the Socket.IO packet inside."""

    __slots__ = ("data", "event", "kind")

    def __init__(self, kind: SocketIoKind, data: Any = None, event: str | None = None) -> None:
        self.kind = kind
        self.data = data
        self.event = event


def parse_socketio_packet(raw: str) -> SocketIoPacket:
    """Decode one Engine.IO 3 text packet. Raises ParseError when it is not one."""
    if not raw or not raw[0].isdigit():
        raise ParseError("not an Engine.IO packet (no type digit)")
    kind, rest = raw[0], raw[1:]
    if kind == "0":
        try:
            return SocketIoPacket("open", json.loads(rest))
        except ValueError as e:
            raise ParseError(f"open packet is not JSON: {e}") from e
    if kind in "123":
        return SocketIoPacket({"1": "close", "2": "ping", "3": "pong"}[kind], rest)  # type: ignore[arg-type]
    if kind != "4":
        return SocketIoPacket("other", rest)
    if not rest:
        raise ParseError("empty Socket.IO packet")
    sio, body = rest[0], rest[1:]
    if body.startswith("/"):  # a namespace: "/chat,..."
        body = body.partition(",")[2]
    while body[:1].isdigit():  # an ack id
        body = body[1:]
    if sio == "0":
        return SocketIoPacket("connect")
    if sio == "1":
        return SocketIoPacket("disconnect")
    if sio != "2":
        return SocketIoPacket("other", body)
    try:
        payload = json.loads(body)
    except ValueError as e:
        raise ParseError(f"Socket.IO event is not JSON: {e}") from e
    if not isinstance(payload, list) or not payload or not isinstance(payload[0], str):
        raise ParseError("Socket.IO event is not [name, data]")
    data = payload[1] if len(payload) > 1 else None
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError as e:
            raise ParseError(f"{payload[0]} data is a string but not JSON: {e}") from e
    return SocketIoPacket("event", data, payload[0])


def parse_openapi_event(
    event: str, data: Any, *, channel: str, broadcast: str
) -> ChatMessage | None:
    """A ``CHAT`` / ``DONATION`` / ``SUBSCRIPTION`` event as a message (None otherwise)."""
    if not isinstance(data, Mapping):
        raise ParseError(f"{event} data is not an object")
    name = event.upper()
    if name == "CHAT":
        sender, when = data.get("senderChannelId"), data.get("messageTime")
        if not isinstance(sender, str) or not isinstance(when, int):
            raise ParseError("CHAT without senderChannelId and messageTime")
        raw_profile = data.get("profile")
        profile: Mapping[str, Any] = raw_profile if isinstance(raw_profile, Mapping) else {}
        badges = []
        role = data.get("userRoleCode")
        if isinstance(role, str) and role != "common_user":
            badges.append(f"role/{role}")
        if profile.get("verifiedMark"):
            badges.append("verified")
        return ChatMessage(
            "chzzk",
            channel,
            broadcast,
            chzzk_message_id(sender, when),
            sender,
            str(profile.get("nickname") or sender),
            str(data.get("content") or ""),
            datetime.fromtimestamp(when / 1000, UTC),
            badges=tuple(badges),
        )
    now = datetime.now(UTC)
    if name == "DONATION":
        donor = str(data.get("donatorChannelId") or "anonymous")
        raw_amount = str(data.get("payAmount") or "").replace(",", "")
        if not raw_amount.isdigit():
            raise ParseError(f"DONATION payAmount {data.get('payAmount')!r} is not a number")
        stamp = int(now.timestamp() * 1000)
        return ChatMessage(
            "chzzk",
            channel,
            broadcast,
            chzzk_message_id(donor, stamp),
            donor,
            str(data.get("donatorNickname") or "익명"),
            str(data.get("donationText") or ""),
            now,
            kind="donation",
            amount=int(raw_amount),
            currency="KRW",
            badges=(f"donation/{data.get('donationType') or 'CHAT'}",),
        )
    if name == "SUBSCRIPTION":
        who = str(data.get("subscriberChannelId") or "")
        if not who:
            raise ParseError("SUBSCRIPTION without subscriberChannelId")
        stamp = int(now.timestamp() * 1000)
        badges = [f"months/{data.get('month')}"] if data.get("month") else []
        if data.get("tierNo"):
            badges.append(f"tier/{data.get('tierNo')}")
        return ChatMessage(
            "chzzk",
            channel,
            broadcast,
            chzzk_message_id(who, stamp),
            who,
            str(data.get("subscriberNickname") or who),
            str(data.get("tierName") or ""),
            now,
            kind="subscription",
            badges=tuple(badges),
        )
    return None


class ChzzkOpenApiSource(ChatSource):
    """The chat of the channel whose owner granted ``access_token`` (Open API, user session)."""

    platform = "chzzk"

    def __init__(
        self,
        access_token: str,
        *,
        channel_id: str | None = None,
        api_base: str = CHZZK_OPENAPI,
        net: Net | None = None,
        events: tuple[str, ...] = _EVENTS,
        idle_timeout: float = 90.0,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        if not access_token:
            raise InvalidInput("the Chzzk Open API needs the channel owner's access token")
        unknown = set(events) - set(_EVENTS)
        if unknown:
            raise InvalidInput(f"unknown Chzzk events {sorted(unknown)}; use {list(_EVENTS)}")
        self._token = access_token
        self._channel = channel_id or ""
        self.api_base = api_base.rstrip("/")
        self.net = net or Net()
        self.events = events
        self.idle_timeout = idle_timeout
        self._broadcast: str | None = None

    @property
    def channel(self) -> str:
        """The channel id (learnt from the first event when not given)."""
        return self._channel

    def _broadcast_hint(self) -> str | None:
        return self._broadcast

    def _auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self._token}"}

    def _session_url(self) -> str:
        try:
            data = self.net.get_json(f"{self.api_base}/open/v1/sessions/auth", headers=self._auth())
        except HttpStatusError as e:
            if e.status in (401, 403):
                raise SourceGone(f"Chzzk Open API refused the token ({e.status})") from e
            raise
        url = (data.get("content") or {}).get("url") if isinstance(data, Mapping) else None
        if not isinstance(url, str):
            raise ParseError("sessions/auth: no content.url")
        return url

    def _subscribe(self, session_key: str) -> None:
        key = urllib.parse.urlencode({"sessionKey": session_key})
        for event in self.events:
            url = f"{self.api_base}/open/v1/sessions/events/subscribe/{event}?{key}"
            self.net.request("POST", url, headers=self._auth(), body=b"")

    def _session(self, ctx: SessionContext) -> None:
        if self._broadcast is None:
            day = datetime.now(UTC).date().isoformat()
            self._broadcast = f"chzzk-openapi:{self._channel or 'token'}:{day}"
        broadcast = self._broadcast
        ping_every = [25.0]
        next_ping = [time.monotonic() + ping_every[0]]
        with self.net.websocket(socketio_url(self._session_url()), ping_interval=None) as ws:

            def keepalive() -> None:
                if time.monotonic() >= next_ping[0]:
                    next_ping[0] = time.monotonic() + ping_every[0]
                    ws.send("2")

            for raw in frames(ws, ctx.stop, idle_timeout=self.idle_timeout, on_tick=keepalive):
                text = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
                try:
                    packet = parse_socketio_packet(text)
                    if packet.kind == "open" and isinstance(packet.data, Mapping):
                        interval = packet.data.get("pingInterval")
                        if isinstance(interval, int) and interval > 0:
                            ping_every[0] = interval / 1000
                            next_ping[0] = time.monotonic() + ping_every[0]
                    elif packet.kind == "ping":
                        ws.send("3" + str(packet.data or ""))
                    elif packet.kind in ("close", "disconnect"):
                        raise ConnectionError("the Chzzk session server closed the session")
                    elif packet.kind == "event" and packet.event is not None:
                        self._event(ctx, packet.event, packet.data, broadcast)
                except ParseError as e:
                    ctx.parse_failure(text, e)

    def _event(self, ctx: SessionContext, event: str, data: Any, broadcast: str) -> None:
        if event.upper() == "SYSTEM":
            if not isinstance(data, Mapping):
                raise ParseError("SYSTEM data is not an object")
            kind, body = data.get("type"), data.get("data") or {}
            if kind == "connected":
                key = body.get("sessionKey") if isinstance(body, Mapping) else None
                if not isinstance(key, str):
                    raise ParseError("SYSTEM connected without data.sessionKey")
                self._subscribe(key)
            elif kind == "subscribed":
                if not self._channel and isinstance(body, Mapping):
                    self._channel = str(body.get("channelId") or "")
                ctx.live()
            elif kind == "revoked":
                raise SourceGone("the channel owner revoked this application's access")
            return
        channel = self._channel or (str(data.get("channelId")) if isinstance(data, Mapping) else "")
        message = parse_openapi_event(event, data, channel=channel, broadcast=broadcast)
        if message is not None:
            ctx.live()
            ctx.sink.messages([message])
