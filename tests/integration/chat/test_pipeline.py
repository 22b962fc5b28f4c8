"""The chat pipeline through the real app on SQLite and PostgreSQL: ingest (HTTP and
WebSocket) -> chat.raw -> scoring -> chat.store, idempotent aggregates, refused batches that
store nothing, hostile text escaped on every page, a Twitch watch against a loopback IRC
server, search, export and moderator labels."""

from __future__ import annotations

import csv
import io
import json
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from websockets.sync.server import ServerConnection

from nunchi.apps.chat.live import BACKLOG, LiveView
from nunchi.apps.chat.models import ChatMessageRow, ChatMinute
from nunchi.apps.chat.services import ChatServices
from nunchi.apps.chat.topics import CHAT_RAW
from nunchi.assembly import Platform
from nunchi.errors import InvalidInput
from nunchi.web.keys import KeyService
from tests.integration.chat.conftest import CHAT_STAGES, batch
from tests.integration.chat.sources.support import (
    hold_open,
    twitch_login,
    twitch_privmsg,
    ws_server,
)
from tests.integration.jobs.conftest import drain, wait_for

HTML = {"Accept": "text/html"}
B = "http:test:1"


def stored(platform: Platform, broadcast: str = B) -> int:
    with platform.sessions() as s:
        return (
            s.scalar(
                select(func.count())
                .select_from(ChatMessageRow)
                .where(ChatMessageRow.broadcast == broadcast)
            )
            or 0
        )


def minute_total(platform: Platform, broadcast: str = B) -> int:
    with platform.sessions() as s:
        return (
            s.scalar(
                select(func.coalesce(func.sum(ChatMinute.messages), 0)).where(
                    ChatMinute.broadcast == broadcast
                )
            )
            or 0
        )


def counted(step: str) -> float:
    """The chat messages counter for ``step`` of the ``http`` platform (this process)."""
    found = REGISTRY.get_sample_value(
        "nunchi_chat_messages_total", {"step": step, "platform": "http"}
    )
    return found or 0.0


def test_ingested_chat_is_scored_stored_and_counted_once(
    platform: Platform, client: TestClient
) -> None:
    platform.start(CHAT_STAGES)
    before = {step: counted(step) for step in ("scored", "stored")}
    r = client.post(f"/api/v1/chat/{B}/messages", json=batch(range(50)))
    assert r.status_code == 202 and r.json() == {"queued": 50}
    swear = batch(range(50, 60), author="swearer", text="ㅅㅂ 진짜 개노잼")
    assert client.post(f"/api/v1/chat/{B}/messages", json=swear).status_code == 202
    # the same ids again (a client retrying a batch): stored once, counted once
    assert client.post(f"/api/v1/chat/{B}/messages", json=batch(range(40, 60))).status_code == 202
    wait_for(lambda: stored(platform) == 60 and minute_total(platform) == 60, what="60 rows")
    wait_for(lambda: client.get(f"/api/v1/chat/{B}").json()["messages"] == 60, what="figures")
    # the metrics count every message scored (the retried 20 too) and each stored once
    assert counted("scored") - before["scored"] == 80
    assert counted("stored") - before["stored"] == 60

    figures = client.get(f"/api/v1/chat/{B}").json()
    assert figures["profane"] == 10
    page = client.get(f"/api/v1/chat/{B}/messages", params={"profane": "true"}).json()
    assert len(page["items"]) == 10
    first = page["items"][0]
    assert first["author_id"] == "swearer" and first["spans"] and "ㅅㅂ" not in first["masked"]
    assert first["text"] == "ㅅㅂ 진짜 개노잼"  # the raw chat is kept
    offenders = client.get(f"/api/v1/chat/{B}/offenders").json()
    assert [o["author_id"] for o in offenders] == ["swearer"] and offenders[0]["profane"] == 10
    live = client.get(f"/chat/live/{B}", headers=HTML).text  # an offender links to their chat
    assert f"/chat/live/{B.replace(':', '%3A')}/search?author=swearer" in live
    minutes = client.get(f"/api/v1/chat/{B}/minutes").json()
    assert sum(m["messages"] for m in minutes) == 60
    assert sum(m["positive"] + m["neutral"] + m["negative"] for m in minutes) == 60
    words = {w["word"] for w in client.get(f"/api/v1/chat/{B}/keywords").json()}
    assert "방송" in words


