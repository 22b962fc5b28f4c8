"""SOOP (formerly AfreecaTV) chat over its binary WebSocket protocol.

There is no public documentation; the format is the one the web player uses, as read by the
public clients ``afreeca`` for Python (wakscord/afreeca: ``packet.py``, ``constants.py``,
``core.py``, ``interfaces.py``) and ``afreecachat`` for Go (devhalfdog/afreecachat:
``client.go``, ``messages.go``):

* ``POST https://live.sooplive.co.kr/afreeca/player_live_api.php?bjid=<id>`` (form
  ``bid=<id>&type=live&player_type=html5``) answers ``CHANNEL`` with ``RESULT`` (1 = live),
  ``BNO`` (broadcast number), ``CHDOMAIN``, ``CHPT`` (chat port; the secure WebSocket is on
  ``CHPT + 1``), ``CHATNO`` and ``FTK``.
* ``wss://<CHDOMAIN>:<CHPT+1>/Websocket/<bjid>``, sub-protocol ``chat``, binary frames:
  header ``ESC TAB`` + 4-digit service code + 6-digit body length + 2-digit return code,
  body = ``\\x0c`` + fields joined by ``\\x0c`` + ``\\x0c``.
* Login (service 1: ticket, "", flag 16 = guest) -> answer 1 -> join (service 2: CHATNO,
  FTK, "0", "", a log string) -> answer 2; keepalive (service 0) every 20 s.
* Chat (5): message, user id, -, -, language, nickname, flags ``a|b``, subscription months;
  star balloons (18): bj id, user id, nickname, count; ad balloons (87): -, -, user id,
  nickname, ... count at field 10; subscriptions (91: -, -, user id, nickname, months;
  93: -, user id, nickname, months). A user id may end in ``(n)`` for extra sessions.

SOOP frames carry neither message ids nor times: ``sent_at`` is the receive time and the id
hashes (broadcast, user, text, receive time in ms). Kicks and blinds (services 11, 25) are
not turned into deletions: their field layout could not be confirmed. The broadcast id is
``soop:<bjid>:<BNO>``.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nunchi.apps.chat.sources._net import HttpStatusError, Net, frames
from nunchi.apps.chat.sources.base import (
    ChatMessage,
    ChatSource,
    MessageKind,
    ParseError,
    SessionContext,
    SourceEnded,
    SourceGone,
)
from nunchi.errors import InvalidInput

__all__ = [
    "SOOP_LIVE_API",
    "SVC_ADBALLOON",
    "SVC_BALLOON",
    "SVC_CHAT",
    "SVC_JOIN",
    "SVC_KEEPALIVE",
    "SVC_LOGIN",
    "SoopChannel",
    "SoopPacket",
    "SoopSource",
    "build_soop_packet",
    "parse_player_live",
    "parse_soop_event",
    "parse_soop_packet",
]

SOOP_LIVE_API = "https://live.sooplive.co.kr"
SVC_KEEPALIVE, SVC_LOGIN, SVC_JOIN, SVC_CHAT = 0, 1, 2, 5
SVC_BALLOON, SVC_ADBALLOON = 18, 87
SVC_SUBSCRIBE, SVC_SUBSCRIBE_EFFECT = 91, 93
_START = b"\x1b\t"
_SEP = b"\x0c"
_HEADER = 14
_GUEST_FLAG = "16"
_JOIN_LOG = (
    "\x06&\x06set_bps\x06=\x068000\x06&\x06view_bps\x06=\x061000\x06&\x06quality\x06=\x06normal"
    "\x06&\x06geo_cc\x06=\x06KR\x06&\x06geo_rc\x06=\x0611\x06&\x06acpt_lang\x06=\x06ko_KR"
    "\x06&\x06svc_lang\x06=\x06ko_KR"
)
_BJID = re.compile(r"^[a-z0-9_]{2,40}$")
_SESSION_SUFFIX = re.compile(r"\(\d+\)$")


def build_soop_packet(service: int, fields: Sequence[str], ret_code: int = 0) -> bytes:
    """A frame: header + ``\\x0c`` + fields joined by ``\\x0c`` + ``\\x0c``."""
    body = _SEP + b"".join(f.encode() + _SEP for f in fields) if fields else _SEP
    return (
        _START
        + f"{service:04d}".encode()
        + f"{len(body):06d}".encode()
        + f"{ret_code:02d}".encode()
        + body
    )


@dataclass(frozen=True, slots=True)
class SoopPacket:
    """A decoded frame: service code, return code and body fields."""

    service: int
    ret_code: int
    fields: list[str]


def parse_soop_packet(data: bytes) -> SoopPacket:
    """Decode one binary frame. Raises ParseError when the header is not SOOP's."""
    if len(data) < _HEADER or not data.startswith(_START):
        raise ParseError("not a SOOP chat frame (no ESC TAB header)")
    head = data[2:_HEADER]
    if not head.isdigit():
        raise ParseError(f"SOOP header {head!r} is not digits")
    service, length, ret = int(head[0:4]), int(head[4:10]), int(head[10:12])
    body = data[_HEADER:]
    if len(body) == length + 36:  # some captures carry a 36-byte session UUID after the header
        body = body[36:]
    text = body.decode("utf-8", "replace")
    fields = text.split("\x0c")
    if fields and fields[0] == "":
        fields = fields[1:]
    if fields and fields[-1] == "":
        fields = fields[:-1]
    return SoopPacket(service, ret, fields)


