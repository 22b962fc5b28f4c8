"""The jobs API on a minimal app (the jobs router, the error envelope, API keys)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from nunchi.bus.memory import MemoryBus
from nunchi.config import Settings
from nunchi.jobs.service import JobService
from nunchi.jobs.stages import job_stages
from nunchi.jobs.topics import job_requested
from nunchi.runtime.stage import Delivery, StageContext
from nunchi.store.db import session_factory
from nunchi.web.errors import install_error_handlers
from nunchi.web.keys import KeyService
from nunchi.web.routes.jobs import jobs_router
from tests.fixtures.platforms import web_state_around
from tests.integration.jobs.conftest import drain

ECHO = "diagnostic.echo"


def make_app(service: JobService, settings: Settings, keys: KeyService | None = None) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.state.settings = settings
    app.state.web = web_state_around(service, keys)
    app.include_router(jobs_router())
    return app


@pytest.fixture
def client(service: JobService) -> Iterator[TestClient]:
    with TestClient(
        make_app(service, Settings(auth_disabled=True)), base_url="http://localhost"
    ) as c:
        yield c


def fail_job(service: JobService, bus: MemoryBus, job_id: str) -> None:
    """Run the job's stage until its last attempt failed (the job needs fail_attempts >= 3)."""
    (stage,) = job_stages(service)
    assert stage.handle_batch is not None
    records = [r for r in drain(bus, job_requested(ECHO)) if r.value == job_id.encode()]
    for attempt in (1, 2, 3):
        stage.handle_batch([Delivery(records[-1], attempt)], StageContext(stage.name, bus))
    assert service.get(job_id).status == "failed"


def test_submit_then_get(client: TestClient, bus: MemoryBus) -> None:
    r = client.post("/api/v1/jobs", json={"kind": ECHO, "input": {"payload": "안녕"}})
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] == "queued" and job["input"]["payload"] == "안녕"
    assert r.headers["location"] == f"/api/v1/jobs/{job['id']}"
    got = client.get(r.headers["location"])
    assert got.status_code == 200
    assert got.json()["id"] == job["id"]
    assert [e["type"] for e in got.json()["events"]] == ["queued"]
    assert got.json()["events"][0]["actor"] == "anonymous"
    assert len(drain(bus, job_requested(ECHO))) == 1


def test_bad_submissions_are_422_with_the_envelope(client: TestClient) -> None:
    r = client.post("/api/v1/jobs", json={"kind": "nope", "input": {}})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_input"
    assert "known kinds: diagnostic.echo" in r.json()["error"]["message"]
    r = client.post("/api/v1/jobs", json={"kind": ECHO, "input": {"delay_ms": -5}})
    assert r.status_code == 422 and "delay_ms" in r.json()["error"]["message"]
    r = client.post("/api/v1/jobs", json={"input": {}})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_input"
    r = client.post("/api/v1/jobs", json={"kind": ECHO, "callback_url": "ftp://x"})
    assert r.status_code == 422 and "callback_url" in r.json()["error"]["message"]


def test_batches(client: TestClient) -> None:
    r = client.post(
        "/api/v1/batches", json={"kind": ECHO, "items": [{"payload": i} for i in range(3)]}
    )
    assert r.status_code == 202, r.text
    batch = r.json()
    assert batch["total"] == 3 and batch["counts"]["queued"] == 3
    assert r.headers["location"] == f"/api/v1/batches/{batch['id']}"
    assert client.get(r.headers["location"]).json()["counts"]["queued"] == 3
    listed = client.get("/api/v1/jobs", params={"batch": batch["id"]}).json()
    assert len(listed["items"]) == 3
    bad = client.post("/api/v1/batches", json={"kind": ECHO, "items": [{}, {"delay_ms": "x"}]})
    assert bad.status_code == 422
    assert "item 1: field 'delay_ms'" in bad.json()["error"]["message"]