def test_a_new_live_page_gets_its_broadcasts_backlog_beside_a_busy_one(
    platform: Platform, chat: ChatServices, client: TestClient
) -> None:
    """The first connection's backlog is the broadcast's own last BACKLOG messages, however
    many rows other broadcasts stored in between (row ids are shared)."""
    platform.start(CHAT_STAGES)
    other = "http:test:busy"
    for start in range(0, 300, 25):  # interleaved: 25 of ours, 25 of the busy one, ...
        for broadcast in (B, other):
            body = batch(range(start, start + 25))
            assert client.post(f"/api/v1/chat/{broadcast}/messages", json=body).status_code == 202
            wait_for(lambda b=broadcast, n=start + 25: stored(platform, b) == n, what=broadcast)
    names = {k: k for k in ("messages", "profane", "positive", "neutral", "negative")}
    view = LiveView(chat.chat, B, lambda template, context: "", names)
    events, _ = view(None)
    (messages,) = [e.data["messages"] for e in events if e.event == "chat"]
    assert len(messages) == BACKLOG  # was ~100: the last 200 row ids, half of them the other's


def test_row_ids_past_64_bits_are_a_422(client: TestClient) -> None:
    """Found by the API fuzz test: a row id the database cannot hold was a 500."""
    big = 2**63
    r = client.post(f"/api/v1/chat/messages/{big}/label", json={"label": "clean"})
    assert r.status_code == 422, r.text
    assert client.get(f"/api/v1/chat/{B}/messages", params={"cursor": big}).status_code == 422
    assert client.post("/api/v1/chat/messages/7/label", json={"label": "clean"}).status_code == 404


def test_refused_batches_store_nothing(platform: Platform, client: TestClient) -> None:
    platform.start(CHAT_STAGES)
    too_many = batch(range(1001))
    r = client.post(f"/api/v1/chat/{B}/messages", json=too_many)
    assert r.status_code == 413 and "1000" in r.json()["error"]["message"]
    one_bad = batch(range(5))
    one_bad["messages"][3]["text"] = 5  # strict: a number is not a text
    r = client.post(f"/api/v1/chat/{B}/messages", json=one_bad)
    assert r.status_code == 422 and "messages" in json.dumps(r.json())
    nul = batch(range(5))
    nul["messages"][2]["text"] = "a\u0000b"
    r = client.post(f"/api/v1/chat/{B}/messages", json=nul)
    assert r.status_code == 422
    r = client.post(f"/api/v1/chat/{B}/messages", json={"messages": []})
    assert r.status_code == 422 and "empty" in r.json()["error"]["message"]
    r = client.post("/api/v1/chat/has space/messages", json=batch(range(1)))
    assert r.status_code in (404, 422)
    # a good batch after the refused ones: it alone is stored
    assert client.post(f"/api/v1/chat/{B}/messages", json=batch(range(3))).status_code == 202
    wait_for(lambda: stored(platform) == 3, what="the good batch")
    assert len(drain(platform.bus, CHAT_RAW)) == 3  # nothing of the refused ones was queued


HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_hostile_chat_is_escaped_on_every_page(platform: Platform, client: TestClient) -> None:
    platform.start(CHAT_STAGES)
    body = batch(range(3), author=HOSTILE, text=HOSTILE + " ㅅㅂ")
    assert client.post(f"/api/v1/chat/{B}/messages", json=body).status_code == 202
    wait_for(lambda: stored(platform) == 3, what="stored hostile chat")
    for path in ("/chat", f"/chat/live/{B}", f"/chat/live/{B}/search?q=%3Cscript"):
        page = client.get(path, headers=HTML)
        assert page.status_code == 200, path
        assert "<script>alert" not in page.text and "<img src=x" not in page.text, path
    search = client.get(f"/chat/live/{B}/search", params={"author": HOSTILE}, headers=HTML)
    assert "&lt;script&gt;" in search.text
    api = client.get(f"/api/v1/chat/{B}/messages").json()
    assert api["items"][0]["text"] == HOSTILE + " ㅅㅂ"  # stored as sent

    rtl, long = "\u202e악성 이름", "가" * 10_000
    body = batch(range(3, 5), author=rtl, text=long)
    assert client.post(f"/api/v1/chat/{B}/messages", json=body).status_code == 202
    wait_for(lambda: stored(platform) == 5, what="the RTL and long messages")
    search = client.get(f"/chat/live/{B}/search", params={"author": rtl}, headers=HTML).text
    assert f"<bdi>{rtl}</bdi>" in search  # isolated: the override cannot flip the page
    assert long in search
    item = client.get(f"/api/v1/chat/{B}/messages", params={"author": rtl}).json()["items"][0]
    assert item["text"] == long and item["author_name"] == rtl
    too_long = batch(range(9, 10), text="가" * 20_001)
    assert client.post(f"/api/v1/chat/{B}/messages", json=too_long).status_code == 422
    surrogate = b'{"messages": [{"message_id": "s", "author_id": "a", "text": "\\ud800"}]}'
    r = client.post(
        f"/api/v1/chat/{B}/messages",
        content=surrogate,
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422
    assert stored(platform) == 5  # nothing of the refused ones


def test_websocket_ingest_answers_each_frame_and_stays_open(
    platform: Platform, client: TestClient
) -> None:
    platform.start(CHAT_STAGES)
    with client.websocket_connect(f"ws://localhost/api/v1/chat/{B}/ws") as ws:
        ws.send_text(json.dumps(batch(range(10))))
        assert ws.receive_json() == {"queued": 10}
        ws.send_text("{not json")
        assert "error" in ws.receive_json()
        ws.send_text(json.dumps({"messages": [{"message_id": "x"}]}))
        bad = ws.receive_json()
        assert "error" in bad and "author_id" in json.dumps(bad)
        ws.send_text(json.dumps(batch(range(10, 12))))
        assert ws.receive_json() == {"queued": 2}
    wait_for(lambda: stored(platform) == 12, what="12 messages from the socket")


def test_websocket_ingest_needs_a_submit_key(platform: Platform, tmp_path: Any) -> None:
    from nunchi.web.app import create_app
    from tests.integration.chat.conftest import chat_settings

    settings = chat_settings(tmp_path, platform.settings.database_url, auth_disabled=False)
    keys = KeyService(platform.sessions)
    reader = keys.create("reader", ["read"])[1]
    submitter = keys.create("bot", ["submit"])[1]
    app = create_app(settings, platform=platform)
    with TestClient(app, base_url="http://localhost") as c:
        for headers in ({}, {"Authorization": f"Bearer {reader}"}):
            try:
                with c.websocket_connect(
                    f"ws://localhost/api/v1/chat/{B}/ws", headers=headers
                ) as ws:
                    ws.receive_json()
                raise AssertionError("the socket was accepted")
            except Exception as e:  # starlette's WebSocketDisconnect carries the close code
                assert getattr(e, "code", None) in (4401, 4403, 1008), e
        with c.websocket_connect(
            f"ws://localhost/api/v1/chat/{B}/ws", headers={"Authorization": f"Bearer {submitter}"}
        ) as ws:
            ws.send_text(json.dumps(batch(range(1))))
            assert ws.receive_json() == {"queued": 1}


def test_a_twitch_watch_stores_the_channels_chat(
    platform: Platform, chat: ChatServices, client: TestClient
) -> None:
    """A loopback server speaking Twitch's IRC over WebSocket (frames as documented in
    "Twitch IRC" / tags reference): the watch logs in anonymously, joins, and every PRIVMSG
    is stored; CLEARMSG deletes one; stopping the watch closes the socket."""
    sent = threading.Event()
    lines: list[str] = []

    def twitch(ws: ServerConnection) -> None:
        lines.extend(twitch_login(ws))
        ws.send(":tmi.twitch.tv 001 justinfan123 :Welcome, GLHF!\r\n")
        ws.send(":justinfan123!justinfan123@justinfan123.tmi.twitch.tv JOIN #nunchi_test\r\n")
        for i in range(20):
            text = "ㅅㅂ 뭐야" if i % 5 == 0 else f"안녕하세요 {i}"
            user, ts = f"viewer{i % 3}", 1764583200000 + i
            ws.send(twitch_privmsg(f"msg-{i}", user, f"시청자{i % 3}", text, "nunchi_test", ts))
        ws.send(
            "@login=viewer0;room-id=1;target-msg-id=msg-5;tmi-sent-ts=1764583201000 "
            ":tmi.twitch.tv CLEARMSG #nunchi_test :ㅅㅂ 뭐야\r\n"
        )
        sent.set()
        hold_open(ws)

    platform.start([*CHAT_STAGES, "chat.watcher"])
    with ws_server(twitch) as server:
        watch = chat.chat.start_watch(
            "https://www.twitch.tv/nunchi_test", options={"url": f"ws://127.0.0.1:{server.port}"}
        )
        wait_for(lambda: chat.chat.watch(watch.id).broadcast is not None, what="a broadcast")
        broadcast = chat.chat.watch(watch.id).broadcast
        assert broadcast is not None and broadcast.startswith("twitch:nunchi_test")
        wait_for(lambda: stored(platform, broadcast) == 20, what="20 Twitch messages")
        wait_for(
            lambda: any(m.deleted for m in chat.chat.messages_after(broadcast, 0)),
            what="the CLEARMSG deletion",
        )
        assert sent.is_set() and any(line.startswith("NICK justinfan") for line in lines)
        wait_for(lambda: chat.chat.watch(watch.id).messages == 20, what="the watch's count")
        assert chat.chat.watch(watch.id).state == "live"
        deleted = [m.message_id for m in chat.chat.messages_after(broadcast, 0) if m.deleted]
        assert deleted == ["msg-5"]
        assert client.post(f"/api/v1/chat/watches/{watch.id}/stop").status_code == 200
        wait_for(lambda: chat.chat.watch(watch.id).state == "stopped", what="stopped")


def test_search_export_and_labels(platform: Platform, client: TestClient) -> None:
    platform.start(CHAT_STAGES)
    body = batch(range(4), author="a", text="좋아요 최고")
    body["messages"] += batch(range(4, 6), author="b", text="씨발 별로")["messages"]
    assert client.post(f"/api/v1/chat/{B}/messages", json=body).status_code == 202
    wait_for(lambda: stored(platform) == 6, what="6 rows")
    by_author = client.get(f"/api/v1/chat/{B}/messages", params={"author": "b"}).json()
    assert {m["author_id"] for m in by_author["items"]} == {"b"}
    paged = client.get(f"/api/v1/chat/{B}/messages", params={"limit": 4}).json()
    assert len(paged["items"]) == 4 and paged["next_cursor"] is not None
    rest = client.get(
        f"/api/v1/chat/{B}/messages", params={"limit": 4, "cursor": paged["next_cursor"]}
    ).json()
    assert len(rest["items"]) == 2 and rest["next_cursor"] is None
    assert {m["id"] for m in paged["items"]}.isdisjoint({m["id"] for m in rest["items"]})

    search = f"/chat/live/{B}/search"
    page = client.get(search, params={"since": "2026-12-01T10:00", "until": "2026-12-01T10:01"})
    assert page.text.count("좋아요 최고") == 4  # sent at 10:00:30 UTC
    later = client.get(search, params={"since": "2026-12-01T10:01:00"}, headers=HTML)
    assert "좋아요 최고" not in later.text
    assert client.get(search, params={"since": "어제"}, headers=HTML).status_code == 422

    export = client.get(f"/api/v1/chat/{B}/export.csv")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert len(rows) == 6 and {r["text"] for r in rows} == {"좋아요 최고", "씨발 별로"}

    clean = by_author["items"][0]["id"]
    r = client.post(f"/api/v1/chat/messages/{clean}/label", json={"label": "clean"})
    assert r.status_code in (200, 204), r.text
    assert (
        client.post(f"/api/v1/chat/messages/{clean}/label", json={"label": "maybe"}).status_code
        == 422
    )
    lines = client.get("/api/v1/chat/labels/export").json()["lines"]
    assert lines == ["씨발 별로|0"]


def test_replays_read_only_uploaded_recordings(
    platform: Platform, chat: ChatServices, client: TestClient, tmp_path: Any
) -> None:
    secret = tmp_path / "secret.jsonl"
    secret.write_text('{"offset_ms": 0, "author_id": "a", "text": "비밀"}\n', encoding="utf-8")
    r = client.post("/api/v1/chat/watches", json={"url": str(secret), "platform": "replay"})
    assert r.status_code == 422 and "upload the file first" in r.json()["error"]["message"]
    for name in ("../x.jsonl", "sample_chat.jsonl.gz/../../etc/passwd"):
        r = client.post("/api/v1/chat/watches", json={"url": name, "platform": "replay"})
        assert r.status_code == 422, name
    for url in ("[", "https://[www.twitch.tv/x", "https://www.twitch.tv:99999/x"):
        r = client.post("/api/v1/chat/watches", json={"url": url})  # not a URL Python can split
        assert r.status_code == 422 and "well-formed" in r.text, (url, r.text)
    for endpoint in ("wss://[irc-ws.chat.twitch.tv", "wss://irc-ws.twitch.tv:99999", "/a/path"):
        with pytest.raises(InvalidInput, match="absolute http"):  # `nunchi chat watch --endpoint`
            chat.chat.start_watch("https://www.twitch.tv/x", options={"url": endpoint})
    assert client.get("/api/v1/chat/watches").json() == []  # nothing of them stored

    bad = client.post("/api/v1/chat/recordings", files={"file": ("bad.jsonl", b"not json\n")})
    assert bad.status_code == 422 and "no usable chat line" in bad.json()["error"]["message"]
    exe = client.post("/api/v1/chat/recordings", files={"file": ("x.sh", b"echo hi\n")})
    assert exe.status_code == 422
    assert [r["name"] for r in client.get("/api/v1/chat/recordings").json()] == [
        "sample_chat.jsonl.gz"
    ]  # nothing of the refused uploads was kept

    lines = "".join(
        json.dumps({"offset_ms": i, "author_id": f"u{i}", "text": f"채팅 {i}"}) + "\n"
        for i in range(30)
    )
    up = client.post(
        "/api/v1/chat/recordings", files={"file": ("../../내 방송 녹화.jsonl", lines.encode())}
    )
    assert up.status_code == 201, up.text
    name = up.json()["name"]
    assert "/" not in name and name.endswith(".jsonl")
    platform.start([*CHAT_STAGES, "chat.watcher"])
    r = client.post("/api/v1/chat/watches", json={"url": name, "platform": "replay", "speed": 0})
    assert r.status_code == 201, r.text
    broadcast = f"replay:{r.json()['id']}"
    wait_for(lambda: stored(platform, broadcast) == 30, what="the replayed recording")