def _user_id(raw: str) -> str:
    return _SESSION_SUFFIX.sub("", raw.strip())


def _count(value: str, what: str) -> int:
    try:
        return int(value)
    except ValueError as e:
        raise ParseError(f"{what} {value!r} is not a number") from e


def parse_soop_event(
    packet: SoopPacket, *, channel: str, broadcast: str, received_at: datetime
) -> ChatMessage | None:
    """A chat, balloon or subscription packet as a message; None for other services."""
    f = packet.fields

    def need(n: int) -> None:
        if len(f) < n:
            raise ParseError(f"service {packet.service}: {len(f)} fields, expected {n}+")

    badges: list[str] = []
    amount: int | None = None
    currency: str | None = None
    kind: MessageKind
    if packet.service == SVC_CHAT:
        need(6)
        text, user, name = f[0].replace("\r", ""), _user_id(f[1]), f[5]
        kind = "chat"
        if len(f) > 7 and f[7].lstrip("-").isdigit() and int(f[7]) > 0:
            badges.append(f"subscriber/{f[7]}")
    elif packet.service == SVC_BALLOON:
        need(4)
        user, name, text, kind = _user_id(f[1]), f[2], "", "donation"
        amount, currency = _count(f[3], "balloon count"), "star_balloon"
    elif packet.service == SVC_ADBALLOON:
        need(10)
        user, name, text, kind = _user_id(f[2]), f[3], "", "donation"
        amount, currency = _count(f[9], "ad balloon count"), "ad_balloon"
    elif packet.service in (SVC_SUBSCRIBE, SVC_SUBSCRIBE_EFFECT):
        first = 2 if packet.service == SVC_SUBSCRIBE else 1
        need(first + 3)
        user, name, text, kind = _user_id(f[first]), f[first + 1], "", "subscription"
        badges.append(f"months/{_count(f[first + 2], 'subscription months')}")
    else:
        return None
    stamp = int(received_at.timestamp() * 1000)
    digest = hashlib.sha256(f"{broadcast}\x00{user}\x00{text}\x00{stamp}".encode()).hexdigest()
    return ChatMessage(
        "soop",
        channel,
        broadcast,
        digest[:24],
        user,
        name or user,
        text,
        received_at,
        kind=kind,
        amount=amount,
        currency=currency,
        badges=tuple(badges),
    )


@dataclass(frozen=True, slots=True)
class SoopChannel:
    """The ``CHANNEL`` of ``player_live_api.php``."""

    result: int
    bno: str
    chat_domain: str
    chat_port: int
    chat_no: str
    fan_ticket: str


