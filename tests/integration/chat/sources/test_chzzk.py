"""Chzzk adapter against a loopback live-status/token HTTP server and chat WebSocket."""

from __future__ import annotations

import copy
import json
import threading
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection

from nunchi.apps.chat.sources.chzzk import ChzzkSource
from nunchi.apps.chat.sources.chzzk_parse import chzzk_message_id
from tests.integration.chat.sources.support import (
    FAST,
    FIXTURES,
    HttpServer,
    RecordingSink,
    Request,
    loopback_net,
    running,
    ws_server,
)

FIXTURE = json.loads((FIXTURES / "chzzk" / "frames.json").read_text(encoding="utf-8"))
CHANNEL = FIXTURE["channel_id"]


class Chzzk:
    """The platform's two HTTP endpoints and its chat server, driven by the fixture."""

    def __init__(self) -> None:
        self.chat_channel: str | None = "N1AbCd"
        self.connections = 0
        self.connect_frames: list[dict[str, Any]] = []
        self.recent_requests: list[dict[str, Any]] = []
        self.pongs: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def http(self, request: Request) -> tuple[int, Any]:
        if request.path == f"/polling/v2/channels/{CHANNEL}/live-status":
            status = copy.deepcopy(FIXTURE["live_status"])
            status["content"]["chatChannelId"] = self.chat_channel
            status["content"]["status"] = "OPEN" if self.chat_channel else "CLOSE"
            return 200, status
        if request.path == "/v1/chats/access-token":
            assert request.query == {"channelId": self.chat_channel, "chatType": "STREAMING"}
            token = copy.deepcopy(FIXTURE["access_token"])
            token["content"]["accessToken"] = f"token-{request.query['channelId']}"
            return 200, token
        return 404, {"code": 404, "message": "no such path"}

    def chat(self, ws: ServerConnection) -> None:
        with self.lock:
            index = self.connections
            self.connections += 1
        hello = json.loads(ws.recv(timeout=5))
        self.connect_frames.append(hello)
        connected = copy.deepcopy(FIXTURE["connected"])
        connected["cid"], connected["bdy"]["sid"] = hello["cid"], f"sid-{index}"
        ws.send(json.dumps(connected))
        self.recent_requests.append(json.loads(ws.recv(timeout=5)))
        for frame in FIXTURE[f"session{min(index, 2) + 1}"]:
            ws.send(frame if isinstance(frame, str) else json.dumps(frame, ensure_ascii=False))
            if isinstance(frame, dict) and frame.get("cmd") == 0:
                self.pongs.append(json.loads(ws.recv(timeout=5)))
        if index == 0:
            ws.close()  # dropped: the client reconnects to the same chat channel
            return
        # a new broadcast starts (index 1), then it ends (index 2)
        self.chat_channel = "N2XyZw" if index == 1 else None
        try:
            while True:
                ws.recv(timeout=10)
        except (ConnectionClosed, TimeoutError):
            pass


def test_chzzk_backfill_dedupe_blind_ping_and_chat_channel_change() -> None:
    platform = Chzzk()
    with HttpServer(platform.http) as http, ws_server(platform.chat) as chat:
        source = ChzzkSource(
            CHANNEL,
            api_base=http.base,
            game_base=http.base,
            chat_url=lambda cid: f"ws://127.0.0.1:{chat.port}/chat",
            net=loopback_net(),
            status_interval=0.05,
            end_grace=0,
            reconnect=FAST,
            healthy_after=0,
        )
        sink = RecordingSink()
        with running(source, sink):
            sink.wait_final()

    texts = sink.texts
    assert texts == [
        "방송 시작했다!",
        "첫 채팅이에요",  # backfill (15101)
        "ㅋㅋㅋㅋ 대박",  # live: the repeated "첫 채팅이에요" is dropped
        "항상 응원합니다",
        "익명 후원",
        "3개월 구독!",
        "재접속 후 채팅",  # after the drop: the backfill repeats only known messages
        "새 방송이다",  # after chatChannelId changed
    ]
    donation, anonymous, sub = sink.received[3:6]
    assert (donation.kind, donation.amount, donation.currency) == ("donation", 5000, "KRW")
    assert donation.author_name == "후원왕" and "donation/CHAT" in donation.badges
    assert (anonymous.author_id, anonymous.author_name) == ("anonymous", "익명")
    assert "anonymous" in anonymous.badges
    assert sub.kind == "subscription" and "months/3" in sub.badges
    assert "subscriber/7" in sink.received[2].badges
    first = sink.received[0]
    assert first.message_id == chzzk_message_id("a1b2c3d4e5f60718293a4b5c6d7e8f90", 1717000000000)
    assert first.broadcast == f"chzzk:{CHANNEL}:N1AbCd"
    assert sink.received[-1].broadcast == f"chzzk:{CHANNEL}:N2XyZw"

    (blind,) = sink.removed
    assert blind.message_id == sink.received[2].message_id  # the blind names (user, time)
    assert blind.reason == "blind/CBOTBLIND"

    assert len(sink.failures) == 2  # the non-JSON frame and the item without a time
    assert {f[0] for f in sink.failures} == {"chzzk"}

    assert [f["cid"] for f in platform.connect_frames] == ["N1AbCd", "N1AbCd", "N2XyZw"]
    hello = platform.connect_frames[0]
    assert hello["cmd"] == 100 and hello["bdy"]["accTkn"] == "token-N1AbCd"
    assert hello["bdy"]["auth"] == "READ"
    assert platform.connect_frames[2]["bdy"]["accTkn"] == "token-N2XyZw"
    assert (
        platform.recent_requests[0]["cmd"] == 5101 and platform.recent_requests[0]["sid"] == "sid-0"
    )
    assert platform.pongs == [{"ver": "2", "cmd": 10000}]

    assert sink.kinds == [
        "connecting",
        "live",
        "reconnecting",
        "live",
        "reconnecting",
        "live",
        "reconnecting",
        "ended",
    ]
    assert "chatChannelId changed" in (sink.states[4].error or "")
    assert sink.states[-1].error == "the broadcast ended"


def test_chzzk_channel_not_live_ends_at_once() -> None:
    platform = Chzzk()
    platform.chat_channel = None
    with HttpServer(platform.http) as http:
        source = ChzzkSource(
            CHANNEL, api_base=http.base, game_base=http.base, net=loopback_net(), reconnect=FAST
        )
        sink = RecordingSink()
        with running(source, sink):
            sink.wait_final()
    assert sink.kinds == ["connecting", "ended"]
    assert sink.states[-1].error == "the channel is not live"


def test_chzzk_unknown_channel_is_failing_without_retry() -> None:
    with HttpServer(lambda r: (200, {"code": 200, "message": None, "content": None})) as http:
        source = ChzzkSource(CHANNEL, api_base=http.base, net=loopback_net(), reconnect=FAST)
        sink = RecordingSink()
        with running(source, sink):
            sink.wait_final()
        assert http.count(f"/polling/v2/channels/{CHANNEL}/live-status") == 1
    assert sink.kinds == ["connecting", "failing"]
    assert "does not exist" in (sink.states[-1].error or "")
