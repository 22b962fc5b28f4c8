"""Pure parsers for YouTube's web live chat (InnerTube ``live_chat/get_live_chat``).

The format is YouTube's internal web-client API, as read by the well-known client
``chat-downloader`` (xenova/chat-downloader, ``chat_downloader/sites/youtube.py``) and
``pytchat``: the watch page holds ``ytcfg.set({...})`` (``INNERTUBE_API_KEY``,
``INNERTUBE_CONTEXT``) and ``ytInitialData`` whose
``contents.twoColumnWatchNextResults.conversationBar.liveChatRenderer`` has the first
continuation (``header.liveChatHeaderRenderer.viewSelector.sortFilterSubMenuRenderer
.subMenuItems``: "Top chat", then "Live chat" = every message). Each
``POST /youtubei/v1/live_chat/get_live_chat?key=...`` with ``{"context", "continuation"}``
answers ``continuationContents.liveChatContinuation`` with ``actions`` and the next
continuation (``invalidationContinuationData`` / ``timedContinuationData`` with
``timeoutMs``, or ``reloadContinuationData``); no ``continuationContents`` means the chat is
over. Actions: ``addChatItemAction`` (``liveChatTextMessageRenderer``,
``liveChatPaidMessageRenderer`` = Super Chat, ``liveChatPaidStickerRenderer``,
``liveChatMembershipItemRenderer``, ``liveChatSponsorshipsGiftPurchaseAnnouncementRenderer``),
``markChatItemAsDeletedAction`` (``targetItemId``), ``markChatItemsByAuthorAsDeletedAction``
(``externalChannelId``), ``removeChatItemAction`` / ``removeChatItemByAuthorAction``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from nunchi.apps.chat.sources._money import parse_display_amount
from nunchi.apps.chat.sources.base import ChatDeletion, ChatMessage, MessageKind, ParseError

__all__ = [
    "LiveChatPage",
    "WatchPage",
    "extract_json_after",
    "parse_actions",
    "parse_live_chat_response",
    "parse_watch_page",
    "runs_text",
]


def extract_json_after(html: str, marker: str) -> Any:
    """The JSON value that follows the first ``marker`` (e.g. ``var ytInitialData =``)."""
    at = html.find(marker)
    if at < 0:
        raise ParseError(f"{marker.strip()} not found in the page")
    start = at + len(marker)
    while start < len(html) and html[start] in " \t\r\n=(":
        start += 1
    try:
        value, _ = json.JSONDecoder().raw_decode(html, start)
    except ValueError as e:
        raise ParseError(f"{marker.strip()} is not followed by JSON: {e}") from e
    return value


def _ytcfg(html: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for match in re.finditer(r"ytcfg\.set\(\s*(?=\{)", html):
        try:
            value, _ = json.JSONDecoder().raw_decode(html, match.end())
        except ValueError:
            continue
        if isinstance(value, dict):
            merged.update(value)
    return merged


def _get(data: Any, *path: str | int) -> Any:
    for key in path:
        if isinstance(key, int):
            if not isinstance(data, list) or len(data) <= key:
                return None
        elif not isinstance(data, Mapping):
            return None
        data = data[key] if isinstance(key, int) else data.get(key)
    return data


def runs_text(value: Any) -> str:
    """Text of ``{"simpleText"}`` or ``{"runs": [...]}``; emoji runs become their shortcut
    (``:smile:``) or the emoji itself."""
    if not isinstance(value, Mapping):
        return ""
    if isinstance(value.get("simpleText"), str):
        return str(value["simpleText"])
    out: list[str] = []
    for run in value.get("runs") or ():
        if not isinstance(run, Mapping):
            continue
        if "text" in run:
            out.append(str(run["text"]))
        elif isinstance(run.get("emoji"), Mapping):
            emoji = run["emoji"]
            shortcuts = emoji.get("shortcuts") or []
            if emoji.get("isCustomEmoji") and shortcuts:
                out.append(str(shortcuts[0]))
            else:
                out.append(str(emoji.get("emojiId") or (shortcuts[0] if shortcuts else "")))
    return "".join(out)


@dataclass(frozen=True, slots=True)
class WatchPage:
    """What the watch page says: ids, whether it is live, the chat's first continuation."""

    video_id: str
    channel_id: str | None
    is_live: bool
    api_key: str | None
    context: dict[str, Any]
    continuation: str | None
    chat_unavailable: str | None = None


