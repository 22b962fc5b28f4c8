"""Reading the pages needs a login where NUNCHI_PAGES_LOGIN says so (by default: when the
server listens beyond loopback), while the login form, health and the API keep their rules."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from nunchi.assembly import Platform
from nunchi.web.keys import KeyService
from nunchi.web.origin import is_loopback_host

from .conftest import AppFactory
from .support import log_in

HTML = {"Accept": "text/html"}
PAGES = ("/jobs", "/ops", "/webhooks", "/ops/panel")


def _next_of(location: str) -> str:
    parts = urlsplit(location)
    assert parts.path == "/login" and not parts.netloc
    return parse_qs(parts.query)["next"][0]


def _log_in(c: TestClient, key: str, target: str = "/jobs") -> None:
    r = log_in(c, key, target)
    assert r.status_code == 303, r.text


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.5", False),
        ("nunchi.example", False),
        ("", False),
    ],
)
def test_loopback_hosts(host: str, expected: bool) -> None:
    assert is_loopback_host(host) is expected


def test_beyond_loopback_pages_send_browsers_to_the_login(
    keys: KeyService, platform: Platform, make_app: AppFactory
) -> None:
    job = platform.jobs.submit("diagnostic.echo", {"payload": "비밀 내용"})
    with TestClient(
        make_app(host="0.0.0.0"), raise_server_exceptions=False, base_url="http://localhost"
    ) as c:
        for path in PAGES:
            r = c.get(path, headers=HTML, follow_redirects=False)
            assert r.status_code == 303, (path, r.status_code)
            assert _next_of(r.headers["location"]) == path
        r = c.get(f"/jobs/{job.id}?lang=en", headers=HTML, follow_redirects=False)
        assert _next_of(r.headers["location"]) == f"/jobs/{job.id}?lang=en"
        assert "lang=en" in urlsplit(r.headers["location"]).query.split("&")  # English form
        assert "비밀" not in r.text

        # an htmx fragment (the Ops auto-refresh) sends the whole page to the login
        r = c.get(
            "/ops/panel",
            headers={"HX-Request": "true", "HX-Current-URL": "http://nunchi.example:8000/ops"},
        )
        assert r.status_code == 401
        assert _next_of(r.headers["HX-Redirect"]) == "/ops"
        for broken in ("http://[nunchi.example/ops", "http://nunchi.example:99999/ops"):
            r = c.get("/ops/panel", headers={"HX-Request": "true", "HX-Current-URL": broken})
            assert r.status_code == 401 and _next_of(r.headers["HX-Redirect"]) == "/jobs"
        # other clients get the error envelope, saying where to log in
        r = c.get(f"/jobs/{job.id}", headers={"Accept": "application/json"})
        assert r.status_code == 401 and "/login" in r.json()["error"]["message"]
        assert "비밀" not in r.text

        # what stays open: the login form, health, static files; the API keeps its own rule
        assert c.get("/login").status_code == 200
        assert c.get("/healthz").status_code == 200
        assert c.get("/static/nunchi.css").status_code == 200
        assert c.get("/api/v1/jobs").status_code == 401

        _, key = keys.create("reader", ["read"])
        _log_in(c, key)
        r = c.get(f"/jobs/{job.id}", headers=HTML)
        assert r.status_code == 200 and "비밀 내용" in r.text
        assert c.get("/ops/panel", headers={"HX-Request": "true"}).status_code == 200


@pytest.mark.parametrize(
    ("overrides", "login"),
    [
        ({}, False),  # the embedded default: loopback only
        ({"pages_login": "always"}, True),  # e.g. behind a reverse proxy on this machine
        ({"host": "0.0.0.0", "pages_login": "never"}, False),
        ({"auth_disabled": True, "pages_login": "always"}, False),
        ({"host": "10.0.0.7"}, True),
    ],
)
def test_the_setting_decides(
    make_app: AppFactory, overrides: dict[str, object], login: bool
) -> None:
    with TestClient(
        make_app(**overrides), raise_server_exceptions=False, base_url="http://localhost"
    ) as c:
        r = c.get("/jobs", headers=HTML, follow_redirects=False)
        assert r.status_code == (303 if login else 200), overrides


def test_a_bad_setting_is_refused_with_the_choices(make_app: AppFactory) -> None:
    with pytest.raises(ValueError, match=r"auto.*always.*never"):
        make_app(pages_login="sometimes")
