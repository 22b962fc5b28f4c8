"""From a broadcast URL to the source that watches its chat."""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path
from typing import Any

from nunchi.apps.chat.sources.base import ChatSource
from nunchi.errors import InvalidInput
from nunchi.urls import split_url

__all__ = ["SUPPORTED_URLS", "resolve_source"]

SUPPORTED_URLS = (
    "https://www.twitch.tv/<channel>",
    "https://www.youtube.com/watch?v=<videoId>",
    "https://www.youtube.com/live/<videoId>",
    "https://youtu.be/<videoId>",
    "https://www.youtube.com/@<handle>/live",
    "https://chzzk.naver.com/live/<channelId>",
    "https://play.sooplive.co.kr/<bjid>[/<broadNo>] (or play.afreecatv.com/...)",
    "https://shoppinglive.naver.com/lives/<id> or /replays/<id> (also view.shoppinglive...)",
    "a recorded chat file (.jsonl / .csv) with platform='replay'",
)

_VIDEO = re.compile(r"^[A-Za-z0-9_-]{11}$")


def _unsupported(url: str, why: str) -> InvalidInput:
    shapes = "\n  ".join(SUPPORTED_URLS)
    return InvalidInput(f"cannot watch {url!r}: {why}. Supported:\n  {shapes}")


def _host(netloc: str) -> str:
    host = netloc.lower().rsplit("@", 1)[-1].split(":", 1)[0]
    return host[4:] if host.startswith("www.") else host.removeprefix("m.")


def resolve_source(url: str, /, platform: str | None = None, **options: Any) -> ChatSource:
    """The source for ``url``; ``options`` go to its constructor (``net``, ``reconnect`` ...).
    ``platform`` forces one: ``"youtube-api"`` with ``api_key=...`` for the Data API,
    ``"chzzk-openapi"`` with ``access_token=...`` for Chzzk's Open API, ``"replay"`` for a
    file path. Raises InvalidInput naming the supported URL shapes."""
    text = url.strip()
    if platform == "replay":
        from nunchi.apps.chat.sources.replay import ReplaySource

        return ReplaySource(Path(text), **options)
    if "://" not in text:
        text = "https://" + text
    parts = split_url(text)
    if parts is None:
        raise _unsupported(url, "it is not a well-formed URL")
    if parts.scheme not in ("http", "https"):
        raise _unsupported(url, f"scheme {parts.scheme!r} is not http(s)")
    host = _host(parts.netloc)
    segments = [s for s in parts.path.split("/") if s]
    query = urllib.parse.parse_qs(parts.query)

    if host == "twitch.tv":
        if len(segments) != 1 or segments[0] in ("directory", "videos", "settings"):
            raise _unsupported(url, "a Twitch URL must be twitch.tv/<channel>")
        from nunchi.apps.chat.sources.twitch import TwitchSource

        return TwitchSource(segments[0], **options)

    if host in ("youtube.com", "youtu.be", "music.youtube.com"):
        video: str | None = None
        handle: str | None = None
        if host == "youtu.be" and segments:
            video = segments[0]
        elif segments[:1] == ["watch"]:
            video = (query.get("v") or [""])[0]
        elif len(segments) == 2 and segments[0] in ("live", "shorts", "embed"):
            video = segments[1]
        elif len(segments) == 2 and segments[0].startswith("@") and segments[1] == "live":
            handle = segments[0]
        if video is not None and not _VIDEO.match(video):
            raise _unsupported(url, f"{video!r} is not a YouTube video id")
        if video is None and handle is None:
            raise _unsupported(url, "no video id or @handle/live in this YouTube URL")
        if platform == "youtube-api":
            from nunchi.apps.chat.sources.youtube_api import YouTubeDataApiSource

            if video is None:
                raise _unsupported(url, "the Data API needs a video URL, not a handle")
            return YouTubeDataApiSource(video, **options)
        from nunchi.apps.chat.sources.youtube import YouTubeSource

        return YouTubeSource(video, handle=handle, **options)

    if host == "chzzk.naver.com":
        if len(segments) != 2 or segments[0] != "live":
            raise _unsupported(url, "a Chzzk URL must be chzzk.naver.com/live/<channelId>")
        if platform == "chzzk-openapi":
            from nunchi.apps.chat.sources.chzzk_official import ChzzkOpenApiSource

            return ChzzkOpenApiSource(channel_id=segments[1], **options)
        from nunchi.apps.chat.sources.chzzk import ChzzkSource

        return ChzzkSource(segments[1], **options)

    if host in ("play.sooplive.co.kr", "play.afreecatv.com", "play.sooplive.com"):
        if len(segments) not in (1, 2) or (len(segments) == 2 and not segments[1].isdigit()):
            raise _unsupported(url, "a SOOP URL must be play.sooplive.co.kr/<bjid>[/<broadNo>]")
        from nunchi.apps.chat.sources.soop import SoopSource

        bno = segments[1] if len(segments) == 2 else None
        return SoopSource(segments[0].lower(), bno=bno, **options)

    if host in ("shoppinglive.naver.com", "view.shoppinglive.naver.com"):
        if len(segments) != 2 or segments[0] not in ("lives", "replays"):
            raise _unsupported(
                url, "a Shopping Live URL must be .../lives/<id> or .../replays/<id>"
            )
        from nunchi.apps.chat.sources.shoppinglive import ShoppingLiveSource

        if segments[0] == "lives":
            return ShoppingLiveSource(segments[1], mode="live", **options)
        return ShoppingLiveSource(segments[1], mode="replay", **options)

    raise _unsupported(url, f"{host or 'this host'} is not a supported platform")
