"""SOOP adapter against a loopback player API and binary chat WebSocket."""

from __future__ import annotations

import copy
import json
import threading
import urllib.parse
from typing import Any

from websockets.sync.server import ServerConnection

from nunchi.apps.chat.sources.soop import SoopSource, parse_soop_packet
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

FIXTURE = json.loads((FIXTURES / "soop" / "frames.json").read_text(encoding="utf-8"))


class Soop:
    def __init__(self) -> None:
        self.port = 0
        self.live = True
        self.connections = 0
        self.received: list[tuple[int, list[str]]] = []
        self.paths: list[str] = []
        self.subprotocols: list[str | None] = []
        self.lock = threading.Lock()

    def http(self, request: Request) -> tuple[int, Any]:
        if request.path != "/afreeca/player_live_api.php" or request.method != "POST":
            return 404, "not found"
        form = dict(urllib.parse.parse_qsl(request.body.decode()))
        assert request.query == {"bjid": "soopbj"}
        assert form == {"bid": "soopbj", "type": "live", "player_type": "html5"}
        if not self.live:
            return 200, FIXTURE["player_live_off"]
        info = copy.deepcopy(FIXTURE["player_live"])
        info["CHANNEL"]["CHDOMAIN"] = "127.0.0.1"
        info["CHANNEL"]["CHPT"] = str(self.port - 1)  # the secure socket is on CHPT + 1
        return 200, info

    def recv(self, ws: ServerConnection) -> tuple[int, list[str]]:
        packet = parse_soop_packet(bytes(ws.recv(timeout=5)))  # type: ignore[arg-type]
        self.received.append((packet.service, packet.fields))
        return packet.service, packet.fields

    def chat(self, ws: ServerConnection) -> None:
        with self.lock:
            index = self.connections
            self.connections += 1
        self.paths.append(ws.request.path if ws.request else "")
        self.subprotocols.append(ws.subprotocol)
        frames = [f.encode() for f in FIXTURE["sessions"][min(index, 1)]]
        assert self.recv(ws)[0] == 1  # login
        ws.send(frames[0])
        assert self.recv(ws)[0] == 2  # join
        for frame in frames[1:]:
            ws.send(frame)
        while self.recv(ws)[0] != 0:  # wait for a keepalive
            pass
        if index == 1:
            self.live = False  # the broadcast ends: the server closes, the API says off
        ws.close()


def test_soop_login_join_chat_balloons_keepalive_reconnect_and_end() -> None:
    soop = Soop()
    with HttpServer(soop.http) as http, ws_server(soop.chat, subprotocols=["chat"]) as chat:
        soop.port = chat.port
        source = SoopSource(
            "soopbj",
            api_base=http.base,
            chat_scheme="ws",
            net=loopback_net(),
            keepalive=0.05,
            reconnect=FAST,
            healthy_after=0,
        )
        sink = RecordingSink()
        with running(source, sink):
            sink.wait_final()

    assert soop.paths == ["/Websocket/soopbj", "/Websocket/soopbj"]
    assert soop.subprotocols == ["chat", "chat"]
    login, join = soop.received[0], soop.received[1]
    assert login == (1, ["", "", "16"])
    assert join[0] == 2 and join[1][:4] == ["12345678", "ftk-placeholder", "0", ""]
    assert (0, []) in soop.received  # keepalive

    assert sink.texts == ["안녕하세요 bj님", "오늘 방송 재밌네요", "", "", "", "다시 들어왔어요"]
    hello, second, balloon, adballoon, sub, _again = sink.received
    assert (hello.author_id, hello.author_name, hello.kind) == ("viewer1", "시청자1", "chat")
    assert second.author_id == "fan_22" and "subscriber/5" in second.badges
    assert (balloon.kind, balloon.amount, balloon.currency) == ("donation", 100, "star_balloon")
    assert balloon.author_id == "fan_22" and balloon.author_name == "열혈팬"
    assert (adballoon.amount, adballoon.currency, adballoon.author_id) == (
        500,
        "ad_balloon",
        "adfan",
    )
    assert sub.kind == "subscription" and sub.badges == ("months/3",)
    assert {m.broadcast for m in sink.received} == {"soop:soopbj:281234567"}
    assert len({m.message_id for m in sink.received}) == 6

    assert len(sink.failures) == 2  # the broken header and the chat with too few fields
    assert sink.kinds == ["connecting", "live", "reconnecting", "live", "reconnecting", "ended"]
    assert sink.states[-1].error == "the broadcast ended"


def test_soop_offline_channel_ends_at_once() -> None:
    soop = Soop()
    soop.live = False
    with HttpServer(soop.http) as http:
        source = SoopSource("soopbj", api_base=http.base, net=loopback_net(), reconnect=FAST)
        sink = RecordingSink()
        with running(source, sink):
            sink.wait_final()
    assert sink.kinds == ["connecting", "ended"]
    assert sink.states[-1].error == "the channel is not live"
