"""Chzzk Open API adapter against a loopback session API and Engine.IO 3 socket."""

from __future__ import annotations

import copy
import json
import threading
import urllib.parse
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection

from nunchi.apps.chat.sources.chzzk_official import ChzzkOpenApiSource
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

FIXTURE = json.loads((FIXTURES / "chzzk" / "openapi_session.json").read_text(encoding="utf-8"))


def test_chzzk_openapi_session_subscribe_events_and_engineio_ping() -> None:
    subscribed = threading.Event()
    subscriptions: list[str] = []
    pings: list[str] = []
    pinged = threading.Event()
    paths: list[str] = []
    port = [0]

    def http(request: Request) -> tuple[int, Any]:
        assert request.headers["authorization"] == "Bearer owner-token"
        if request.path == "/open/v1/sessions/auth":
            answer = copy.deepcopy(FIXTURE["session_auth"])
            answer["content"]["url"] = f"http://127.0.0.1:{port[0]}?auth=session-auth"
            return 200, answer
        if request.path.startswith("/open/v1/sessions/events/subscribe/"):
            assert request.method == "POST" and request.query == {"sessionKey": "session-key-1"}
            subscriptions.append(request.path.rsplit("/", 1)[1])
            if len(subscriptions) == 3:
                subscribed.set()
            return 200, {"code": 200, "message": None, "content": None}
        return 404, {}

    def socket(ws: ServerConnection) -> None:
        paths.append(ws.request.path if ws.request else "")
        for frame in FIXTURE["frames"]:
            ws.send(frame)
        assert subscribed.wait(5)
        for frame in FIXTURE["after_subscribe"]:
            ws.send(frame)
        try:
            while True:
                message = str(ws.recv(timeout=10))
                if message == "2":
                    pings.append(message)
                    ws.send("3")
                    pinged.set()
        except (ConnectionClosed, TimeoutError):
            pass

    with HttpServer(http) as api, ws_server(socket) as sock:
        port[0] = sock.port
        source = ChzzkOpenApiSource(
            "owner-token", api_base=api.base, net=loopback_net(), reconnect=FAST
        )
        sink = RecordingSink()
        with running(source, sink):
            sink.wait(lambda s: len(s.received) == 3 and len(s.failures) == 1, "three events")
            assert pinged.wait(5), "no Engine.IO ping from the client"  # pingInterval: 50 ms
        sink.wait_final()

    path, _, query = paths[0].partition("?")
    assert path == "/socket.io/"
    assert urllib.parse.parse_qs(query) == {
        "auth": ["session-auth"],
        "EIO": ["3"],
        "transport": ["websocket"],
    }
    assert subscriptions == ["chat", "donation", "subscription"]
    chat, donation, sub = sink.received
    assert (chat.text, chat.author_name, chat.badges) == (
        "공식 API 채팅",
        "공식채팅러",
        ("role/streaming_chat_manager",),
    )
    assert chat.channel == "4f6e0f2b9a3c4d5e8f7a6b5c4d3e2f1a"
    assert (donation.kind, donation.amount, donation.currency) == ("donation", 2000, "KRW")
    assert (sub.kind, sub.badges) == ("subscription", ("months/4", "tier/1"))
    assert sink.kinds == ["connecting", "live", "ended"]
