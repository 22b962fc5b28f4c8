"""Pure parsers for Chzzk (치지직)'s web chat: live status, access token, chat frames.

The format is not documented by Naver; it is the one the chzzk.naver.com web player speaks,
as read by the well-known unofficial clients ``chzzkpy`` (gunyu1019/chzzkpy, chat/ and
message.py) and ``chzzk`` for Node (kimcore/chzzk, src/chat): JSON frames with a ``cmd``:
0 ping / 10000 pong, 100 connect / 10100 connected (``bdy.sid``), 5101 / 15101 recent
messages (``bdy.messageList``), 93101 chat, 93102 donation and subscription, 94008 blind.
Chat items use short keys (``uid``, ``msg``, ``msgTypeCode``, ``msgTime``) and the recent list
long ones (``userId``, ``content``, ``messageTypeCode``, ``messageTime``); ``profile`` and
``extras`` are JSON inside strings. Messages have no id: ours is a hash of (user id hash,
message time), which is also what a blind names.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from nunchi.apps.chat.sources.base import ChatDeletion, ChatMessage, MessageKind, ParseError

__all__ = [
    "CMD_BLIND",
    "CMD_CHAT",
    "CMD_CONNECT",
    "CMD_CONNECTED",
    "CMD_DONATION",
    "CMD_PING",
    "CMD_PONG",
    "CMD_RECENT",
    "CMD_RECENT_REPLY",
    "ChzzkFrame",
    "ChzzkLiveStatus",
    "chat_server_url",
    "chzzk_message_id",
    "connect_frame",
    "parse_access_token",
    "parse_chzzk_frame",
    "parse_chzzk_item",
    "parse_live_status",
    "recent_frame",
]

CMD_PING, CMD_PONG = 0, 10000
CMD_CONNECT, CMD_CONNECTED = 100, 10100
CMD_RECENT, CMD_RECENT_REPLY = 5101, 15101
CMD_CHAT, CMD_DONATION, CMD_BLIND = 93101, 93102, 94008
_TYPE_KIND: dict[int, MessageKind] = {1: "chat", 10: "donation", 11: "subscription"}


def chzzk_message_id(user_id: str, message_time_ms: int) -> str:
    """The id of a Chzzk message: a hash of (user id hash, message time in ms)."""
    return hashlib.sha256(f"{user_id}\x00{message_time_ms}".encode()).hexdigest()[:24]


def chat_server_url(chat_channel_id: str) -> str:
    """The chat server the web player picks: ``kr-ss<N>``, N = sum of char codes % 9 + 1."""
    n = sum(ord(c) for c in chat_channel_id) % 9 + 1
    return f"wss://kr-ss{n}.chat.naver.com/chat"


@dataclass(frozen=True, slots=True)
class ChzzkLiveStatus:
    """``/polling/v2/channels/<id>/live-status``: OPEN or CLOSE and the chat channel id."""

    status: str
    chat_channel_id: str | None
    title: str | None = None

    @property
    def is_live(self) -> bool:
        """Whether the channel is broadcasting."""
        return self.status == "OPEN" and bool(self.chat_channel_id)


def _content(data: Any, what: str) -> Mapping[str, Any] | None:
    if not isinstance(data, Mapping):
        raise ParseError(f"{what}: answer is not a JSON object")
    code = data.get("code")
    if code not in (None, 200):
        raise ParseError(f"{what}: code {code}: {data.get('message')}")
    content = data.get("content")
    if content is None:
        return None
    if not isinstance(content, Mapping):
        raise ParseError(f"{what}: content is not an object")
    return content


def parse_live_status(data: Any) -> ChzzkLiveStatus | None:
    """The live status, or None when the channel does not exist (``content: null``)."""
    content = _content(data, "live-status")
    if content is None:
        return None
    status = content.get("status")
    if not isinstance(status, str):
        raise ParseError("live-status: no status")
    chat_id = content.get("chatChannelId")
    title = content.get("liveTitle")
    return ChzzkLiveStatus(
        status,
        chat_id if isinstance(chat_id, str) and chat_id else None,
        title if isinstance(title, str) else None,
    )


def parse_access_token(data: Any) -> str:
    """``accessToken`` of ``/v1/chats/access-token``."""
    content = _content(data, "access-token")
    token = content.get("accessToken") if content else None
    if not isinstance(token, str) or not token:
        raise ParseError("access-token: no accessToken")
    return token


def connect_frame(chat_channel_id: str, access_token: str) -> str:
    """The first frame: join ``chat_channel_id`` read-only."""
    return json.dumps(
        {
            "ver": "2",
            "cmd": CMD_CONNECT,
            "svcid": "game",
            "cid": chat_channel_id,
            "tid": 1,
            "bdy": {"uid": None, "devType": 2001, "accTkn": access_token, "auth": "READ"},
        }
    )


def recent_frame(chat_channel_id: str, sid: str, count: int) -> str:
    """Ask for the last ``count`` messages (answered with cmd 15101)."""
    return json.dumps(
        {
            "ver": "2",
            "cmd": CMD_RECENT,
            "svcid": "game",
            "cid": chat_channel_id,
            "sid": sid,
            "tid": 2,
            "bdy": {"recentMessageCount": count},
        }
    )


def _json_field(value: Any, name: str) -> dict[str, Any]:
    if value is None or value == "":
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError as e:
            raise ParseError(f"{name} is not JSON: {e}") from e
        return dict(parsed) if isinstance(parsed, Mapping) else {}
    raise ParseError(f"{name} is neither an object nor a JSON string")


def _pick(item: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if name in item and item[name] is not None:
            return item[name]
    return None


def _badges(profile: Mapping[str, Any], status: Any) -> list[str]:
    badges: list[str] = []
    role = profile.get("userRoleCode")
    if isinstance(role, str) and role and role != "common_user":
        badges.append(f"role/{role}")
    if profile.get("verifiedMark"):
        badges.append("verified")
    prop = profile.get("streamingProperty")
    sub = prop.get("subscription") if isinstance(prop, Mapping) else None
    if isinstance(sub, Mapping) and sub.get("accumulativeMonth"):
        badges.append(f"subscriber/{sub.get('accumulativeMonth')}")
    if isinstance(status, str) and status not in ("", "NORMAL"):
        badges.append(f"status/{status}")
    return badges


def parse_chzzk_item(item: Any, *, channel: str, broadcast: str) -> ChatMessage | None:
    """One chat, donation or subscription item (either key style); None for kinds we skip.
    Raises ParseError when the item is not shaped as expected."""
    if not isinstance(item, Mapping):
        raise ParseError("chat item is not an object")
    user_id = _pick(item, "uid", "userId")
    text = _pick(item, "msg", "content")
    type_code = _pick(item, "msgTypeCode", "messageTypeCode")
    when = _pick(item, "msgTime", "messageTime", "ctime", "createTime")
    if not isinstance(user_id, str) or not isinstance(when, int) or isinstance(when, bool):
        raise ParseError("chat item without a user id or a millisecond time")
    if not isinstance(type_code, int):
        raise ParseError("chat item without a message type code")
    profile = _json_field(item.get("profile"), "profile")
    extras = _json_field(item.get("extras"), "extras")
    kind = _TYPE_KIND.get(type_code, "system")
    badges = _badges(profile, _pick(item, "msgStatusType", "messageStatusType"))
    amount: int | None = None
    currency: str | None = None
    if kind == "donation":
        pay = extras.get("payAmount")
        if isinstance(pay, str) and pay.isdigit():
            pay = int(pay)
        if not isinstance(pay, int):
            raise ParseError("donation without a payAmount")
        amount, currency = pay, "KRW"
        if extras.get("isAnonymous"):
            badges.append("anonymous")
        if donation_type := extras.get("donationType"):
            badges.append(f"donation/{donation_type}")
    elif kind == "subscription":
        if month := extras.get("month"):
            badges.append(f"months/{month}")
        if tier := extras.get("tierNo"):
            badges.append(f"tier/{tier}")
    name = profile.get("nickname") or extras.get("nickname")
    if not name:
        name = "익명" if extras.get("isAnonymous") or user_id == "anonymous" else user_id
    return ChatMessage(
        platform="chzzk",
        channel=channel,
        broadcast=broadcast,
        message_id=chzzk_message_id(user_id, when),
        author_id=user_id,
        author_name=str(name),
        text=text if isinstance(text, str) else "",
        sent_at=datetime.fromtimestamp(when / 1000, UTC),
        kind=kind,
        amount=amount,
        currency=currency,
        badges=tuple(badges),
    )


@dataclass
class ChzzkFrame:
    """One parsed frame: its command, the connected session id, and the events it held.
    ``failures`` are the items that could not be parsed (the rest of the frame still is)."""

    cmd: int
    ret_code: int = 0
    sid: str | None = None
    messages: list[ChatMessage] = field(default_factory=list)
    deletions: list[ChatDeletion] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)


def parse_chzzk_frame(raw: str | bytes, *, channel: str, broadcast: str) -> ChzzkFrame:
    """Parse one WebSocket frame. Raises ParseError when it is not a command frame at all."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise ParseError(f"frame is not JSON: {e}") from e
    if not isinstance(data, Mapping) or not isinstance(data.get("cmd"), int):
        raise ParseError("frame is not an object with a numeric cmd")
    frame = ChzzkFrame(cmd=data["cmd"], ret_code=int(data.get("retCode") or 0))
    body = data.get("bdy")
    if frame.cmd == CMD_CONNECTED:
        sid = body.get("sid") if isinstance(body, Mapping) else None
        frame.sid = sid if isinstance(sid, str) else None
    elif frame.cmd in (CMD_CHAT, CMD_DONATION, CMD_RECENT_REPLY):
        items = (
            body.get("messageList")
            if frame.cmd == CMD_RECENT_REPLY and isinstance(body, Mapping)
            else body
        )
        if not isinstance(items, list):
            raise ParseError(f"cmd {frame.cmd}: body is not a list of messages")
        for item in items:
            try:
                message = parse_chzzk_item(item, channel=channel, broadcast=broadcast)
            except ParseError as e:
                frame.failures.append((json.dumps(item, ensure_ascii=False)[:400], str(e)))
                continue
            if message is not None:
                frame.messages.append(message)
    elif frame.cmd == CMD_BLIND:
        if not isinstance(body, Mapping):
            raise ParseError("blind without a body")
        user_id, when = body.get("userId"), body.get("messageTime")
        if not isinstance(user_id, str) or not isinstance(when, int):
            raise ParseError("blind without userId and messageTime")
        frame.deletions.append(
            ChatDeletion(
                "chzzk",
                channel,
                broadcast,
                datetime.now(UTC),
                message_id=chzzk_message_id(user_id, when),
                reason=f"blind/{body.get('blindType') or 'unknown'}",
            )
        )
    return frame
