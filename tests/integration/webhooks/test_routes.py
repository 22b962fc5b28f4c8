"""The webhook delivery API: list, show, redeliver, errors in the envelope, admin only."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from nunchi.bus import Bus
from nunchi.config import Settings
from nunchi.errors import InvalidInput, NotFound
from nunchi.jobs.service import JobService
from nunchi.outbound import GuardedClient
from nunchi.web.errors import install_error_handlers
from nunchi.web.routes.webhooks import webhooks_router
from nunchi.webhooks import WebhookDeliverer, WebhookRequest, WebhookService, parse_request
from nunchi.webhooks.topics import WEBHOOKS_DELIVER
from tests.fixtures.platforms import web_state_around
from tests.integration.webhooks.receiver import running_receiver

pytestmark = pytest.mark.timeout(60)


def make_app(settings: Settings, service: WebhookService | None) -> FastAPI:
    """Only the webhook routes, served from ``service``'s database and bus (None: the app
    has no platform yet, as while it starts)."""
    app = FastAPI()
    install_error_handlers(app)
    app.state.settings = settings
    app.state.web = None
    if service is not None:
        app.state.web = web_state_around(JobService(service.sessions, service.bus, None, settings))
    app.include_router(webhooks_router())
    return app


@pytest.fixture
def api(settings: Settings, service: WebhookService) -> Iterator[TestClient]:
    open_settings = Settings(**{**settings.model_dump(), "auth_disabled": True})
    with TestClient(make_app(open_settings, service), base_url="http://localhost") as c:
        yield c


@pytest.fixture
def delivered(
    sessions: sessionmaker[Session], client: GuardedClient, settings: Settings
) -> list[str]:
    """Three deliveries made to a loopback receiver (ids, oldest first)."""
    deliverer = WebhookDeliverer(sessions, client, settings)
    ids = []
    with running_receiver() as receiver:
        for i in range(3):
            req = WebhookRequest(f"evt_{uuid.uuid4().hex}", "job.failed", receiver.url(), {"i": i})
            ids.append(deliverer.enqueue(req))
            deliverer.process(deliverer.claim_due(delivery_id=ids[-1]))
    return ids


def test_list_pages_newest_first_and_filters(api: TestClient, delivered: list[str]) -> None:
    first = api.get("/api/v1/webhooks/deliveries", params={"limit": 2})
    assert first.status_code == 200, first.text
    body = first.json()
    assert [d["id"] for d in body["items"]] == delivered[::-1][:2]
    assert body["next_cursor"] == delivered[1]
    second = api.get("/api/v1/webhooks/deliveries", params={"cursor": body["next_cursor"]})
    assert [d["id"] for d in second.json()["items"]] == [delivered[0]]
    assert second.json()["next_cursor"] is None
    assert all(d["status"] == "delivered" for d in second.json()["items"])
    failed = api.get("/api/v1/webhooks/deliveries", params={"status": "failed"})
    assert failed.json() == {"items": [], "next_cursor": None}


def test_get_shows_payload_and_attempts(api: TestClient, delivered: list[str]) -> None:
    response = api.get(f"/api/v1/webhooks/deliveries/{delivered[0]}")
    assert response.status_code == 200
    d = response.json()
    assert (d["id"], d["status"], d["payload"], d["attempts"]) == (
        delivered[0],
        "delivered",
        {"i": 0},
        1,
    )
    [attempt] = d["history"]
    assert (attempt["status_code"], attempt["trigger"], attempt["response_excerpt"]) == (
        200,
        "auto",
        "ok",
    )


def test_redeliver_resets_publishes_and_records_the_actor(
    api: TestClient,
    delivered: list[str],
    bus: Bus,
    sessions: sessionmaker[Session],
    client: GuardedClient,
    settings: Settings,
) -> None:
    response = api.post(f"/api/v1/webhooks/deliveries/{delivered[2]}/redeliver")
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "pending"
    with bus.consumer("test-" + uuid.uuid4().hex, [WEBHOOKS_DELIVER]) as consumer:
        [record] = consumer.poll(10, timeout=5)
    request = parse_request(record.value)
    assert request.payload == {"i": 2} and request.type == "job.failed"
    shown = api.get(f"/api/v1/webhooks/deliveries/{delivered[2]}").json()
    assert shown["status"] == "pending" and shown["next_attempt_at"] is not None
    # The next attempt is logged as manual, by the caller (anonymous: auth is disabled).
    deliverer = WebhookDeliverer(sessions, client, settings)
    deliverer.process(deliverer.claim_due(delivery_id=delivered[2]))
    history = api.get(f"/api/v1/webhooks/deliveries/{delivered[2]}").json()["history"]
    assert [(a["trigger"], a["actor"]) for a in history] == [
        ("auto", None),
        ("manual", "anonymous"),
    ]


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/api/v1/webhooks/deliveries/" + "0" * 32, 404, "not_found"),
        ("POST", "/api/v1/webhooks/deliveries/" + "0" * 32 + "/redeliver", 404, "not_found"),
        ("GET", "/api/v1/webhooks/deliveries/not-an-id", 422, "invalid_input"),
        ("GET", "/api/v1/webhooks/deliveries?status=lost", 422, "invalid_input"),
        ("GET", "/api/v1/webhooks/deliveries?limit=0", 422, "invalid_input"),
        ("GET", "/api/v1/webhooks/deliveries?cursor=zz", 422, "invalid_input"),
    ],
)
def test_errors_use_the_envelope(
    api: TestClient, method: str, path: str, status: int, code: str
) -> None:
    response = api.request(method, path)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_routes_need_an_admin_key(settings: Settings, service: WebhookService) -> None:
    with TestClient(make_app(settings, service), base_url="http://localhost") as c:
        for method, path in (
            ("GET", "/api/v1/webhooks/deliveries"),
            ("GET", "/api/v1/webhooks/deliveries/" + "0" * 32),
            ("POST", "/api/v1/webhooks/deliveries/" + "0" * 32 + "/redeliver"),
        ):
            response = c.request(method, path)
            assert response.status_code == 401, (method, path)
            assert response.json()["error"]["code"] == "unauthorized"


def test_without_a_webhook_service_routes_answer_503(settings: Settings) -> None:
    open_settings = Settings(**{**settings.model_dump(), "auth_disabled": True})
    with TestClient(make_app(open_settings, None), base_url="http://localhost") as c:
        response = c.get("/api/v1/webhooks/deliveries")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"


def test_the_service_says_what_to_fix(service: WebhookService) -> None:
    with pytest.raises(InvalidInput, match="unknown status 'lost'"):
        service.list_deliveries(status="lost")
    with pytest.raises(InvalidInput, match="limit must be between 1 and 200"):
        service.list_deliveries(limit=0)
    with pytest.raises(InvalidInput, match="not a delivery id"):
        service.list_deliveries(cursor="abc")
    with pytest.raises(InvalidInput, match="not a delivery id"):
        service.get("../etc")
    with pytest.raises(InvalidInput, match="actor"):
        service.redeliver("0" * 32, " ")
    with pytest.raises(NotFound):
        service.redeliver("0" * 32, "alice")
