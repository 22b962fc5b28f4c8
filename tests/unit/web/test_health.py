"""/healthz, /readyz (503 naming the failed check), /metrics (Prometheus text)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from nunchi.assembly import Platform
from nunchi.errors import BusUnavailable, InvalidInput

from .conftest import AppFactory


def test_healthz_needs_nothing(open_client: TestClient) -> None:
    r = open_client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


def test_healthz_works_before_the_platform_is_open(make_app: AppFactory) -> None:
    from nunchi.web.app import create_app

    app = create_app(make_app().state.settings)  # opened at startup: not entered here
    c = TestClient(app, base_url="http://localhost", raise_server_exceptions=False)
    assert c.get("/healthz").status_code == 200
    starting = c.get("/readyz")
    assert starting.status_code == 503 and "starting" in starting.json()["error"]["message"]


def test_readyz_ok_runs_database_and_bus_checks(client: TestClient) -> None:
    r = client.get("/readyz")  # no key needed, even with auth on
    assert r.status_code == 200
    assert r.json()["checks"] == {"bus": "ok", "database": "ok"}


def test_readyz_names_the_failed_check(make_app: AppFactory) -> None:
    def bus_down() -> None:
        raise BusUnavailable("cannot reach kafka://127.0.0.1:1")

    app = make_app()
    app.state.web.readiness["bus"] = bus_down
    with TestClient(app, base_url="http://localhost") as c:
        r = c.get("/readyz")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["bus"].startswith("failed")
    assert body["error"]["code"] == "not_ready"
    assert "bus check failed" in body["error"]["message"]
    assert body["error"]["request_id"] == r.headers["x-request-id"]


def test_readyz_fails_when_the_database_is_gone(platform: Platform, make_app: AppFactory) -> None:
    from sqlalchemy.orm import sessionmaker

    from nunchi.store.db import create_engine_for
    from nunchi.web.deps import readiness_checks

    engine = create_engine_for("postgresql+psycopg://nobody@127.0.0.1:1/none")
    app = make_app()
    gone = readiness_checks(sessionmaker(engine), platform.bus)
    app.state.web.readiness["database"] = gone["database"]
    with TestClient(app, base_url="http://localhost") as c:
        r = c.get("/readyz")
    assert r.status_code == 503
    assert r.json()["checks"]["database"].startswith("failed")
    assert "nobody" not in r.text  # no connection details leak


def test_metrics_is_prometheus_text_without_auth(client: TestClient) -> None:
    client.get("/healthz")
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    assert 'nunchi_http_requests_total{method="GET",route="/healthz",status="200"}' in r.text
    assert "nunchi_stage_processed_total" in r.text or "# HELP nunchi_stage" in r.text


def test_metrics_label_route_templates_not_raw_paths(open_client: TestClient) -> None:
    open_client.get("/jobs/" + "ab" * 16)
    text = open_client.get("/metrics").text
    assert 'route="/jobs/{job_id}"' in text
    assert "ab" * 16 not in text


def test_factory_rejects_a_nonsense_body_limit(make_app: AppFactory) -> None:
    with pytest.raises(InvalidInput, match="NUNCHI_MAX_BODY_BYTES"):
        make_app(max_body_bytes=0)
