"""End to end: the real app factory under uvicorn on a loopback port, services opened from
settings at startup (SQLite store and SQLite bus in tmp_path), fetched over real HTTP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from nunchi.config import Settings
from nunchi.web.app import create_app

MAX_BODY = 4096


def _wait(condition: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"server not ready within {timeout} s")
        time.sleep(0.02)


@pytest.fixture
def base_url(tmp_path: Path) -> Iterator[str]:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path / "data", auth_disabled=True, max_body_bytes=MAX_BODY
    )
    app = create_app(settings)  # no services: the app opens them on startup
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=5)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        _wait(lambda: server.started or not thread.is_alive())
        assert server.started, "uvicorn failed to start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
    assert not thread.is_alive(), "uvicorn did not shut down"


def test_pages_docs_and_health_over_http(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=10) as http:
        health = http.get("/healthz")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        ready = http.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"bus": "ok", "database": "ok"}

        docs = http.get("/docs")
        assert docs.status_code == 200
        assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in docs.text
        assert "cdn" not in docs.text.lower()
        assert http.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200
        spec = http.get("/openapi.json")
        assert spec.status_code == 200, spec.text
        assert spec.json()["info"]["title"] == "nunchi API"

        jobs = http.get("/jobs")
        assert jobs.status_code == 200 and '<html lang="ko">' in jobs.text
        assert http.get("/static/vendor/htmx.min.js").status_code == 200
        ops = http.get("/ops", params={"lang": "en"})
        assert ops.status_code == 200 and "Operations" in ops.text

        made = http.post(
            "/api/v1/jobs", json={"kind": "diagnostic.echo", "input": {"payload": "안녕"}}
        )
        assert made.status_code == 202, made.text
        job_id = made.json()["id"]
        assert f'href="/jobs/{job_id}"' in http.get("/jobs").text
        assert "&#34;안녕&#34;" in http.get(f"/jobs/{job_id}").text

        metrics = http.get("/metrics")
        assert 'route="/jobs"' in metrics.text
        assert metrics.headers["x-request-id"]


def test_streamed_oversized_body_is_refused_over_http(base_url: str) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(8):
            yield b"x" * 1024

    with httpx.Client(base_url=base_url, timeout=10) as http:
        r = http.post(
            "/api/v1/jobs", content=chunks(), headers={"content-type": "application/json"}
        )
        assert r.status_code == 413
        assert r.json()["error"]["code"] == "payload_too_large"
        big = http.post("/api/v1/jobs", content=b"{" + b" " * MAX_BODY + b"}")
        assert big.status_code == 413
        assert str(MAX_BODY) in big.json()["error"]["message"]
