"""Every error leaves as the one JSON envelope, with the right status, code and request id."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from nunchi.errors import Conflict, NotFound
from nunchi.web.auth import require_scope
from nunchi.web.keys import Principal

from .conftest import AppFactory

LIMIT = 1000


class _Thing(BaseModel):
    name: str = Field(min_length=1)
    count: int = Field(ge=0)


def _probe_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1/probe")

    @router.post("/things")
    def create_thing(thing: _Thing) -> dict[str, Any]:
        return thing.model_dump()

    @router.post("/raw")
    async def raw(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @router.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret-internal-detail")

    @router.get("/conflict")
    def conflict() -> None:
        raise Conflict("the job is running; wait for it to finish before retrying")

    @router.get("/missing")
    def missing() -> None:
        raise NotFound("no job 'abc'")

    @router.get("/admin")
    def admin(who: Annotated[Principal, Depends(require_scope("admin"))]) -> dict[str, str]:
        return {"name": who.name}

    return router


@pytest.fixture
def app(make_app: AppFactory) -> FastAPI:
    app = make_app(max_body_bytes=LIMIT)
    app.include_router(_probe_router())

    def page_boom() -> None:
        raise RuntimeError("secret-internal-detail")

    app.add_api_route("/probe-page-boom", page_boom, include_in_schema=False)
    return app


@pytest.fixture
def c(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False, base_url="http://localhost") as client:
        yield client


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    err: dict[str, Any] = body["error"]
    assert err["code"] == code
    assert err["message"]
    assert err["request_id"] == response.headers["x-request-id"]
    return err


def test_malformed_json_is_400_malformed_json(c: TestClient) -> None:
    r = c.post(
        "/api/v1/probe/things",
        content=b'{"name": "a", "count": ',
        headers={"content-type": "application/json"},
    )
    err = _error(r, 400, "malformed_json")
    assert "not valid JSON" in err["message"]


def test_unknown_route_is_404_envelope(c: TestClient) -> None:
    err = _error(c.get("/api/v1/no-such-thing"), 404, "not_found")
    assert "/api/v1/no-such-thing" in err["message"]


def test_wrong_method_is_405_envelope_with_allow(c: TestClient) -> None:
    r = c.delete("/healthz")
    err = _error(r, 405, "method_not_allowed")
    assert "GET" in r.headers["allow"]
    assert "DELETE" in err["message"]


def test_validation_error_lists_fields(c: TestClient) -> None:
    r = c.post("/api/v1/probe/things", json={"name": "", "count": -1, "extra": 1})
    err = _error(r, 422, "invalid_input")
    fields = {d["field"] for d in err["details"]}
    assert fields == {"body.name", "body.count"}
    assert all(d["message"] for d in err["details"])
    assert "body.name" in err["message"] and "Fix the listed fields" in err["message"]


def test_nunchi_errors_keep_their_status_and_code(c: TestClient) -> None:
    err = _error(c.get("/api/v1/probe/conflict"), 409, "conflict")
    assert err["message"] == "the job is running; wait for it to finish before retrying"
    _error(c.get("/api/v1/probe/missing"), 404, "not_found")


def test_unexpected_error_is_500_without_internals(
    c: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="nunchi.web"):
        r = c.get("/api/v1/probe/boom")
    err = _error(r, 500, "internal_error")
    assert "secret-internal-detail" not in r.text
    assert "Traceback" not in r.text
    assert err["request_id"] in err["message"]
    logged = [rec for rec in caplog.records if err["request_id"] in rec.getMessage()]
    assert logged and logged[0].exc_info is not None  # the traceback stays server-side


def test_oversized_body_by_content_length_is_413(c: TestClient) -> None:
    r = c.post("/api/v1/probe/raw", content=b"x" * (LIMIT + 1))
    err = _error(r, 413, "payload_too_large")
    assert str(LIMIT) in err["message"]


def test_oversized_streamed_body_is_413(c: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(4):
            yield b"y" * 400

    r = c.post("/api/v1/probe/raw", content=chunks())
    assert "content-length" not in {k.lower() for k in r.request.headers}
    err = _error(r, 413, "payload_too_large")
    assert str(LIMIT) in err["message"]


def test_oversized_streamed_json_is_413_on_api_route(c: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        yield b"z" * (LIMIT + 10)
        yield b'", "count": 1}'

    r = c.post(
        "/api/v1/probe/things", content=chunks(), headers={"content-type": "application/json"}
    )
    _error(r, 413, "payload_too_large")


def test_body_at_the_limit_is_accepted(c: TestClient) -> None:
    r = c.post("/api/v1/probe/raw", content=b"x" * LIMIT)
    assert r.status_code == 200
    assert r.json() == {"bytes": LIMIT}


def test_missing_key_is_401_with_challenge(c: TestClient) -> None:
    r = c.get("/api/v1/probe/admin")
    err = _error(r, 401, "unauthorized")
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert "nunchi keys create" in err["message"]


def test_wrong_key_is_401(c: TestClient) -> None:
    r = c.get("/api/v1/probe/admin", headers={"Authorization": "Bearer nk_0123456789_" + "a" * 43})
    _error(r, 401, "unauthorized")
    assert 'error="invalid_token"' in r.headers["www-authenticate"]
    r = c.get("/api/v1/probe/admin", headers={"Authorization": "Bearer not-a-key"})
    _error(r, 401, "unauthorized")


def test_key_without_scope_is_403(c: TestClient, app: FastAPI) -> None:
    _, plaintext = app.state.web.keys.create("reader", ["read"])
    r = c.get("/api/v1/probe/admin", headers={"Authorization": f"Bearer {plaintext}"})
    err = _error(r, 403, "forbidden")
    assert "'admin'" in err["message"] and "reader" in err["message"]


def test_request_id_is_echoed_when_sane_and_made_otherwise(c: TestClient) -> None:
    r = c.get("/healthz", headers={"X-Request-ID": "trace-42.a"})
    assert r.headers["x-request-id"] == "trace-42.a"
    r = c.get("/healthz", headers={"X-Request-ID": "bad id <script>"})
    assert r.headers["x-request-id"] != "bad id <script>"
    assert len(r.headers["x-request-id"]) == 32
    r = c.get("/api/v1/no-such-thing", headers={"X-Request-ID": "err-7"})
    assert r.json()["error"]["request_id"] == "err-7"


def test_security_headers_on_every_response(c: TestClient) -> None:
    r = c.get("/healthz")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"


def test_browsers_get_an_html_error_page(c: TestClient) -> None:
    r = c.get("/jobs/0123456789abcdef0123456789abcdef", headers={"Accept": "text/html"})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["x-request-id"] in r.text
    api = c.get("/api/v1/no-such-thing", headers={"Accept": "text/html"})
    assert api.headers["content-type"].startswith("application/json")  # the API stays JSON


def test_browsers_get_an_html_500_without_internals(c: TestClient) -> None:
    r = c.get("/probe-page-boom", headers={"Accept": "text/html"})
    assert r.status_code == 500
    assert r.headers["content-type"].startswith("text/html")
    assert "secret-internal-detail" not in r.text and "Traceback" not in r.text
    assert r.headers["x-request-id"] in r.text
