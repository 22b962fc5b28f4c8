"""Chat alerts end to end on SQLite and PostgreSQL: a negative spike opens one incident that
sends exactly one Slack message (a loopback server answering as Slack's incoming webhooks do:
``200 ok``), one e-mail (a real SMTP receiver, aiosmtpd) and one signed webhook; once the chat
calms down it resolves once and each channel gets one "resolved" notice; evaluating again, or
from a second evaluator (another process), sends nothing more."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from benchmarks._proc import free_port
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from nunchi.apps.chat.alerts import AlertEvaluator, AlertRules
from nunchi.apps.chat.app import CHAT_APP
from nunchi.apps.chat.models import ChatBroadcast, ChatWatch
from nunchi.apps.chat.services import ChatServices
from nunchi.assembly import Platform, open_platform
from nunchi.errors import NotFound
from nunchi.store.ids import new_id
from nunchi.web.app import create_app
from nunchi.webhooks.signing import load_secret, verify
from tests.integration.chat.conftest import batch, chat_settings
from tests.integration.jobs.conftest import wait_for
from tests.integration.webhooks.receiver import Receiver, running_receiver

B = "http:alerts:1"
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A loopback HTTP server recording every POST (Slack's and the webhook's); it answers
    200 ``ok``, as Slack's incoming webhooks do."""
    with running_receiver() as found:
        yield found


def posts(receiver: Receiver, path: str) -> list[tuple[dict[str, str], bytes]]:
    """Headers and body of every request the receiver got on ``path``."""
    return [(r.headers, r.body) for r in list(receiver.requests) if r.path == path]