def parse_watch_page(html: str, *, all_messages: bool = True) -> WatchPage:
    """Parse a ``/watch?v=`` page. ``all_messages`` picks the "Live chat" view over "Top chat"."""
    cfg = _ytcfg(html)
    player = extract_json_after(html, "ytInitialPlayerResponse")
    data = extract_json_after(html, "ytInitialData")
    details = _get(player, "videoDetails") or {}
    video_id = details.get("videoId")
    if not isinstance(video_id, str):
        raise ParseError("watch page: no videoDetails.videoId")
    live_now = _get(
        player, "microformat", "playerMicroformatRenderer", "liveBroadcastDetails", "isLiveNow"
    )
    renderer = _get(
        data, "contents", "twoColumnWatchNextResults", "conversationBar", "liveChatRenderer"
    )
    continuation = None
    unavailable = None
    if isinstance(renderer, Mapping):
        items = (
            _get(
                renderer,
                "header",
                "liveChatHeaderRenderer",
                "viewSelector",
                "sortFilterSubMenuRenderer",
                "subMenuItems",
            )
            or []
        )
        conts = [_get(i, "continuation", "reloadContinuationData", "continuation") for i in items]
        conts = [c for c in conts if isinstance(c, str)]
        if conts:
            continuation = conts[-1] if all_messages else conts[0]
        else:
            continuation = _first_continuation(renderer.get("continuations"))[0]
    else:
        message = _get(
            data,
            "contents",
            "twoColumnWatchNextResults",
            "conversationBar",
            "conversationBarRenderer",
            "availabilityMessage",
            "messageRenderer",
            "text",
        )
        unavailable = runs_text(message) or "this video has no live chat"
    return WatchPage(
        video_id=video_id,
        channel_id=details.get("channelId") if isinstance(details.get("channelId"), str) else None,
        is_live=bool(details.get("isLive") or live_now),
        api_key=cfg.get("INNERTUBE_API_KEY"),
        context=cfg.get("INNERTUBE_CONTEXT")
        or {
            "client": {
                "clientName": "WEB",
                "clientVersion": cfg.get("INNERTUBE_CLIENT_VERSION") or "2.20240101.00.00",
            }
        },
        continuation=continuation,
        chat_unavailable=unavailable,
    )


def _first_continuation(conts: Any) -> tuple[str | None, float | None]:
    for cont in conts or ():
        if not isinstance(cont, Mapping):
            continue
        for key in (
            "invalidationContinuationData",
            "timedContinuationData",
            "reloadContinuationData",
            "liveChatReplayContinuationData",
        ):
            inner = cont.get(key)
            if isinstance(inner, Mapping) and isinstance(inner.get("continuation"), str):
                timeout = inner.get("timeoutMs")
                return inner["continuation"], (
                    float(timeout) / 1000 if isinstance(timeout, (int, float)) else None
                )
    return None, None


@dataclass
class LiveChatPage:
    """One ``get_live_chat`` answer: its events, the next continuation and the wait.
    ``continuation`` None means the chat is over."""

    messages: list[ChatMessage] = field(default_factory=list)
    deletions: list[ChatDeletion] = field(default_factory=list)
    continuation: str | None = None
    timeout: float | None = None
    failures: list[tuple[str, str]] = field(default_factory=list)