def test_list_pagination_and_filters(client: TestClient) -> None:
    for i in range(5):
        client.post("/api/v1/jobs", json={"kind": ECHO, "input": {"payload": i}})
    first = client.get("/api/v1/jobs", params={"limit": 2}).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = client.get("/api/v1/jobs", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [j["input"]["payload"] for j in first["items"] + second["items"]] == [4, 3, 2, 1]
    assert client.get("/api/v1/jobs", params={"status": "failed"}).json()["items"] == []
    assert len(client.get("/api/v1/jobs", params={"kind": ECHO}).json()["items"]) == 5
    for params in ({"status": "finished"}, {"limit": 0}, {"limit": 501}, {"cursor": "x"}):
        r = client.get("/api/v1/jobs", params=params)
        assert r.status_code == 422, params
        assert r.json()["error"]["code"] == "invalid_input"


def test_unknown_ids_are_404(client: TestClient) -> None:
    missing = "0" * 32
    for path in (f"/api/v1/jobs/{missing}", f"/api/v1/batches/{missing}"):
        r = client.get(path)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert client.post(f"/api/v1/jobs/{missing}/retry").status_code == 404
    assert client.post(f"/api/v1/batches/{missing}/retry-failed").status_code == 404
    assert client.get("/api/v1/jobs/not-an-id").status_code == 422


def test_retry(client: TestClient, service: JobService, bus: MemoryBus) -> None:
    job = client.post("/api/v1/jobs", json={"kind": ECHO, "input": {"fail_attempts": 5}}).json()
    conflict = client.post(f"/api/v1/jobs/{job['id']}/retry")
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "conflict"
    fail_job(service, bus, job["id"])
    r = client.post(f"/api/v1/jobs/{job['id']}/retry")
    assert r.status_code == 202 and r.json()["status"] == "queued"
    events = client.get(f"/api/v1/jobs/{job['id']}").json()["events"]
    assert (events[-1]["type"], events[-1]["actor"]) == ("retried", "anonymous")


def test_retry_failed_batch(client: TestClient, service: JobService, bus: MemoryBus) -> None:
    batch = client.post(
        "/api/v1/batches", json={"kind": ECHO, "items": [{"fail_attempts": 5}, {}]}
    ).json()
    failing = service.list(batch=batch["id"]).items[-1]  # oldest = the first item
    fail_job(service, bus, failing.id)
    r = client.post(f"/api/v1/batches/{batch['id']}/retry-failed")
    assert r.status_code == 202
    assert r.json() == {"batch_id": batch["id"], "retried": 1}


def test_openapi_documents_the_routes(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/api/v1/jobs",
        "/api/v1/jobs/{job_id}",
        "/api/v1/batches",
        "/api/v1/batches/{batch_id}",
        "/api/v1/jobs/{job_id}/retry",
        "/api/v1/batches/{batch_id}/retry-failed",
    ):
        assert path in paths, path
    assert "202" in paths["/api/v1/jobs"]["post"]["responses"]
    assert "JobDetail" in spec["components"]["schemas"]
    status = paths["/api/v1/jobs"]["get"]["parameters"][0]
    assert status["name"] == "status"


def test_scopes_are_enforced(service: JobService, engine: Engine) -> None:
    keys = KeyService(session_factory(engine))
    _, reader = keys.create("reader", ["read"])
    _, submitter = keys.create("submitter", ["submit"])
    app = make_app(service, Settings(auth_disabled=False), keys)
    with TestClient(app, base_url="http://localhost") as c:
        body = {"kind": ECHO, "input": {}}
        assert c.post("/api/v1/jobs", json=body).status_code == 401
        as_reader = {"Authorization": f"Bearer {reader}"}
        as_submitter = {"Authorization": f"Bearer {submitter}"}
        assert c.post("/api/v1/jobs", json=body, headers=as_reader).status_code == 403
        r = c.post("/api/v1/jobs", json=body, headers=as_submitter)
        assert r.status_code == 202
        assert c.get(r.headers["location"], headers=as_reader).status_code == 200
        events = c.get(r.headers["location"], headers=as_reader).json()["events"]
        assert events[0]["actor"] == "submitter"
        assert c.get("/api/v1/jobs", headers=as_reader).status_code == 200
        assert c.get("/api/v1/jobs").status_code == 401
