"""Twitch chat: IRC over WebSocket, read anonymously.

Wire format from Twitch's own documentation: https://dev.twitch.tv/docs/chat/irc/ (connecting,
anonymous ``justinfan`` logins, ``CAP REQ :twitch.tv/tags twitch.tv/commands``), the message
tags at https://dev.twitch.tv/docs/chat/irc/#irc-tags and commands at
https://dev.twitch.tv/docs/chat/irc-reference/ (PRIVMSG, USERNOTICE, CLEARMSG, CLEARCHAT,
NOTICE, ROOMSTATE, PING, RECONNECT), and IRCv3 message tags (escapes ``\\:`` ``\\s`` ``\\\\``
``\\r`` ``\\n``): https://ircv3.net/specs/extensions/message-tags.

One WebSocket text frame may hold several ``\\r\\n``-terminated lines. The broadcast id is
``twitch:<channel>:<UTC date the watch started>`` (IRC carries no stream id), kept for the
source's whole life, or the ``broadcast`` given.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from nunchi.apps.chat.sources._net import Net, frames
from nunchi.apps.chat.sources.base import (
    ChatDeletion,
    ChatMessage,
    ChatSource,
    MessageKind,
    ParseError,
    ReconnectNow,
    SessionContext,
    SourceGone,
)
from nunchi.errors import InvalidInput

__all__ = [
    "TWITCH_IRC_URL",
    "IrcLine",
    "TwitchControl",
    "TwitchSource",
    "normalise_channel",
    "parse_irc_line",
    "parse_twitch_frame",
    "parse_twitch_line",
    "unescape_tag_value",
]

TWITCH_IRC_URL = "wss://irc-ws.chat.twitch.tv:443"
_CHANNEL = re.compile(r"^[a-z0-9_]{1,25}$")
_SUB_IDS = frozenset(
    {
        "sub",
        "resub",
        "subgift",
        "submysterygift",
        "giftpaidupgrade",
        "anongiftpaidupgrade",
        "primepaidupgrade",
        "extendsub",
        "standardpayforward",
        "communitypayforward",
        "anonsubgift",
        "anonsubmysterygift",
    }
)
_GONE_NOTICES = frozenset({"msg_channel_suspended", "tos_ban", "msg_banned"})
_ESCAPES = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}


def unescape_tag_value(value: str) -> str:
    """IRCv3 tag value unescaping: ``\\:`` ``\\s`` ``\\\\`` ``\\r`` ``\\n``; an unknown escape
    drops the backslash, a trailing lone backslash is dropped."""
    out: list[str] = []
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "\\":
            if i + 1 < len(value):
                nxt = value[i + 1]
                out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


@dataclass(frozen=True, slots=True)
class IrcLine:
    """One IRC line: tags, prefix (``nick!user@host`` or a server), command and params."""

    tags: dict[str, str]
    prefix: str | None
    command: str
    params: list[str] = field(default_factory=list)

    @property
    def nick(self) -> str | None:
        """The nick of the prefix, if any."""
        return self.prefix.split("!", 1)[0] if self.prefix else None


def parse_irc_line(line: str) -> IrcLine:
    """Parse one IRC line (no line ending). Raises ParseError on a malformed line."""
    rest = line.rstrip("\r\n")
    if not rest.strip():
        raise ParseError("empty IRC line")
    tags: dict[str, str] = {}
    if rest.startswith("@"):
        raw_tags, sep, rest = rest[1:].partition(" ")
        if not sep:
            raise ParseError("IRC line has tags but no command")
        for item in raw_tags.split(";"):
            if not item:
                continue
            key, _, value = item.partition("=")
            tags[key] = unescape_tag_value(value)
    rest = rest.lstrip(" ")
    prefix = None
    if rest.startswith(":"):
        prefix, sep, rest = rest[1:].partition(" ")
        if not sep:
            raise ParseError("IRC line has a prefix but no command")
    rest = rest.lstrip(" ")
    trailing: str | None = None
    if " :" in rest:
        rest, trailing = rest.split(" :", 1)
    parts = rest.split()
    if not parts:
        raise ParseError("IRC line has no command")
    command, params = parts[0].upper(), parts[1:]
    if not re.fullmatch(r"[A-Z]+|\d{3}", command):
        raise ParseError(f"IRC command {parts[0]!r} is not a word or a 3-digit number")
    if trailing is not None:
        params.append(trailing)
    return IrcLine(tags, prefix, command, params)


@dataclass(frozen=True, slots=True)
class TwitchControl:
    """A line that steers the connection instead of carrying chat."""

    kind: Literal["ping", "reconnect", "joined", "auth_failed", "gone"]
    value: str = ""


TwitchEvent = ChatMessage | ChatDeletion | TwitchControl


def _time(tags: dict[str, str]) -> datetime:
    raw = tags.get("tmi-sent-ts")
    if raw is None or raw == "":
        return datetime.now(UTC)
    try:
        return datetime.fromtimestamp(int(raw) / 1000, UTC)
    except (ValueError, OverflowError) as e:
        raise ParseError(f"tmi-sent-ts {raw!r} is not a millisecond time") from e


def _badges(tags: dict[str, str]) -> list[str]:
    return [b for b in tags.get("badges", "").split(",") if b]


def _message(
    line: IrcLine, channel: str, broadcast: str, kind: MessageKind, text: str, badges: list[str]
) -> ChatMessage:
    tags = line.tags
    message_id = tags.get("id")
    if not message_id:
        raise ParseError(f"{line.command} without an id tag")
    login = tags.get("login") or line.nick or ""
    amount: int | None = None
    currency: str | None = None
    if kind == "donation":
        amount, currency = int(tags["bits"]), "bits"
    return ChatMessage(
        platform="twitch",
        channel=channel,
        broadcast=broadcast,
        message_id=message_id,
        author_id=tags.get("user-id") or login,
        author_name=tags.get("display-name") or login,
        text=text,
        sent_at=_time(tags),
        kind=kind,
        amount=amount,
        currency=currency,
        badges=tuple(badges),
    )


def _strip_action(text: str) -> tuple[str, bool]:
    if text.startswith("\x01ACTION ") and text.endswith("\x01"):
        return text[8:-1], True
    return text, False


def parse_twitch_line(line: str, *, channel: str, broadcast: str) -> TwitchEvent | None:
    """One IRC line as a message, deletion or control; None for lines of no interest
    (numerics, CAP, JOIN, USERSTATE ...). Raises ParseError on a malformed line."""
    irc = parse_irc_line(line)
    cmd, tags = irc.command, irc.tags
    try:
        if cmd == "PING":
            return TwitchControl("ping", irc.params[-1] if irc.params else "tmi.twitch.tv")
        if cmd == "RECONNECT":
            return TwitchControl("reconnect")
        if cmd in ("ROOMSTATE", "366"):
            return TwitchControl("joined")
        if cmd == "PRIVMSG":
            if len(irc.params) < 2:
                raise ParseError("PRIVMSG without a text")
            text, action = _strip_action(irc.params[-1])
            badges = _badges(tags) + (["action"] if action else [])
            bits = tags.get("bits", "")
            if bits and not bits.isdigit():
                raise ParseError(f"bits tag {bits!r} is not a number")
            kind: MessageKind = "donation" if bits and int(bits) > 0 else "chat"
            return _message(irc, channel, broadcast, kind, text, badges)
        if cmd == "USERNOTICE":
            msg_id = tags.get("msg-id", "")
            text = irc.params[1] if len(irc.params) > 1 else tags.get("system-msg", "")
            badges = _badges(tags)
            if msg_id in _SUB_IDS:
                months = tags.get("msg-param-cumulative-months") or tags.get("msg-param-months")
                if months and months != "0":
                    badges.append(f"months/{months}")
                if plan := tags.get("msg-param-sub-plan"):
                    badges.append(f"plan/{plan}")
                return _message(irc, channel, broadcast, "subscription", text, badges)
            badges.append(f"notice/{msg_id}" if msg_id else "notice")
            return _message(irc, channel, broadcast, "system", text, badges)
        if cmd == "CLEARMSG":
            target = tags.get("target-msg-id")
            if not target:
                raise ParseError("CLEARMSG without target-msg-id")
            return ChatDeletion(
                "twitch", channel, broadcast, _time(tags), message_id=target, reason="deleted"
            )
        if cmd == "CLEARCHAT":
            user = tags.get("target-user-id") or (irc.params[1] if len(irc.params) > 1 else None)
            duration = tags.get("ban-duration")
            reason = (f"timeout {duration}s" if duration else "ban") if user else "chat cleared"
            return ChatDeletion(
                "twitch", channel, broadcast, _time(tags), author_id=user, reason=reason
            )
        if cmd == "NOTICE":
            text = irc.params[-1] if irc.params else ""
            target = irc.params[0] if irc.params else "*"
            msg_id = tags.get("msg-id", "")
            lowered = text.lower()
            if target == "*" and ("authentication failed" in lowered or "auth" in lowered):
                return TwitchControl("auth_failed", text)
            if msg_id in _GONE_NOTICES:
                return TwitchControl("gone", text)
            return ChatMessage(
                platform="twitch",
                channel=channel,
                broadcast=broadcast,
                message_id=f"notice:{tags.get('tmi-sent-ts') or datetime.now(UTC).timestamp()}",
                author_id="tmi.twitch.tv",
                author_name="Twitch",
                text=text,
                sent_at=_time(tags),
                kind="system",
                badges=(f"notice/{msg_id}",) if msg_id else (),
            )
    except (KeyError, IndexError, ValueError) as e:
        if isinstance(e, ParseError):
            raise
        raise ParseError(f"{cmd}: {type(e).__name__}: {e}") from e
    return None


def parse_twitch_frame(
    frame: str, *, channel: str, broadcast: str
) -> list[TwitchEvent | ParseError]:
    """Every line of one WebSocket frame, in order; a bad line becomes its ParseError (with
    the line as its ``raw``) so the other lines of the frame still count."""
    out: list[TwitchEvent | ParseError] = []
    for line in frame.split("\n"):
        if not line.strip("\r "):
            continue
        try:
            event = parse_twitch_line(line, channel=channel, broadcast=broadcast)
        except ParseError as e:
            out.append(ParseError(str(e), line))
            continue
        if event is not None:
            out.append(event)
    return out


def normalise_channel(channel: str) -> str:
    """``#Foo`` / ``Foo`` -> ``foo``; raises InvalidInput for a name Twitch cannot have."""
    name = channel.strip().lstrip("#").lower()
    if not _CHANNEL.match(name):
        raise InvalidInput(f"{channel!r} is not a Twitch channel name (1-25 letters, digits or _)")
    return name