def _badges(renderer: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for badge in renderer.get("authorBadges") or ():
        inner = _get(badge, "liveChatAuthorBadgeRenderer")
        if not isinstance(inner, Mapping):
            continue
        icon = _get(inner, "icon", "iconType")
        if isinstance(icon, str):
            out.append(icon.lower())
        elif inner.get("customThumbnail"):
            out.append(f"member/{inner.get('tooltip') or ''}".rstrip("/"))
    return out


_RENDERERS: tuple[tuple[str, MessageKind], ...] = (
    ("liveChatTextMessageRenderer", "chat"),
    ("liveChatPaidMessageRenderer", "donation"),
    ("liveChatPaidStickerRenderer", "donation"),
    ("liveChatMembershipItemRenderer", "subscription"),
    ("liveChatSponsorshipsGiftPurchaseAnnouncementRenderer", "subscription"),
)


def _item(item: Mapping[str, Any], channel: str, broadcast: str) -> ChatMessage | None:
    found = next(
        ((name, kind) for name, kind in _RENDERERS if isinstance(item.get(name), Mapping)), None
    )
    if found is None:
        return None
    name, kind = found
    renderer: Mapping[str, Any] = item[name]
    if name == "liveChatSponsorshipsGiftPurchaseAnnouncementRenderer":
        header = _get(renderer, "header", "liveChatSponsorshipsHeaderRenderer") or {}
        author_name = runs_text(header.get("authorName"))
        text = runs_text(header.get("primaryText"))
        badges = ["gift", *_badges(header)]
    else:
        author_name = runs_text(renderer.get("authorName"))
        text = runs_text(renderer.get("message"))
        badges = _badges(renderer)
        if name == "liveChatMembershipItemRenderer":
            sub = runs_text(renderer.get("headerSubtext")) or runs_text(
                renderer.get("headerPrimaryText")
            )
            text = text or sub
            if months := re.search(r"(\d+)", runs_text(renderer.get("headerPrimaryText"))):
                badges.append(f"months/{months.group(1)}")
    message_id, author, usec = (
        renderer.get("id"),
        renderer.get("authorExternalChannelId"),
        renderer.get("timestampUsec"),
    )
    if not isinstance(message_id, str) or not isinstance(usec, (str, int)):
        raise ParseError(f"{name} without id or timestampUsec")
    try:
        sent_at = datetime.fromtimestamp(int(usec) / 1_000_000, UTC)
    except (ValueError, OverflowError) as e:
        raise ParseError(f"{name}: timestampUsec {usec!r} is not a number") from e
    amount = currency = None
    if kind == "donation":
        parsed = parse_display_amount(runs_text(renderer.get("purchaseAmountText")))
        if parsed is None:
            raise ParseError(f"{name} without a purchase amount")
        amount, currency = parsed
        if name == "liveChatPaidStickerRenderer":
            badges.append("sticker")
    return ChatMessage(
        "youtube",
        channel,
        broadcast,
        message_id,
        str(author or ""),
        author_name or str(author or ""),
        text,
        sent_at,
        kind=kind,
        amount=amount,
        currency=currency,
        badges=tuple(badges),
    )


def parse_actions(
    actions: Any, *, channel: str, broadcast: str, page: LiveChatPage | None = None
) -> LiveChatPage:
    """Turn an ``actions`` list into messages and deletions (bad ones go to ``failures``)."""
    out = page or LiveChatPage()
    now = datetime.now(UTC)
    for action in actions or ():
        if not isinstance(action, Mapping):
            out.failures.append((repr(action)[:400], "action is not an object"))
            continue
        try:
            add = action.get("addChatItemAction")
            if isinstance(add, Mapping):
                message = _item(add.get("item") or {}, channel, broadcast)
                if message is not None:
                    out.messages.append(message)
                continue
            for key, target, by in (
                ("markChatItemAsDeletedAction", "targetItemId", "message"),
                ("removeChatItemAction", "targetItemId", "message"),
                ("markChatItemsByAuthorAsDeletedAction", "externalChannelId", "author"),
                ("removeChatItemByAuthorAction", "externalChannelId", "author"),
            ):
                inner = action.get(key)
                if not isinstance(inner, Mapping):
                    continue
                value = inner.get(target)
                if not isinstance(value, str):
                    raise ParseError(f"{key} without {target}")
                reason = runs_text(inner.get("deletedStateMessage")) or key
                out.deletions.append(
                    ChatDeletion(
                        "youtube",
                        channel,
                        broadcast,
                        now,
                        message_id=value if by == "message" else None,
                        author_id=value if by == "author" else None,
                        reason=reason,
                    )
                )
                break
        except ParseError as e:
            out.failures.append((json.dumps(action, ensure_ascii=False)[:400], str(e)))
    return out


def parse_live_chat_response(data: Any, *, channel: str, broadcast: str) -> LiveChatPage:
    """One ``get_live_chat`` JSON answer. Raises ParseError when it is not one."""
    if not isinstance(data, Mapping):
        raise ParseError("get_live_chat answer is not an object")
    contents = _get(data, "continuationContents", "liveChatContinuation")
    if contents is None:
        if "responseContext" not in data:
            raise ParseError("get_live_chat answer has neither responseContext nor contents")
        return LiveChatPage()  # no continuation: the chat is over
    if not isinstance(contents, Mapping):
        raise ParseError("liveChatContinuation is not an object")
    page = LiveChatPage()
    page.continuation, page.timeout = _first_continuation(contents.get("continuations"))
    return parse_actions(contents.get("actions"), channel=channel, broadcast=broadcast, page=page)