class Mailbox:
    """An aiosmtpd handler keeping every message."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


@pytest.fixture
def alert_platform(db_url: str, tmp_path: Path, mailbox: tuple[Mailbox, int]) -> Iterator[Platform]:
    settings = chat_settings(
        tmp_path,
        db_url,
        smtp_host="127.0.0.1",
        smtp_port=mailbox[1],
        smtp_starttls=False,
        smtp_from="nunchi@example.com",
        public_url="https://nunchi.example.com",
        webhook_schedule=[0, 0.2, 0.5],
    )
    opened = open_platform(settings)
    parts = [p for p in opened.part_names() if p not in ("chat.alerts", "chat.watcher")]
    opened.start(parts)
    yield opened
    opened.stop()
    opened.close()


def count(chat: ChatServices) -> int:
    try:
        return chat.chat.broadcast(B).messages
    except NotFound:
        return 0


def minute(client: TestClient, at: datetime, n: int, text: str, start: int) -> None:
    body = batch(range(start, start + n), text=text, sent_at=at.isoformat())
    assert client.post(f"/api/v1/chat/{B}/messages", json=body).status_code == 202


def spike_rule(client: TestClient, **fields: Any) -> Any:
    """Save a negative-spike rule on ``B`` with ``fields`` (channels, cooldown); the response."""
    rule = client.post(
        "/api/v1/chat/alerts/rules", json={"kind": "negative_spike", "broadcast": B, **fields}
    )
    assert rule.status_code == 201, rule.text
    return rule


def test_a_spike_sends_one_notice_per_channel_then_one_resolved(
    alert_platform: Platform, receiver: Receiver, mailbox: tuple[Mailbox, int]
) -> None:
    chat: ChatServices = alert_platform.services(CHAT_APP)
    box = mailbox[0]
    app = create_app(alert_platform.settings, platform=alert_platform)
    with TestClient(app, base_url="http://localhost") as client:
        rule = spike_rule(
            client,
            slack=f"http://127.0.0.1:{receiver.port}/services/T000/B000/XXXX",
            email=["ops@example.com", "mod@example.com"],
            webhook=f"http://127.0.0.1:{receiver.port}/hook",
            cooldown_s=3600,
        )
        assert rule.json()["channels"]["slack"] == f"http://127.0.0.1:{receiver.port}/…"
        total = 0
        for i in range(5):  # a calm baseline: 30 messages a minute, all positive
            minute(client, T0 + timedelta(minutes=i, seconds=5), 30, "오늘 방송 재밌다 ㅋㅋ", total)
            total += 30
        minute(client, T0 + timedelta(minutes=5, seconds=5), 30, "진짜 최악이다 실망이야", total)
        total += 30
        wait_for(lambda: count(chat) == total, what="the spike stored")

        opened = chat.evaluator.evaluate(T0 + timedelta(minutes=5, seconds=50))
        assert len(opened) == 1
        # a second evaluator (as in another process) finds the incident open: nothing more
        other = AlertEvaluator(alert_platform.sessions, alert_platform.jobs)
        assert other.evaluate(T0 + timedelta(minutes=5, seconds=55)) == []
        assert chat.evaluator.evaluate(T0 + timedelta(minutes=5, seconds=58)) == []

        wait_for(lambda: len(posts(receiver, "/services/T000/B000/XXXX")) == 1, what="Slack")
        wait_for(lambda: len(box.messages) == 1, what="the e-mail")
        wait_for(lambda: len(posts(receiver, "/hook")) == 1, what="the webhook")

        _, slack_body = posts(receiver, "/services/T000/B000/XXXX")[0]
        said = json.loads(slack_body)
        assert "부정 반응 급증" in said["text"] and said["blocks"][0]["type"] == "header"
        assert f"https://nunchi.example.com/chat/live/{B}" in said["text"]
        rcpt, raw = box.messages[0]
        assert sorted(rcpt) == ["mod@example.com", "ops@example.com"]
        mail = message_from_bytes(raw)
        assert "부정 반응 급증 발생" in str(make_header(decode_header(mail["Subject"])))
        hook_headers, hook_body = posts(receiver, "/hook")[0]
        secret = load_secret(alert_platform.settings)
        verify(secret, hook_headers, hook_body)  # raises when the signature is wrong
        event = json.loads(hook_body)
        assert event["type"] == "chat.alert.opened" and event["data"]["broadcast"] == B

        alerts = client.get("/api/v1/chat/alerts", params={"broadcast": B}).json()
        assert [a["state"] for a in alerts] == ["firing"]
        wait_for(
            lambda: len(client.get("/api/v1/chat/alerts").json()[0]["notices"]) == 3,
            what="three notices recorded",
        )
        assert client.get("/api/v1/chat/alerts").json()[0]["unsent"] == []

        # the chat calms down: resolved after a minute without the condition, once
        minute(client, T0 + timedelta(minutes=6, seconds=5), 30, "오늘 방송 재밌다 ㅋㅋ", total)
        total += 30
        wait_for(lambda: count(chat) == total, what="the calm minute")
        assert chat.evaluator.evaluate(T0 + timedelta(minutes=6, seconds=30)) == []
        resolved = chat.evaluator.evaluate(T0 + timedelta(minutes=7, seconds=31))
        assert resolved == opened
        assert other.evaluate(T0 + timedelta(minutes=7, seconds=40)) == []

        wait_for(lambda: len(posts(receiver, "/services/T000/B000/XXXX")) == 2, what="Slack x2")
        wait_for(lambda: len(box.messages) == 2, what="the second e-mail")
        wait_for(lambda: len(posts(receiver, "/hook")) == 2, what="the second webhook")
        assert json.loads(posts(receiver, "/hook")[1][1])["type"] == "chat.alert.resolved"
        assert "해소" in json.loads(posts(receiver, "/services/T000/B000/XXXX")[1][1])["text"]

        # the spike again, within the cooldown: no new incident
        minute(client, T0 + timedelta(minutes=8, seconds=5), 30, "진짜 최악이다 실망이야", total)
        total += 30
        wait_for(lambda: count(chat) == total, what="the second spike")
        assert chat.evaluator.evaluate(T0 + timedelta(minutes=8, seconds=50)) == []
        alerts = client.get("/api/v1/chat/alerts", params={"broadcast": B}).json()
        assert [a["state"] for a in alerts] == ["resolved"]
        assert sorted(alerts[0]["notices"]) == [
            "opened.email", "opened.slack", "opened.webhook",
            "resolved.email", "resolved.slack", "resolved.webhook",
        ]  # fmt: skip
    assert len(posts(receiver, "/services/T000/B000/XXXX")) == 2 and len(box.messages) == 2


def test_a_notice_that_cannot_be_sent_is_listed_with_its_error(
    alert_platform: Platform, receiver: Receiver
) -> None:
    """Slack down (nothing listens on its port): the alert lists that notice as not sent,
    with its job and the connection error, beside the webhook that did go out."""
    chat: ChatServices = alert_platform.services(CHAT_APP)
    app = create_app(alert_platform.settings, platform=alert_platform)
    with TestClient(app, base_url="http://localhost") as client:
        spike_rule(
            client,
            slack=f"http://127.0.0.1:{free_port()}/services/T000/B000/XXXX",
            webhook=f"http://127.0.0.1:{receiver.port}/hook",
        )
        for i in range(5):
            at = T0 + timedelta(minutes=i, seconds=5)
            minute(client, at, 30, "오늘 방송 재밌다 ㅋㅋ", 30 * i)
        minute(client, T0 + timedelta(minutes=5, seconds=5), 30, "진짜 최악이다 실망이야", 150)
        wait_for(lambda: count(chat) == 180, what="the spike stored")
        assert len(chat.evaluator.evaluate(T0 + timedelta(minutes=5, seconds=50))) == 1

        def listed() -> dict[str, Any]:
            found: dict[str, Any] = client.get("/api/v1/chat/alerts").json()[0]
            return found

        wait_for(lambda: listed()["notices"] == ["opened.webhook"], what="the webhook notice")
        wait_for(lambda: listed()["unsent"][0]["error"], what="Slack's failed attempt")
        (unsent,) = listed()["unsent"]
        assert unsent["notice"] == "opened.slack" and unsent["status"] in ("queued", "running")
        assert alert_platform.jobs.get(unsent["job_id"]).kind == "chat.notify"
        page = client.get("/chat")
        assert page.status_code == 200 and "opened.slack" in page.text


def test_silence_and_a_failing_source_open_and_resolve_on_their_own_broadcasts(
    alert_platform: Platform, receiver: Receiver
) -> None:
    """Rules for every broadcast, evaluated together: a live watch with no chat for longer
    than ``minutes`` opens a silence incident, a failing watch a source-failing one (not the
    other way round), and both resolve once chat flows and the source is back."""
    chat: ChatServices = alert_platform.services(CHAT_APP)
    hook = f"http://127.0.0.1:{receiver.port}/hook"
    rules = AlertRules(alert_platform.sessions, alert_platform.settings, alert_platform.jobs)
    silence = rules.create("silence", params={"minutes": 3}, channels={"webhook": hook})
    failing = rules.create("source_failing", params={"minutes": 2}, channels={"webhook": hook})
    quiet, broken = "youtube:quiet:1", "chzzk:broken:1"
    seeded = ((quiet, "live", T0), (broken, "failing", T0 + timedelta(minutes=9)))
    with alert_platform.sessions.begin() as s:
        for broadcast, state, last in seeded:
            s.add(ChatBroadcast(id=broadcast, platform=broadcast.split(":")[0], channel="c",
                                first_at=T0, last_at=last))  # fmt: skip
            s.add(ChatWatch(id=new_id(), platform=broadcast.split(":")[0], url="https://x",
                            desired="running", state=state, broadcast=broadcast,
                            error="token expired" if state == "failing" else None,
                            created_at=T0, updated_at=T0))  # fmt: skip
    now = T0 + timedelta(minutes=10)
    assert len(chat.evaluator.evaluate(now)) == 2
    found = {(a["kind"], a["broadcast"]): a for a in rules.alerts()}
    assert sorted(found) == [("silence", quiet), ("source_failing", broken)]
    assert found[("source_failing", broken)]["detail"]["opened"]["error"] == "token expired"
    assert chat.evaluator.evaluate(now + timedelta(seconds=5)) == []  # still open: nothing new

    with alert_platform.sessions.begin() as s:  # chat flows again, the source is back
        for broadcast in (quiet, broken):
            row = s.get(ChatBroadcast, broadcast)
            assert row is not None
            row.last_at = now + timedelta(minutes=2)
        for watch in s.scalars(select(ChatWatch)):
            watch.state, watch.error = "live", None
    assert chat.evaluator.evaluate(now + timedelta(minutes=2)) == []  # clear for a minute first
    resolved = chat.evaluator.evaluate(now + timedelta(minutes=3, seconds=1))
    assert len(resolved) == 2
    assert {a["state"] for a in rules.alerts()} == {"resolved"}
    assert {a["rule_id"] for a in rules.alerts()} == {silence["id"], failing["id"]}
    wait_for(lambda: len(posts(receiver, "/hook")) == 4, what="two opened and two resolved")

    # nothing holds and nothing is open: one reading for every rule and broadcast
    statements: list[str] = []

    me = threading.get_ident()

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if threading.get_ident() == me:  # not the platform's own workers
            statements.append(statement)

    engine = alert_platform.core.store.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert chat.evaluator.evaluate(now + timedelta(minutes=3, seconds=30)) == []
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(statements) <= 7, statements  # rules, active (2), facts (3), open incidents


def test_rules_are_checked_when_saved(client: TestClient) -> None:
    bad = {
        "no channel": {"kind": "silence"},
        "unknown kind": {"kind": "nope", "slack": "https://hooks.slack.com/services/x"},
        "bad param": {"kind": "silence", "params": {"factor": 2}, "slack": "https://x.com/a"},
        "not a mail": {"kind": "silence", "email": ["nobody"]},
        "no mail server": {"kind": "silence", "email": ["ops@example.com"]},
        "private webhook": {"kind": "silence", "webhook": "http://10.0.0.1/hook"},
        "not http": {"kind": "silence", "slack": "file:///etc/passwd"},
    }
    for name, body in bad.items():
        r = client.post("/api/v1/chat/alerts/rules", json=body)
        assert r.status_code == 422, (name, r.text)
        assert r.json()["error"]["message"], name
    assert client.get("/api/v1/chat/alerts/rules").json() == []
    ok = client.post(
        "/api/v1/chat/alerts/rules",
        json={"kind": "profane_rate", "params": {"per_minute": 5}, "slack": "https://x.com/a"},
    )
    assert ok.status_code == 201 and ok.json()["params"] == {"per_minute": 5.0}
    rule_id = ok.json()["id"]
    off = client.post(f"/api/v1/chat/alerts/rules/{rule_id}/disable")
    assert off.status_code == 200 and off.json()["enabled"] is False
    assert client.delete(f"/api/v1/chat/alerts/rules/{rule_id}").status_code == 204
    assert client.delete(f"/api/v1/chat/alerts/rules/{rule_id}").status_code == 404


def test_the_alert_rules_form_on_the_chat_page(client: TestClient) -> None:
    page = client.get("/chat", headers={"Accept": "text/html"})
    assert page.status_code == 200 and 'id="alerts"' in page.text
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    r = client.post(
        "/chat/alerts/rules",
        data={"csrf_token": token, "kind": "profane_rate", "threshold": "7",
              "slack": "https://hooks.slack.com/services/T/B/secretpath"},
        headers={"Origin": "http://localhost"},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303, r.text
    page = client.get("/chat", headers={"Accept": "text/html"}).text
    assert "per_minute=7.0" in page and "secretpath" not in page
