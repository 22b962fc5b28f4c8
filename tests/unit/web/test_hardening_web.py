"""Regression tests of the outside probe's web findings (issue 7): Host names (DNS rebinding),
keyless mode, cross-site requests, session-bound CSRF tokens, off-site links, bounded text
analysis, private data files, settings and access-log hygiene."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from nunchi.apps.text import TextAnalysisService, TextLimits
from nunchi.assembly import Platform
from nunchi.bus import open_configured_bus
from nunchi.config import Settings
from nunchi.errors import Busy, InvalidInput, PayloadTooLarge
from nunchi.store.store import open_store
from nunchi.web.keys import KeyService
from nunchi.web.origin import HostCheckMiddleware, host_allowed

from .conftest import AppFactory
from .support import csrf_headers, log_in, page_csrf

HTML = {"Accept": "text/html"}


# -- 2: Host names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "allowed", "served"),
    [
        ("rebind.evil:8000", [], False),
        ("127.0.0.1:8000", [], True),
        ("[::1]:8000", [], True),
        ("localhost:8000", [], True),
        ("app.localhost", [], True),
        ("10.0.0.7", [], True),  # an IP literal cannot be a rebinding name
        ("nunchi.example.com", ["nunchi.example.com"], True),
        ("NUNCHI.example.com.:443", ["nunchi.example.com"], True),
        ("a.corp.example", ["*.corp.example"], True),
        ("corp.example", ["*.corp.example"], False),
        ("evil.example", ["*"], True),
        ("", [], False),
    ],
)
def test_which_host_names_are_served(host: str, allowed: list[str], served: bool) -> None:
    assert host_allowed(host, allowed) is served


def test_a_rebinding_host_name_gets_400_on_every_route(make_app: AppFactory) -> None:
    with TestClient(make_app(), base_url="http://rebind.evil:8000") as c:
        for path in ("/webhooks", "/jobs", "/api/v1/jobs", "/healthz"):
            r = c.get(path)
            assert r.status_code == 400, path
            assert "NUNCHI_ALLOWED_HOSTS" in r.json()["error"]["message"]
    with TestClient(make_app(allowed_hosts=["rebind.evil"]), base_url="http://rebind.evil") as c:
        assert c.get("/healthz").status_code == 200


def test_the_bound_host_name_is_served(make_app: AppFactory) -> None:
    with TestClient(make_app(host="nunchi.lan"), base_url="http://nunchi.lan:8000") as c:
        assert c.get("/healthz").status_code == 200


def test_websockets_to_another_host_name_are_closed() -> None:
    async def echo(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text("hello")
        await ws.close()

    app = HostCheckMiddleware(Starlette(routes=[WebSocketRoute("/ws", echo)]), allowed=[])
    with TestClient(app, base_url="http://localhost") as c:
        with c.websocket_connect("ws://localhost/ws") as ws:
            assert ws.receive_text() == "hello"
        with pytest.raises(WebSocketDisconnect) as closed:  # noqa: SIM117
            with c.websocket_connect("ws://rebind.evil/ws") as ws:
                ws.receive_text()
        assert closed.value.code == 1008


# -- 3: keyless mode ---------------------------------------------------------------------------


def test_keyless_mode_is_refused_beyond_loopback(make_app: AppFactory) -> None:
    for host in ("0.0.0.0", "10.0.0.7", "::"):
        with pytest.raises(InvalidInput, match="loopback"):
            make_app(auth_disabled=True, host=host)
    make_app(auth_disabled=True, host="::1")


def test_nunchi_up_refuses_keyless_mode_beyond_loopback_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "NUNCHI_AUTH_DISABLED": "true", "NUNCHI_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "nunchi.cli", "up", "--host", "0.0.0.0", "--port", "1"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "NUNCHI_AUTH_DISABLED" in lines[0], done.stderr
    assert not (tmp_path / "nunchi.db").exists()  # refused before anything started


CROSS_SITE = [
    {"Origin": "http://evil.example"},
    {"Origin": "http://localhost:9999"},  # another service on this host
    {"Origin": "null"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site", "Origin": "http://localhost"},
    {"Origin": "http://[localhost"},  # not a URL Python can split: refused, never a 500
    {"Origin": "http://localhost:99999"},
]


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_keyless_api_refuses_cross_site_changes(
    open_client: TestClient, platform: Platform, headers: dict[str, str]
) -> None:
    """A cross-site auto-submitted form (no key needed in keyless mode) changes nothing."""
    r = open_client.post("/api/v1/jobs", json={"kind": "diagnostic.echo"}, headers=headers)
    assert r.status_code == 403 and "cross-site" in r.json()["error"]["message"]
    assert platform.jobs is not None and platform.jobs.list().items == []


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Origin": "http://localhost"},
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "none"},
    ],
)
def test_keyless_api_takes_changes_from_this_site_and_from_non_browsers(
    open_client: TestClient, headers: dict[str, str]
) -> None:
    r = open_client.post("/api/v1/jobs", json={"kind": "diagnostic.echo"}, headers=headers)
    assert r.status_code == 202, r.text
    assert open_client.get("/api/v1/jobs", headers={"Origin": "http://evil.example"}).is_success


# -- 4: CSRF tokens bound to the session -------------------------------------------------------


def test_a_planted_csrf_cookie_does_not_act_for_a_logged_in_admin(
    keys: KeyService, platform: Platform, client: TestClient
) -> None:
    job = platform.jobs.submit("diagnostic.echo", {})
    assert log_in(client, keys.create("admin", ["admin"])[1]).status_code == 303
    planted = "p" * 43  # what a page on another port of this host could set
    client.cookies.set("nunchi_csrf", planted)
    r = client.post(f"/jobs/{job.id}/retry", data={"csrf_token": planted})
    assert r.status_code == 403
    real = client.post(f"/jobs/{job.id}/retry", headers=csrf_headers(client))
    assert real.status_code == 409  # the token of the session is taken (the job is queued)


def test_login_from_another_site_is_refused(
    keys: KeyService, platform: Platform, client: TestClient
) -> None:
    _, key = keys.create("attacker", ["read"])
    form = {"key": key, "csrf_token": page_csrf(client, "/login"), "next": "/jobs"}
    r = client.post(
        "/login", data=form, headers={"Origin": "http://evil.example"}, follow_redirects=False
    )
    assert r.status_code == 403 and "nunchi_session" not in r.headers.get("set-cookie", "")


# -- 8: links never leave the site ----------------------------------------------------------


def test_language_links_stay_on_this_site(open_client: TestClient) -> None:
    page = open_client.get("//evil.example/x", headers=HTML).text
    assert "//evil.example" not in page.replace("&#34;", '"').split("<main", 1)[0]
    assert 'href="?lang=en"' in page


@pytest.mark.parametrize(
    ("target", "lands"),
    [
        ("/.//evil.example/", "/evil.example"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/jobs/../webhooks?status=failed", "/webhooks?status=failed"),
        ("//[evil.example/", "/"),
        ("/[::1]:99999/", "/[::1]:99999"),
    ],
)
def test_login_next_is_normalised(
    keys: KeyService, platform: Platform, client: TestClient, target: str, lands: str
) -> None:
    r = log_in(client, keys.create("k", ["read"])[1], target)
    assert r.status_code == 303 and r.headers["location"] == lands


# -- 7: bounded text analysis ----------------------------------------------------------------


def test_analysis_while_waiting_is_bounded_in_size(client: TestClient) -> None:
    texts = ["가" * 5000] * 1000  # the probe's maximal request: 5,000,000 characters
    with pytest.raises(PayloadTooLarge, match=r"text\.analyze"):
        TextAnalysisService().analyze_now(texts)
    service = TextAnalysisService(TextLimits(max_total_chars=10))
    assert service.analyze_now(["좋아요"], ["sentiment"])[0]["sentiment"]["label"]


def test_analysis_while_waiting_is_bounded_in_concurrency() -> None:
    service = TextAnalysisService(TextLimits(concurrency=1, wait_seconds=0.05))
    assert service._turns.acquire(timeout=1)  # another request holds the only turn
    try:
        with pytest.raises(Busy) as busy:
            service.analyze_now(["좋아요"], ["sentiment"])
        assert busy.value.headers["Retry-After"] == "1"
    finally:
        service._turns.release()


def test_the_api_answers_a_maximal_request_at_once_with_413(open_client: TestClient) -> None:
    r = open_client.post("/api/v1/text/analyze", json={"texts": ["a" * 5000] * 1000})
    assert r.status_code == 413 and "text.analyze" in r.json()["error"]["message"]


# -- 10: private data files ------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_data_files_are_private(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path / "data")  # type: ignore[call-arg]
    settings.ensure_data_dir()
    store = open_store(settings)
    bus = open_configured_bus(settings)
    try:
        bus.ensure_topic("t", 1)
        bus.publish("t", b"callback token")
        with store.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
            data = tmp_path / "data"
            assert _mode(data) == 0o700
            files = [p for p in data.iterdir() if p.name.startswith(("nunchi.db", "bus.db"))]
            assert {p.name for p in files} >= {"nunchi.db", "bus.db", "bus.db-wal"}
            for path in files:
                if not path.name.endswith(".lock"):
                    assert _mode(path) == 0o600, path
    finally:
        bus.close()
        store.close()


def test_files_of_an_older_version_are_tightened(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    old = data / "nunchi.db"
    old.touch()
    os.chmod(old, 0o644)
    settings = Settings(_env_file=None, data_dir=data)  # type: ignore[call-arg]
    settings.ensure_data_dir()
    open_store(settings).close()
    assert _mode(data) == 0o700 and _mode(old) == 0o600


# -- also noticed: settings and logs ---------------------------------------------------------


def test_list_settings_take_commas_or_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUNCHI_OUTBOUND_ALLOW_HOSTS", "127.0.0.1/32, hooks.internal")
    monkeypatch.setenv("NUNCHI_WEBHOOK_SCHEDULE", "[0, 5]")
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.outbound_allow_hosts == ["127.0.0.1/32", "hooks.internal"]
    assert s.webhook_schedule == [0.0, 5.0]


def test_a_bad_setting_stops_a_command_with_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "NUNCHI_WEBHOOK_SCHEDULE": "0,soon", "NUNCHI_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "nunchi.cli", "worker", "--list"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "NUNCHI_WEBHOOK_SCHEDULE" in lines[0], done.stderr


def test_access_log_lines_carry_no_query_strings() -> None:
    from nunchi.cli.up import _NoQueryStrings

    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/api/v1/jobs?api_key=nk_secret", "1.1", 200), None,
    )  # fmt: skip
    assert _NoQueryStrings().filter(record)
    assert "nk_secret" not in record.getMessage() and "/api/v1/jobs?…" in record.getMessage()
