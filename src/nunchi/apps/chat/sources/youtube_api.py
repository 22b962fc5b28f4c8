"""YouTube live chat through the official Data API v3 (opt-in: needs an API key, costs quota).

From Google's reference: ``videos.list`` with ``part=liveStreamingDetails`` gives
``activeLiveChatId`` (https://developers.google.com/youtube/v3/docs/videos#liveStreamingDetails)
and ``liveChatMessages.list`` (https://developers.google.com/youtube/v3/live/docs/liveChatMessages/list)
returns ``items`` (``snippet.type``: ``textMessageEvent``, ``superChatEvent``,
``superStickerEvent``, ``newSponsorEvent``, ``memberMilestoneChatEvent``,
``membershipGiftingEvent``, ``messageDeletedEvent``, ``userBannedEvent``,
``chatEndedEvent`` ...), ``nextPageToken``, ``pollingIntervalMillis`` and ``offlineAt`` once
the broadcast is over; errors ``liveChatEnded`` / ``liveChatNotFound`` / ``liveChatDisabled``
(https://developers.google.com/youtube/v3/live/docs/liveChatMessages#errors). Super Chat
amounts are ``amountMicros`` + ``currency``. The broadcast id is ``youtube:<videoId>``,
the same as the web-client adapter's.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from nunchi.apps.chat.sources._dedupe import RecentKeys
from nunchi.apps.chat.sources._money import micros_to_minor
from nunchi.apps.chat.sources._net import HttpStatusError, Net
from nunchi.apps.chat.sources.base import (
    ChatDeletion,
    ChatMessage,
    ChatSource,
    MessageKind,
    ParseError,
    SessionContext,
    SourceEnded,
    SourceGone,
)
from nunchi.errors import InvalidInput

__all__ = ["YOUTUBE_DATA_API", "ApiPage", "YouTubeDataApiSource", "parse_api_messages"]

YOUTUBE_DATA_API = "https://www.googleapis.com/youtube/v3"
_KINDS: dict[str, MessageKind] = {
    "textMessageEvent": "chat",
    "superChatEvent": "donation",
    "superStickerEvent": "donation",
    "newSponsorEvent": "subscription",
    "memberMilestoneChatEvent": "subscription",
    "membershipGiftingEvent": "subscription",
    "giftMembershipReceivedEvent": "subscription",
}
_ENDED_REASONS = frozenset({"liveChatEnded", "liveChatNotFound"})


@dataclass
class ApiPage:
    """One ``liveChatMessages.list`` answer."""

    messages: list[ChatMessage] = field(default_factory=list)
    deletions: list[ChatDeletion] = field(default_factory=list)
    next_page_token: str | None = None
    polling_interval: float | None = None
    ended: bool = False
    failures: list[tuple[str, str]] = field(default_factory=list)


def _time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ParseError("publishedAt missing")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError as e:
        raise ParseError(f"publishedAt {value!r} is not ISO-8601") from e


def _one(item: Mapping[str, Any], channel: str, broadcast: str, page: ApiPage) -> None:
    snippet = item.get("snippet") or {}
    author = item.get("authorDetails") or {}
    kind_name = snippet.get("type")
    if kind_name == "chatEndedEvent":
        page.ended = True
        return
    when = _time(snippet.get("publishedAt"))
    if kind_name == "messageDeletedEvent":
        target = (snippet.get("messageDeletedDetails") or {}).get("deletedMessageId")
        if not isinstance(target, str):
            raise ParseError("messageDeletedEvent without deletedMessageId")
        page.deletions.append(
            ChatDeletion("youtube", channel, broadcast, when, message_id=target, reason="deleted")
        )
        return
    if kind_name == "userBannedEvent":
        details = snippet.get("userBannedDetails") or {}
        user = (details.get("bannedUserDetails") or {}).get("channelId")
        if not isinstance(user, str):
            raise ParseError("userBannedEvent without bannedUserDetails.channelId")
        page.deletions.append(
            ChatDeletion(
                "youtube",
                channel,
                broadcast,
                when,
                author_id=user,
                reason=f"ban/{details.get('banType') or ''}",
            )
        )
        return
    kind = _KINDS.get(str(kind_name))
    if kind is None:
        return
    message_id = item.get("id")
    if not isinstance(message_id, str):
        raise ParseError(f"{kind_name} without id")
    badges = [
        flag
        for flag, key in (
            ("owner", "isChatOwner"),
            ("moderator", "isChatModerator"),
            ("member", "isChatSponsor"),
            ("verified", "isVerified"),
        )
        if author.get(key)
    ]
    text = snippet.get("displayMessage") or ""
    amount = currency = None
    if kind_name in ("superChatEvent", "superStickerEvent"):
        details = snippet.get("superChatDetails") or snippet.get("superStickerDetails") or {}
        micros, currency = details.get("amountMicros"), details.get("currency")
        if not isinstance(currency, str) or micros is None:
            raise ParseError(f"{kind_name} without amountMicros and currency")
        amount = micros_to_minor(int(micros), currency)
        text = details.get("userComment") or (text if kind_name == "superChatEvent" else "")
    elif kind_name == "textMessageEvent":
        text = (snippet.get("textMessageDetails") or {}).get("messageText") or text
    elif kind_name == "memberMilestoneChatEvent":
        months = (snippet.get("memberMilestoneChatDetails") or {}).get("memberMonth")
        if months:
            badges.append(f"months/{months}")
    page.messages.append(
        ChatMessage(
            "youtube",
            channel,
            broadcast,
            message_id,
            str(author.get("channelId") or ""),
            str(author.get("displayName") or ""),
            str(text),
            when,
            kind=kind,
            amount=amount,
            currency=currency,
            badges=tuple(badges),
        )
    )


def parse_api_messages(data: Any, *, channel: str, broadcast: str) -> ApiPage:
    """One ``liveChatMessages.list`` JSON answer."""
    if not isinstance(data, Mapping) or not isinstance(data.get("items", []), list):
        raise ParseError("liveChatMessages answer is not an object with items")
    page = ApiPage(
        next_page_token=data.get("nextPageToken"),
        polling_interval=(
            float(data["pollingIntervalMillis"]) / 1000
            if isinstance(data.get("pollingIntervalMillis"), int)
            else None
        ),
        ended=bool(data.get("offlineAt")),
    )
    for item in data.get("items") or ():
        try:
            if not isinstance(item, Mapping):
                raise ParseError("item is not an object")
            _one(item, channel, broadcast, page)
        except (ParseError, ValueError, TypeError) as e:
            page.failures.append((json.dumps(item, ensure_ascii=False)[:400], str(e)))
    return page


def _reason(error: HttpStatusError) -> str:
    try:
        errors = json.loads(error.body)["error"]["errors"]
        return str(errors[0].get("reason") or "")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return ""


class YouTubeDataApiSource(ChatSource):
    """A video's live chat through the Data API v3 with ``api_key``."""

    platform = "youtube"

    def __init__(
        self,
        video_id: str,
        api_key: str,
        *,
        base_url: str = YOUTUBE_DATA_API,
        net: Net | None = None,
        min_wait: float = 1.0,
        max_wait: float = 30.0,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        if not api_key:
            raise InvalidInput("the YouTube Data API source needs an API key")
        self.video_id = video_id
        self._key = api_key
        self.base_url = base_url.rstrip("/")
        self.net = net or Net()
        self.min_wait = min_wait
        self.max_wait = max_wait
        self._channel_id: str | None = None
        self._page_token: str | None = None
        self._seen = RecentKeys()

    @property
    def channel(self) -> str:
        """The channel id once known, else the video id."""
        return self._channel_id or self.video_id

    def _broadcast_hint(self) -> str | None:
        return f"youtube:{self.video_id}"

    def _url(self, path: str, **params: str) -> str:
        return f"{self.base_url}/{path}?" + urllib.parse.urlencode({**params, "key": self._key})

    def _live_chat_id(self) -> str:
        data = self.net.get_json(
            self._url("videos", part="liveStreamingDetails,snippet", id=self.video_id)
        )
        items = data.get("items") if isinstance(data, Mapping) else None
        if not items:
            raise SourceGone(f"YouTube video {self.video_id} does not exist")
        self._channel_id = (items[0].get("snippet") or {}).get("channelId") or self._channel_id
        details = items[0].get("liveStreamingDetails") or {}
        chat_id = details.get("activeLiveChatId")
        if not isinstance(chat_id, str):
            raise SourceEnded("the stream has no active live chat (ended or never live)")
        return chat_id

    def _session(self, ctx: SessionContext) -> None:
        chat_id = self._live_chat_id()
        broadcast = f"youtube:{self.video_id}"
        while not ctx.stop.is_set():
            params = {"liveChatId": chat_id, "part": "snippet,authorDetails", "maxResults": "2000"}
            if self._page_token:
                params["pageToken"] = self._page_token
            try:
                data = self.net.get_json(self._url("liveChat/messages", **params))
            except HttpStatusError as e:
                reason = _reason(e)
                if reason in _ENDED_REASONS:
                    raise SourceEnded(f"the live chat ended ({reason})") from e
                if reason == "liveChatDisabled" or (
                    e.status in (401, 403)
                    and reason in ("forbidden", "keyInvalid", "accessNotConfigured")
                ):
                    raise SourceGone(f"YouTube Data API refused: {reason or e.status}") from e
                raise
            try:
                page = parse_api_messages(data, channel=self.channel, broadcast=broadcast)
            except ParseError as e:
                ctx.parse_failure(repr(data), e)
                if ctx.wait(self.max_wait):
                    return
                continue
            ctx.live()
            for raw, error in page.failures:
                ctx.parse_failure(raw, error)
            fresh = [m for m in page.messages if self._seen.add(m.message_id)]
            if fresh:
                ctx.sink.messages(fresh)
            if page.deletions:
                ctx.sink.deletions(page.deletions)
            self._page_token = page.next_page_token or self._page_token
            if page.ended:
                raise SourceEnded("the broadcast is offline")
            wait = page.polling_interval if page.polling_interval is not None else self.min_wait
            if ctx.wait(min(self.max_wait, max(self.min_wait, wait))):
                return