class TwitchSource(ChatSource):
    """A Twitch channel's chat, read anonymously over ``wss://irc-ws.chat.twitch.tv``."""

    platform = "twitch"

    def __init__(
        self,
        channel: str,
        *,
        url: str = TWITCH_IRC_URL,
        net: Net | None = None,
        broadcast: str | None = None,
        idle_timeout: float = 360.0,
        rng: random.Random | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self._channel = normalise_channel(channel)
        self.url = url
        self.net = net or Net()
        self.idle_timeout = idle_timeout
        self._rng = rng or random.Random()
        self._broadcast = broadcast

    @property
    def channel(self) -> str:
        """The channel name (lower case, no ``#``)."""
        return self._channel

    @property
    def broadcast(self) -> str:
        """``twitch:<channel>:<date the watch started>`` (fixed once the first session ran)."""
        if self._broadcast is None:
            self._broadcast = f"twitch:{self._channel}:{datetime.now(UTC).date().isoformat()}"
        return self._broadcast

    def _broadcast_hint(self) -> str | None:
        return self._broadcast

    def _session(self, ctx: SessionContext) -> None:
        broadcast = self.broadcast
        nick = f"justinfan{self._rng.randint(10_000, 99_999_999)}"
        with self.net.websocket(self.url) as ws:
            for line in (
                "CAP REQ :twitch.tv/tags twitch.tv/commands",
                "PASS SCHMOOPIIE",
                f"NICK {nick}",
                f"JOIN #{self._channel}",
            ):
                ws.send(line + "\r\n")
            for frame in frames(ws, ctx.stop, idle_timeout=self.idle_timeout):
                text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
                self._handle(
                    ctx,
                    ws.send,
                    parse_twitch_frame(text, channel=self._channel, broadcast=broadcast),
                )

    def _handle(
        self, ctx: SessionContext, send: Any, events: Iterable[TwitchEvent | ParseError]
    ) -> None:
        messages: list[ChatMessage] = []
        deletions: list[ChatDeletion] = []
        try:
            for event in events:
                if isinstance(event, ParseError):
                    ctx.parse_failure(event.raw or "", event)
                elif isinstance(event, ChatMessage):
                    messages.append(event)
                elif isinstance(event, ChatDeletion):
                    deletions.append(event)
                elif event.kind == "ping":
                    send(f"PONG :{event.value}\r\n")
                elif event.kind == "joined":
                    ctx.live()
                elif event.kind == "reconnect":
                    raise ReconnectNow("Twitch asked to reconnect (RECONNECT)")
                elif event.kind == "auth_failed":
                    raise SourceGone(f"Twitch refused the login: {event.value}")
                elif event.kind == "gone":
                    raise SourceGone(f"Twitch channel {self._channel}: {event.value}")
        finally:
            if messages:
                ctx.live()
                ctx.sink.messages(messages)
            if deletions:
                ctx.sink.deletions(deletions)
