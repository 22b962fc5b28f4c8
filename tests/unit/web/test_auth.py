"""require_scope: bearer keys, scope implications, revocation and disabled auth."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from nunchi.web.auth import AdminPrincipal, ReadPrincipal, SubmitPrincipal, require_scope

from .conftest import AppFactory


def _router() -> APIRouter:
    router = APIRouter(prefix="/api/v1/probe")

    @router.get("/admin")
    def admin(who: AdminPrincipal) -> dict[str, str]:
        return {"name": who.name}

    @router.get("/submit")
    def submit(who: SubmitPrincipal) -> dict[str, str]:
        return {"name": who.name}

    @router.get("/read")
    def read(who: ReadPrincipal) -> dict[str, str]:
        return {"name": who.name}

    return router


def _app(make_app: AppFactory, **overrides: object) -> FastAPI:
    app = make_app(**overrides)
    app.include_router(_router())
    return app


@pytest.mark.parametrize(
    ("granted", "allowed"),
    [
        (["admin"], {"admin", "submit", "read"}),
        (["submit"], {"submit", "read"}),
        (["read"], {"read"}),
    ],
)
def test_scopes_and_their_implications(
    make_app: AppFactory, granted: list[str], allowed: set[str]
) -> None:
    app = _app(make_app)
    _, plaintext = app.state.web.keys.create("k", granted)
    auth = {"Authorization": f"Bearer {plaintext}"}
    with TestClient(app, raise_server_exceptions=False, base_url="http://localhost") as c:
        for scope in ("admin", "submit", "read"):
            r = c.get(f"/api/v1/probe/{scope}", headers=auth)
            expected = 200 if scope in allowed else 403
            assert r.status_code == expected, (scope, r.text)
            if expected == 200:
                assert r.json() == {"name": "k"}


def test_revoked_key_is_refused(make_app: AppFactory) -> None:
    app = _app(make_app)
    info, plaintext = app.state.web.keys.create("gone", ["admin"])
    auth = {"Authorization": f"Bearer {plaintext}"}
    with TestClient(app, raise_server_exceptions=False, base_url="http://localhost") as c:
        assert c.get("/api/v1/probe/read", headers=auth).status_code == 200
        app.state.web.keys.revoke(info.id)
        r = c.get("/api/v1/probe/read", headers=auth)
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "unauthorized"
        assert "revoked" in r.json()["error"]["message"]


def test_other_schemes_count_as_missing(make_app: AppFactory) -> None:
    app = _app(make_app)
    _, plaintext = app.state.web.keys.create("k", ["admin"])
    with TestClient(app, raise_server_exceptions=False, base_url="http://localhost") as c:
        r = c.get("/api/v1/probe/read", headers={"Authorization": f"Basic {plaintext}"})
        assert r.status_code == 401
        assert r.headers["www-authenticate"].startswith("Bearer")


def test_disabled_auth_acts_as_anonymous(make_app: AppFactory) -> None:
    app = _app(make_app, auth_disabled=True)
    with TestClient(app, raise_server_exceptions=False, base_url="http://localhost") as c:
        for scope in ("admin", "submit", "read"):
            r = c.get(f"/api/v1/probe/{scope}")
            assert r.status_code == 200
            assert r.json() == {"name": "anonymous"}


def test_unknown_scope_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown scope"):
        require_scope("root")


def test_openapi_declares_the_bearer_scheme(make_app: AppFactory) -> None:
    app = _app(make_app)
    schemes = app.openapi()["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["ApiKey"]["description"],
    }
