"""The shared reconnect loop of ChatSource.run, the outbound guard, and resolve_source."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from nunchi.apps.chat.sources import Net, resolve_source
from nunchi.apps.chat.sources.base import (
    ChatSource,
    ReconnectNow,
    SessionContext,
    SourceEnded,
    SourceGone,
)
from nunchi.apps.chat.sources.chzzk import ChzzkSource
from nunchi.apps.chat.sources.chzzk_official import ChzzkOpenApiSource
from nunchi.apps.chat.sources.shoppinglive import ShoppingLiveSource
from nunchi.apps.chat.sources.soop import SoopSource
from nunchi.apps.chat.sources.twitch import TwitchSource
from nunchi.apps.chat.sources.youtube import YouTubeSource
from nunchi.apps.chat.sources.youtube_api import YouTubeDataApiSource
from nunchi.errors import InvalidInput, OutboundBlocked
from nunchi.runtime.stage import RetryPolicy
from tests.integration.chat.sources.support import RecordingSink


class Scripted(ChatSource):
    """Each session does the next step of a script: an exception, 'live', or 'end'."""

    platform = "test"

    def __init__(self, steps: list[Any], **options: Any) -> None:
        super().__init__(healthy_after=0, **options)
        self.steps = steps
        self.sessions = 0

    @property
    def channel(self) -> str:
        return "ch"

    def _session(self, ctx: SessionContext) -> None:
        step = self.steps[min(self.sessions, len(self.steps) - 1)]
        self.sessions += 1
        if step == "end":
            return
        if isinstance(step, tuple):  # ("live", then-exception)
            ctx.live()
            raise step[1]
        raise step


class NoWait(threading.Event):
    """A stop flag whose waits return at once (and record the delays asked for)."""

    def __init__(self) -> None:
        super().__init__()
        self.delays: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.delays.append(timeout or 0.0)
        return self.is_set()


POLICY = RetryPolicy(max_attempts=4, base_delay=1.0, multiplier=2.0, max_delay=3.0, jitter=0.0)


def run(source: ChatSource) -> tuple[RecordingSink, NoWait]:
    sink, stop = RecordingSink(), NoWait()
    source.run(sink, stop)
    return sink, stop


def test_failures_back_off_exponentially_with_a_cap_then_give_up() -> None:
    sink, stop = run(Scripted([OSError("refused")], reconnect=POLICY))
    assert sink.kinds == ["connecting", "reconnecting", "reconnecting", "reconnecting", "failing"]
    assert [s.attempt for s in sink.states[1:]] == [1, 2, 3, 4]
    assert stop.delays == [1.0, 2.0, 3.0]  # 1, 2, then capped at 3
    assert sink.states[-1].error == "OSError: refused"


def test_a_live_session_resets_the_streak_and_reconnect_now_skips_the_wait() -> None:
    steps = [("live", OSError("drop")), ("live", ReconnectNow("asked")), ("live", SourceEnded())]
    sink, stop = run(Scripted(steps, reconnect=POLICY))
    assert sink.kinds == [
        "connecting",
        "live",
        "reconnecting",
        "live",
        "reconnecting",
        "live",
        "ended",
    ]
    assert [s.attempt for s in sink.states if s.kind == "reconnecting"] == [1, 1]
    assert stop.delays == [1.0]  # only the drop waited


def test_permanent_errors_are_not_retried() -> None:
    sink, stop = run(Scripted([SourceGone("no such channel")], reconnect=POLICY))
    assert sink.kinds == ["connecting", "failing"] and stop.delays == []
    sink, _ = run(Scripted([OutboundBlocked("private address")], reconnect=POLICY))
    assert sink.kinds == ["connecting", "failing"]


def test_stop_ends_the_watch_and_a_returning_session_means_ended() -> None:
    sink, _ = run(Scripted(["end"]))
    assert sink.kinds == ["connecting", "ended"] and sink.states[-1].error is None
    source = Scripted([OSError("x")], reconnect=POLICY)
    sink, stop = RecordingSink(), NoWait()
    stop.set()
    source.run(sink, stop)
    assert sink.kinds == ["connecting", "ended"] and sink.states[-1].error == "stopped"
    assert source.sessions == 0


def test_websocket_to_a_private_address_is_refused_by_default() -> None:
    with pytest.raises(OutboundBlocked, match="loopback"):
        Net().websocket("ws://127.0.0.1:9/chat")
    with pytest.raises(OutboundBlocked, match="scheme"):
        Net().websocket("http://example.com/")


@pytest.mark.parametrize(
    ("url", "cls", "attrs"),
    [
        ("https://www.twitch.tv/Some_Streamer", TwitchSource, {"channel": "some_streamer"}),
        ("twitch.tv/abc", TwitchSource, {"channel": "abc"}),
        (
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=1",
            YouTubeSource,
            {"video_id": "dQw4w9WgXcQ"},
        ),
        ("https://youtube.com/live/dQw4w9WgXcQ?si=x", YouTubeSource, {"video_id": "dQw4w9WgXcQ"}),
        ("https://youtu.be/dQw4w9WgXcQ", YouTubeSource, {"video_id": "dQw4w9WgXcQ"}),
        ("https://m.youtube.com/@abc/live", YouTubeSource, {"handle": "@abc"}),
        (
            "https://chzzk.naver.com/live/4f6e0f2b9a3c4d5e8f7a6b5c4d3e2f1a",
            ChzzkSource,
            {"channel": "4f6e0f2b9a3c4d5e8f7a6b5c4d3e2f1a"},
        ),
        (
            "https://play.sooplive.co.kr/soopbj/281234567",
            SoopSource,
            {"channel": "soopbj", "bno": "281234567"},
        ),
        ("http://play.afreecatv.com/OldBJ", SoopSource, {"channel": "oldbj", "bno": None}),
        ("https://shoppinglive.naver.com/lives/1234567?fm=x", ShoppingLiveSource, {"mode": "live"}),
        (
            "https://view.shoppinglive.naver.com/replays/1234567",
            ShoppingLiveSource,
            {"mode": "replay"},
        ),
    ],
)
def test_resolve_source_url_shapes(url: str, cls: type, attrs: dict[str, Any]) -> None:
    source = resolve_source(url)
    assert type(source) is cls
    for name, value in attrs.items():
        assert getattr(source, name) == value


def test_resolve_source_options_and_forced_platforms() -> None:
    api = resolve_source("https://youtu.be/dQw4w9WgXcQ", platform="youtube-api", api_key="k")
    assert isinstance(api, YouTubeDataApiSource)
    official = resolve_source(
        "https://chzzk.naver.com/live/4f6e0f2b9a3c4d5e8f7a6b5c4d3e2f1a",
        platform="chzzk-openapi",
        access_token="t",
    )
    assert isinstance(official, ChzzkOpenApiSource)
    assert official.channel == "4f6e0f2b9a3c4d5e8f7a6b5c4d3e2f1a"


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/stream",
        "ftp://twitch.tv/x",
        "https://twitch.tv/",
        "https://www.youtube.com/watch?v=short",
        "https://www.youtube.com/@name",
        "https://chzzk.naver.com/someone",
        "https://chzzk.naver.com/live/not-hex",
        "https://shoppinglive.naver.com/channels/51290",
        "https://play.sooplive.co.kr/bj/notnum",
    ],
)
def test_resolve_source_explains_what_is_supported(url: str) -> None:
    with pytest.raises(InvalidInput) as info:
        resolve_source(url)
    assert "chzzk.naver.com/live/<channelId>" in str(info.value) or "Chzzk channel id" in str(
        info.value
    )
