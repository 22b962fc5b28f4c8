"""Twitch adapter against a loopback IRC-over-WebSocket server replaying recorded frames."""

from __future__ import annotations

import json
import threading

from websockets.sync.server import ServerConnection

from nunchi.apps.chat.sources.twitch import TwitchSource
from tests.integration.chat.sources.support import (
    FAST,
    FIXTURES,
    RecordingSink,
    hold_open,
    loopback_net,
    running,
    twitch_login,
    ws_server,
)

FIXTURE = json.loads((FIXTURES / "twitch" / "session.json").read_text(encoding="utf-8"))


class TwitchServer:
    """Plays session N of the fixture to the N-th connection and records what clients send."""

    def __init__(self) -> None:
        self.connections = 0
        self.logins: list[list[str]] = []
        self.pongs: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, ws: ServerConnection) -> None:
        with self.lock:
            index = self.connections
            self.connections += 1
        self.logins.append(twitch_login(ws))
        session = FIXTURE["sessions"][min(index, len(FIXTURE["sessions"]) - 1)]
        for frame in session:
            ws.send(frame)
            if frame.startswith("PING"):
                self.pongs.append(str(ws.recv(timeout=5)))
        if index == 0:
            ws.close()  # drop the connection: the client must reconnect
            return
        hold_open(ws)  # the last session (and the one that sent RECONNECT), until the client leaves


def test_twitch_messages_deletions_ping_and_reconnects() -> None:
    server_logic = TwitchServer()
    with ws_server(server_logic) as server:
        source = TwitchSource(
            "#Nunchi_Test",
            url=f"ws://127.0.0.1:{server.port}",
            net=loopback_net(),
            reconnect=FAST,
            healthy_after=0,
        )
        sink = RecordingSink()
        with running(source, sink):
            sink.wait(lambda s: "세 번째 연결" in s.texts, "the message of the third session")
            sink.wait(lambda s: len(s.removed) == 2, "two deletions")
        sink.wait_final()

    login = server_logic.logins[0]
    assert login[0] == "CAP REQ :twitch.tv/tags twitch.tv/commands"
    assert login[1] == "PASS SCHMOOPIIE"
    assert login[2].startswith("NICK justinfan") and login[2][14:].isdigit()
    assert login[3] == "JOIN #nunchi_test"
    assert server_logic.pongs == ["PONG :tmi.twitch.tv\r\n"]
    assert server_logic.connections == 3  # first dropped, second sent RECONNECT

    by_text = {m.text: m for m in sink.received}
    hello = by_text["안녕하세요 여러분"]
    assert (hello.author_id, hello.author_name, hello.kind) == ("101", "Mod Kim", "chat")
    assert hello.message_id == "b34ccfc7-4977-403a-8a94-33c6bac34fb8"
    assert hello.sent_at.timestamp() == 1700000000.001
    assert hello.badges == ("moderator/1",)
    assert hello.broadcast.startswith("twitch:nunchi_test:")
    cheer = by_text["Cheer250 좋은 방송!"]
    assert (cheer.kind, cheer.amount, cheer.currency) == ("donation", 250, "bits")
    assert by_text["waves"].badges == ("action",)
    sub = by_text["6개월째 구독\\s중"]  # \s is an escape in tags only, not in the text
    assert sub.kind == "subscription" and "months/6" in sub.badges and "plan/1000" in sub.badges
    notice = by_text["This room is now in slow mode. You may send messages every 30 seconds."]
    assert notice.kind == "system"
    assert len({m.broadcast for m in sink.received}) == 1

    deleted, timeout = sink.removed
    assert deleted.message_id == "3d0e9b3c-2222-4b8e-8c1d-1d2f3e4a5b6c"
    assert (timeout.author_id, timeout.reason) == ("102", "timeout 600s")

    assert len(sink.failures) == 1 and sink.failures[0][1].startswith("@@@")
    kinds = sink.kinds
    assert kinds[:2] == ["connecting", "live"]
    assert kinds[2:] == ["reconnecting", "live", "reconnecting", "live", "ended"]
    assert sink.states[2].attempt == 1 and sink.states[2].error
    assert "RECONNECT" in (sink.states[4].error or "")