def parse_player_live(data: Any) -> SoopChannel:
    """The channel info; ``result`` 1 is live, 0 not broadcasting, negative refused."""
    channel = data.get("CHANNEL") if isinstance(data, dict) else None
    if not isinstance(channel, dict) or "RESULT" not in channel:
        raise ParseError("player_live_api: no CHANNEL.RESULT")
    try:
        result = int(channel["RESULT"])
        if result != 1:
            return SoopChannel(result, "", "", 0, "", "")
        return SoopChannel(
            result,
            str(channel["BNO"]),
            str(channel["CHDOMAIN"]),
            int(channel["CHPT"]),
            str(channel["CHATNO"]),
            str(channel.get("FTK") or ""),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise ParseError(f"player_live_api: bad CHANNEL field: {e}") from e


class SoopSource(ChatSource):
    """A SOOP broadcaster's live chat (``bjid`` as in play.sooplive.co.kr/<bjid>)."""

    platform = "soop"

    def __init__(
        self,
        bjid: str,
        *,
        bno: str | None = None,
        api_base: str = SOOP_LIVE_API,
        chat_scheme: str = "wss",
        net: Net | None = None,
        keepalive: float = 20.0,
        idle_timeout: float = 90.0,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        if not _BJID.match(bjid):
            raise InvalidInput(
                f"{bjid!r} is not a SOOP broadcaster id (as in play.sooplive.co.kr/<id>)"
            )
        self._bjid = bjid
        self.bno = bno
        self.api_base = api_base.rstrip("/")
        self.chat_scheme = chat_scheme
        self.net = net or Net()
        self.keepalive = keepalive
        self.idle_timeout = idle_timeout
        self._broadcast: str | None = None
        self._was_live = False

    @property
    def channel(self) -> str:
        """The broadcaster id."""
        return self._bjid

    def _broadcast_hint(self) -> str | None:
        return self._broadcast

    def _channel_info(self) -> SoopChannel:
        form = {"bid": self._bjid, "type": "live", "player_type": "html5"}
        if self.bno:
            form["bno"] = self.bno
        url = f"{self.api_base}/afreeca/player_live_api.php?bjid={urllib.parse.quote(self._bjid)}"
        try:
            response = self.net.request(
                "POST",
                url,
                body=urllib.parse.urlencode(form).encode(),
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
        except HttpStatusError as e:
            if e.status == 404:
                raise SourceGone(f"SOOP broadcaster {self._bjid} does not exist") from e
            raise
        try:
            return parse_player_live(json.loads(response.content))
        except ValueError as e:
            if isinstance(e, ParseError):
                raise
            raise ParseError(f"player_live_api answer is not JSON: {e}") from e

    def _session(self, ctx: SessionContext) -> None:
        info = self._channel_info()
        if info.result == 0:
            raise SourceEnded(
                "the broadcast ended" if self._was_live else "the channel is not live"
            )
        if info.result < 0:
            raise SourceGone(
                f"SOOP refused the broadcast (RESULT {info.result}: login or age check)"
            )
        if self.bno and info.bno != self.bno:
            raise SourceEnded(f"broadcast {self.bno} is over (now {info.bno})")
        self._broadcast = broadcast = f"soop:{self._bjid}:{info.bno}"
        url = f"{self.chat_scheme}://{info.chat_domain}:{info.chat_port + 1}/Websocket/{self._bjid}"
        next_keepalive = [time.monotonic() + self.keepalive]
        with self.net.websocket(url, subprotocols=["chat"]) as ws:

            def keepalive() -> None:
                if time.monotonic() >= next_keepalive[0]:
                    next_keepalive[0] = time.monotonic() + self.keepalive
                    ws.send(build_soop_packet(SVC_KEEPALIVE, []))

            ws.send(build_soop_packet(SVC_LOGIN, ["", "", _GUEST_FLAG]))
            for raw in frames(ws, ctx.stop, idle_timeout=self.idle_timeout, on_tick=keepalive):
                data = raw if isinstance(raw, bytes) else raw.encode()
                try:
                    packet = parse_soop_packet(data)
                    if packet.service == SVC_LOGIN:
                        if packet.ret_code != 0:
                            raise ConnectionError(f"SOOP login refused ({packet.ret_code})")
                        join = [info.chat_no, info.fan_ticket, "0", "", _JOIN_LOG]
                        ws.send(build_soop_packet(SVC_JOIN, join))
                    elif packet.service == SVC_JOIN:
                        if packet.ret_code != 0:
                            raise SourceGone(f"SOOP refused to join the chat ({packet.ret_code})")
                        self._was_live = True
                        ctx.live()
                    elif packet.ret_code == 0:
                        message = parse_soop_event(
                            packet,
                            channel=self._bjid,
                            broadcast=broadcast,
                            received_at=datetime.now(UTC),
                        )
                        if message is not None:
                            ctx.sink.messages([message])
                except ParseError as e:
                    ctx.parse_failure(data, e)
