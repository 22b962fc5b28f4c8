"""YouTube adapters (web continuation polling, Data API v3) against loopback HTTP servers."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from nunchi.apps.chat.sources.youtube import YouTubeSource
from nunchi.apps.chat.sources.youtube_api import YouTubeDataApiSource
from tests.integration.chat.sources.support import (
    FAST,
    FIXTURES,
    HttpServer,
    RecordingSink,
    Request,
    loopback_net,
    running,
)

DIR = FIXTURES / "youtube"
PAGES = json.loads((DIR / "get_live_chat.json").read_text(encoding="utf-8"))["pages"]
API = json.loads((DIR / "data_api.json").read_text(encoding="utf-8"))
VIDEO = "dQw4w9WgXcQ"


class WebYouTube:
    def __init__(self, watch: str = "watch.html") -> None:
        self.watch = (DIR / watch).read_text(encoding="utf-8")
        self.asked: Counter[str] = Counter()
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: Request) -> tuple[int, Any]:
        if request.path == "/watch":
            assert request.query == {"v": VIDEO}
            return 200, self.watch
        if request.path == "/@testchannel/live":
            return 200, (DIR / "channel_live.html").read_text(encoding="utf-8")
        if request.path == "/youtubei/v1/live_chat/get_live_chat":
            assert request.query == {"key": "AIzaTestKey", "prettyPrint": "false"}
            body = json.loads(request.body)
            self.bodies.append(body)
            cont = body["continuation"]
            self.asked[cont] += 1
            n = self.asked[cont]
            if cont == "ALL-CHAT-1" and n == 1:
                return 200, "<html>temporarily not JSON</html>"
            if cont == "ALL-CHAT-1" and n == 2:
                return 200, PAGES["ALL-CHAT-1"]
            if cont == "ALL-CHAT-1":
                return 200, PAGES["ALL-CHAT-1b"]
            if cont == "ALL-CHAT-2":
                return 403, {"error": {"code": 403, "message": "expired"}}
            return 200, PAGES[cont]
        return 404, "not found"


def test_youtube_web_polling_dedupe_deletions_reload_and_end() -> None:
    yt = WebYouTube()
    with HttpServer(yt) as http:
        source = YouTubeSource(
            VIDEO,
            base_url=http.base,
            net=loopback_net(),
            min_wait=0,
            max_wait=0.05,
            reconnect=FAST,
            healthy_after=0,
        )
        sink = RecordingSink()
        with running(source, sink):
            sink.wait_final()
        assert http.count("/watch") == 2  # the expired continuation reloaded the page

    assert yt.bodies[0]["context"]["client"]["clientName"] == "WEB"
    assert yt.bodies[0]["continuation"] == "ALL-CHAT-0"  # "Live chat", not "Top chat"
    assert sink.texts == [
        "안녕하세요 😀",
        "멤버 전용 :yt:",
        "슈퍼챗 감사!",
        "",
        "1년 됐어요",
        "새로고침 후",
    ]
    hello, member, superchat, dollars, membership, _after = sink.received
    assert hello.author_id == "UCaaaaaaaaaaaaaaaaaaaaa1" and hello.author_name == "@kim"
    assert hello.badges == ("moderator",) and hello.sent_at.timestamp() == 1717000000.0
    assert hello.channel == "UCtestchannel000000000001"
    assert hello.broadcast == f"youtube:{VIDEO}"
    assert member.badges == ("member/Member (6 months)",)
    assert (superchat.kind, superchat.amount, superchat.currency) == ("donation", 10000, "KRW")
    assert (dollars.amount, dollars.currency) == (499, "USD")
    assert membership.kind == "subscription" and "months/12" in membership.badges

    retracted, banned = sink.removed
    assert retracted.message_id == member.message_id and retracted.reason == "[message retracted]"
    assert banned.author_id == "UCccccccccccccccccccccc3" and banned.message_id is None

    errors = [f[2] for f in sink.failures]  # the broken item comes once per load of page 1
    assert sum("not JSON" in e for e in errors) == 1
    assert sum("timestampUsec" in e for e in errors) == 2 and len(errors) == 3
    assert sink.kinds == ["connecting", "live", "reconnecting", "live", "ended"]
    assert "continuation refused (403)" in (sink.states[2].error or "")
    assert sink.states[-1].error == "the live chat ended"


def test_youtube_handle_whose_stream_is_over_ends() -> None:
    yt = WebYouTube("watch_ended.html")
    with HttpServer(yt) as http:
        source = YouTubeSource(
            handle="@testchannel", base_url=http.base, net=loopback_net(), reconnect=FAST
        )
        sink = RecordingSink()
        with running(source, sink):
            sink.wait_final()
    assert source.video_id == VIDEO
    assert sink.kinds == ["connecting", "ended"]
    assert sink.states[-1].error == "the stream is not live"


def test_youtube_data_api_pages_deletions_dedupe_and_offline() -> None:
    def route(request: Request) -> tuple[int, Any]:
        assert request.query["key"] == "test-api-key"
        if request.path == "/videos":
            assert request.query["id"] == VIDEO
            return 200, API["videos"]
        if request.path == "/liveChat/messages":
            assert request.query["liveChatId"] == "Cg0KC2RRdzR3OVdnWGNRKicKGFVD"
            token = request.query.get("pageToken")
            if token == "PAGE-2" and seen.setdefault("drop", 0) == 0:
                seen["drop"] = 1
                return 503, {"error": {"code": 503, "message": "backend error"}}
            return 200, API["pages"][{None: 0, "PAGE-2": 1, "PAGE-3": 2}[token]]
        return 404, "not found"

    seen: dict[str, int] = {}
    with HttpServer(route) as http:
        source = YouTubeDataApiSource(
            VIDEO,
            "test-api-key",
            base_url=http.base,
            net=loopback_net(),
            min_wait=0,
            reconnect=FAST,
            healthy_after=0,
        )
        sink = RecordingSink()
        with running(source, sink):
            sink.wait_final()

    assert sink.texts == ["API로 읽은 채팅", "화이팅"]
    text, superchat = sink.received
    assert text.badges == ("member",) and text.author_name == "김철수"
    assert text.sent_at.isoformat() == "2024-05-29T12:00:01.123000+00:00"
    assert (superchat.amount, superchat.currency, superchat.badges) == (5000, "KRW", ("moderator",))
    assert text.channel == "UCtestchannel000000000001"
    deleted, banned = sink.removed
    assert deleted.message_id == "LCC.msg1" and banned.author_id == "UCb"
    assert banned.reason == "ban/temporary"
    assert len(sink.failures) == 1  # the Super Chat without details
    assert sink.kinds == ["connecting", "live", "reconnecting", "live", "ended"]
    assert "503" in (sink.states[2].error or "")


def test_youtube_data_api_chat_ended_error_ends() -> None:
    def route(request: Request) -> tuple[int, Any]:
        if request.path == "/videos":
            return 200, API["videos"]
        return 403, API["error_ended"]

    with HttpServer(route) as http:
        source = YouTubeDataApiSource(
            VIDEO, "k", base_url=http.base, net=loopback_net(), reconnect=FAST
        )
        sink = RecordingSink()
        with running(source, sink):
            sink.wait_final()
    assert sink.kinds == ["connecting", "ended"]
    assert "liveChatEnded" in (sink.states[-1].error or "")
