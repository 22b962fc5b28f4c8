"""Shopping Live (live and replay comments) against a loopback HTTP server; file replay."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nunchi.apps.chat.sources.replay import ReplaySource
from nunchi.apps.chat.sources.shoppinglive import ShoppingLiveSource
from nunchi.errors import InvalidInput
from tests.integration.chat.sources.support import (
    FAST,
    FIXTURES,
    HttpServer,
    RecordingSink,
    Request,
    loopback_net,
    running,
)

SL = json.loads((FIXTURES / "shoppinglive" / "comments.json").read_text(encoding="utf-8"))
BASE = "/live_commerce_web/viewer_api_web/v1/broadcast/1234567"


def test_shoppinglive_live_feed_dedupe_on_comment_no_and_end() -> None:
    state = {"polls": 0}

    def route(request: Request) -> tuple[int, Any]:
        assert request.headers.get("x-external-service-id") == "shoppinglive"
        if request.path == BASE:
            return 200, SL["broadcast_end"] if state["polls"] >= 3 else SL["broadcast_live"]
        if request.path == BASE + "/recent-comments":
            assert request.query["size"] == "30"
            index = min(state["polls"], 2)
            assert request.query["next"] == str([0, 9002, 9003][index])
            state["polls"] += 1
            return 200, SL["recent"][index]
        return 404, {}

    with HttpServer(route) as http:
        source = ShoppingLiveSource(
            "1234567",
            api_base=http.base + "/live_commerce_web/viewer_api_web",
            net=loopback_net(),
            poll_interval=0.01,
            status_every=3,
            reconnect=FAST,
        )
        sink = RecordingSink()
        with running(source, sink):
            sink.wait_final()

    assert sink.texts == ["가격 얼마예요?", "배송 빠른가요", "쿠폰 지급 안내"]
    first, second, notice = sink.received
    assert first.message_id == "9001" and first.author_id == "u-1"
    assert first.sent_at == datetime(2024, 5, 29, 10, 1, tzinfo=UTC)
    assert second.author_id.startswith("nick:")  # no user id in the comment
    assert notice.kind == "system" and notice.badges == ("type/NOTICE",)
    assert first.broadcast == "shoppinglive:1234567"
    assert len(sink.failures) == 1 and "commentNo" in sink.failures[0][2]
    assert sink.kinds == ["connecting", "live", "ended"]


def test_shoppinglive_replay_pages_until_the_end() -> None:
    def route(request: Request) -> tuple[int, Any]:
        if request.path == BASE:
            return 200, SL["broadcast_end"]
        if request.path == BASE + "/replays/comments":
            assert request.query["size"] == "100" and request.query["slSessionId"]
            return 200, SL["replay"][0 if "lastCommentNo" not in request.query else 1]
        return 404, {}

    with HttpServer(route) as http:
        source = ShoppingLiveSource(
            "1234567",
            mode="replay",
            api_base=http.base + "/live_commerce_web/viewer_api_web",
            net=loopback_net(),
            reconnect=FAST,
        )
        sink = RecordingSink()
        with running(source, sink):
            sink.wait_final()
        assert http.requests[-1].query["lastCommentNo"] == "502"
    assert sink.texts == ["다시보기 첫 댓글", "좋아요", "마지막"]
    assert sink.kinds == ["connecting", "live", "ended"]


class FakeClock:
    """Monotonic time that moves only when the source waits (no real sleeping)."""

    def __init__(self) -> None:
        self.t = 0.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.t


class RecordingStop(threading.Event):
    """A stop flag whose waits advance the fake clock instead of sleeping."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock

    def wait(self, timeout: float | None = None) -> bool:
        if timeout:
            self.clock.waits.append(round(timeout, 6))
            self.clock.t += timeout
        return self.is_set()


@pytest.mark.parametrize("speed", [1.0, 4.0])
def test_replay_jsonl_keeps_relative_timing_and_reports_bad_lines(speed: float) -> None:
    clock = FakeClock()
    now = datetime(2030, 1, 1, tzinfo=UTC)
    source = ReplaySource(
        FIXTURES / "replay" / "recorded.jsonl",
        speed=speed,
        clock=clock,
        now=lambda: now + timedelta(seconds=clock.t),
    )
    sink = RecordingSink()
    source.run(sink, RecordingStop(clock))

    assert sink.texts == ["첫 줄", "2초 뒤", "5초 뒤"]
    assert clock.waits == [2 / speed, 3 / speed]
    first, second, third = sink.received
    assert first.message_id == "m-1" and first.badges == ("vip",)
    assert second.message_id == "recorded.jsonl:2"
    assert (second.kind, second.amount, second.currency) == ("donation", 1000, "KRW")
    assert first.sent_at == now and third.sent_at == now + timedelta(seconds=5 / speed)
    assert third.original_sent_at == datetime(2024, 5, 29, 3, 0, 5, tzinfo=UTC)
    assert first.broadcast == "replay:recorded.jsonl" and first.channel == "recorded"
    errors = [f[2] for f in sink.failures]
    assert errors[0].startswith("line 3: not valid JSON")
    assert errors[1] == "line 4: sent_at '2024-05-29T12:00:03' has no time zone"
    assert sink.kinds == ["connecting", "live", "ended"]


def test_replay_csv_offsets_as_fast_as_possible() -> None:
    source = ReplaySource(FIXTURES / "replay" / "recorded.csv", speed=0, platform="twitch")
    sink = RecordingSink()
    with running(source, sink):
        sink.wait_final()
    assert sink.texts == ["처음", "쉼표, 포함", "끝"]
    assert sink.received[0].badges == ("vip", "fan") and sink.received[0].platform == "twitch"
    assert sink.received[1].amount == 500 and sink.received[0].original_sent_at is None
    assert [f[2] for f in sink.failures] == ["line 4: offset_ms 'abc' is not a number"]


def test_replay_refuses_a_missing_file_and_negative_speed(tmp_path: Any) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        ReplaySource(tmp_path / "missing.jsonl")
    (tmp_path / "x.jsonl").write_text("")
    with pytest.raises(InvalidInput, match="speed"):
        ReplaySource(tmp_path / "x.jsonl", speed=-1)
