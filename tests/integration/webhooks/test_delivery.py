"""Webhook delivery end to end: the stage, the scheduler and real HTTP receivers on loopback."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from nunchi.bus import Bus, Record
from nunchi.config import Settings
from nunchi.errors import PermanentError
from nunchi.outbound import GuardedClient
from nunchi.runtime.stage import Delivery, Stage, StageContext
from nunchi.runtime.worker import Worker
from nunchi.webhooks import (
    Claim,
    DeliveryDetail,
    WebhookDeliverer,
    WebhookDelivery,
    WebhookRequest,
    WebhookScheduler,
    WebhookService,
    load_secret,
    verify,
    webhook_stage,
)
from nunchi.webhooks.topics import WEBHOOKS_DELIVER
from tests.integration.webhooks.receiver import Reply, running_receiver, wait_until

pytestmark = pytest.mark.timeout(60)

Scheduling = Callable[[], AbstractContextManager[WebhookScheduler]]


@pytest.fixture
def stage(sessions: sessionmaker[Session], client: GuardedClient, settings: Settings) -> Stage:
    """The webhook stage on this test's database, client and settings."""
    return webhook_stage(sessions, client, settings)


def request_for(url: str, **payload: Any) -> WebhookRequest:
    """A job.succeeded request with a fresh event id."""
    return WebhookRequest(
        f"evt_{uuid.uuid4().hex}", "job.succeeded", url, payload or {"job_id": "j1", "ok": True}
    )


def feed(stage: Stage, bus: Bus, request: WebhookRequest | bytes, offset: int = 0) -> None:
    """Hand one record to the stage's handler, as the worker would."""
    value = request if isinstance(request, bytes) else request.to_json()
    stage.handle(
        Delivery(Record(WEBHOOKS_DELIVER, 0, offset, value)), StageContext(stage.name, bus)
    )


def detail(service: WebhookService, event_id: str) -> DeliveryDetail:
    """The one delivery of ``event_id``."""
    page = service.list_deliveries(limit=200)
    [info] = [d for d in page.items if d.event_id == event_id]
    return service.get(info.id)


def test_a_delivery_is_signed_with_the_secret(
    stage: Stage, settings: Settings, bus: Bus, service: WebhookService
) -> None:
    with running_receiver() as receiver:
        request = request_for(receiver.url("/hook?token=abc"), job_id="j1", text="좋아요")
        feed(stage, bus, request)
        assert receiver.count() == 1  # the first attempt is immediate (schedule[0] == 0)
    got = receiver.requests[0]
    verify(load_secret(settings), got.headers, got.body)
    assert got.headers["webhook-id"] == request.event_id
    assert got.headers["content-type"] == "application/json"
    assert got.path == "/hook?token=abc"
    body = json.loads(got.body)
    assert body["type"] == "job.succeeded"
    assert body["data"] == {"job_id": "j1", "text": "좋아요"}
    assert datetime.fromisoformat(body["timestamp"]).tzinfo is not None
    d = detail(service, request.event_id)
    assert (d.status, d.attempts, d.last_status_code, d.last_error) == ("delivered", 1, 200, None)
    assert d.delivered_at is not None and d.next_attempt_at is None
    [attempt] = d.history
    assert (attempt.attempt_no, attempt.status_code, attempt.trigger) == (1, 200, "auto")
    assert attempt.response_excerpt == "ok"


def test_two_failures_then_success_is_delivered_on_the_third_attempt(
    stage: Stage,
    settings: Settings,
    bus: Bus,
    service: WebhookService,
    scheduler_running: Scheduling,
) -> None:
    script = [Reply(500, b"boom"), Reply(500, b"boom again")]
    with running_receiver(script) as receiver, scheduler_running():
        request = request_for(receiver.url())
        feed(stage, bus, request)
        wait_until(lambda: detail(service, request.event_id).status != "pending", what="outcome")
    d = detail(service, request.event_id)
    assert (d.status, d.attempts, d.last_status_code) == ("delivered", 3, 200)
    assert [(a.attempt_no, a.status_code) for a in d.history] == [(1, 500), (2, 500), (3, 200)]
    assert [a.error for a in d.history] == ["HTTP 500", "HTTP 500", None]
    assert d.history[0].response_excerpt == "boom"
    assert receiver.count() == 3
    secret = load_secret(settings)
    for got in receiver.requests:  # same id and body each time, each freshly signed
        verify(secret, got.headers, got.body)
        assert got.headers["webhook-id"] == request.event_id
        assert got.body == receiver.requests[0].body


def test_a_receiver_that_always_fails_is_failed_once_the_schedule_is_spent(
    stage: Stage, bus: Bus, service: WebhookService, scheduler_running: Scheduling
) -> None:
    with running_receiver(default=Reply(503, b"down")) as receiver:
        with scheduler_running() as scheduler:
            request = request_for(receiver.url())
            feed(stage, bus, request)
            wait_until(lambda: detail(service, request.event_id).status == "failed", what="fail")
            assert scheduler.run_once() == 0  # nothing left to try
        d = detail(service, request.event_id)
        assert (d.attempts, d.last_status_code, d.last_error) == (3, 503, "HTTP 503")
        assert d.next_attempt_at is None and d.delivered_at is None
        assert receiver.count() == 3


def test_a_blocked_url_fails_at_once_with_the_reason_and_no_request(
    sessions: sessionmaker[Session], bus: Bus, service: WebhookService, tmp_path: Any
) -> None:
    strict = Settings(data_dir=tmp_path / "strict", webhook_schedule=[0, 0.05, 0.05])
    with running_receiver() as receiver, GuardedClient.from_settings(strict) as client:
        stage = webhook_stage(sessions, client, strict)
        request = request_for(receiver.url())
        feed(stage, bus, request)
        scheduler = WebhookScheduler(sessions, client, strict)
        assert scheduler.run_once() == 0
        assert receiver.count() == 0
    d = detail(service, request.event_id)
    assert (d.status, d.attempts, d.next_attempt_at) == ("failed", 1, None)
    assert d.last_error is not None and "loopback" in d.last_error
    assert d.history[0].status_code is None


def test_a_duplicate_event_id_makes_one_delivery_and_one_request(
    sessions: sessionmaker[Session], stage: Stage, bus: Bus, service: WebhookService
) -> None:
    with running_receiver() as receiver:
        request = request_for(receiver.url())
        feed(stage, bus, request, offset=0)
        feed(stage, bus, request, offset=1)  # the bus redelivered it
        other_url = WebhookRequest(request.event_id, request.type, receiver.url("/x"), {})
        feed(stage, bus, other_url, offset=2)
        assert receiver.count() == 1
    with sessions() as s:
        rows = s.scalar(
            select(func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.event_id == request.event_id)
        )
    assert rows == 1
    assert detail(service, request.event_id).attempts == 1


def test_manual_redeliver_through_the_bus_and_worker(
    sessions: sessionmaker[Session],
    client: GuardedClient,
    settings: Settings,
    bus: Bus,
    service: WebhookService,
    stage: Stage,
) -> None:
    with running_receiver([Reply(500)], default=Reply(204, b"")) as receiver:
        once = Settings(**{**settings.model_dump(), "webhook_schedule": [0]})
        feed(webhook_stage(sessions, client, once), bus, request := request_for(receiver.url()))
        d = detail(service, request.event_id)
        assert (d.status, d.attempts) == ("failed", 1)
        info = service.redeliver(d.id, "alice")
        assert (info.status, info.id) == ("pending", d.id)
        with Worker(bus, [stage], default_partitions=1, poll_timeout=0.05):
            wait_until(lambda: detail(service, request.event_id).status == "delivered")
        assert receiver.count() == 2
    d = detail(service, request.event_id)
    assert (d.attempts, d.last_status_code, d.last_error) == (2, 204, None)
    assert [(a.trigger, a.actor) for a in d.history] == [("auto", None), ("manual", "alice")]


def test_manual_redeliver_is_made_by_the_scheduler_when_no_stage_runs(
    stage: Stage, bus: Bus, service: WebhookService, scheduler_running: Scheduling
) -> None:
    with running_receiver() as receiver:
        feed(stage, bus, request := request_for(receiver.url()))
        d = detail(service, request.event_id)
        assert d.status == "delivered"
        with scheduler_running():
            service.redeliver(d.id, "bob")
            wait_until(lambda: detail(service, request.event_id).attempts == 2)
        assert receiver.count() == 2
    d = detail(service, request.event_id)
    assert d.status == "delivered"
    assert (d.history[1].trigger, d.history[1].actor) == ("manual", "bob")


def test_a_worker_delivers_what_the_jobs_subsystem_publishes(
    stage: Stage, bus: Bus, service: WebhookService
) -> None:
    with running_receiver() as receiver, Worker(bus, [stage], default_partitions=1):
        event_id = "evt_" + uuid.uuid4().hex
        message = {
            "event_id": event_id,
            "type": "batch.completed",
            "url": receiver.url(),
            "payload": {"batch_id": "b1", "total": 3},
        }
        bus.publish(WEBHOOKS_DELIVER, json.dumps(message).encode(), key=b"b1")
        wait_until(lambda: receiver.count() == 1)
        wait_until(lambda: detail(service, event_id).status == "delivered")
    assert json.loads(receiver.requests[0].body)["data"] == message["payload"]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (b"not json", "not JSON"),
        (b"[1]", "JSON object"),
        (b'{"event_id": "", "type": "t", "url": "http://x", "payload": {}}', "'event_id'"),
        (b'{"event_id": "e", "type": "t", "url": "http://x", "payload": []}', "'payload'"),
        (b'{"event_id": "e", "type": "t", "payload": {}}', "'url'"),
    ],
)
def test_a_malformed_request_fails_permanently(
    stage: Stage, bus: Bus, value: bytes, problem: str
) -> None:
    with pytest.raises(PermanentError, match=problem):
        feed(stage, bus, value)


def test_concurrent_schedulers_attempt_each_delivery_exactly_once(
    sessions: sessionmaker[Session], client: GuardedClient, settings: Settings
) -> None:
    later = Settings(**{**settings.model_dump(), "webhook_schedule": [0.2]})
    deliverer = WebhookDeliverer(sessions, client, later)
    with running_receiver() as receiver:
        ids = [deliverer.enqueue(request_for(receiver.url(), n=i)) for i in range(24)]
        schedulers = [WebhookScheduler(sessions, client, later) for _ in range(3)]
        stop = threading.Event()
        threads = [threading.Thread(target=s.run, args=(stop,)) for s in schedulers]
        for t in threads:
            t.start()
        try:
            wait_until(lambda: receiver.count() >= len(ids), what="all deliveries")
            wait_until(
                lambda: all(d.status == "delivered" for d in _page(sessions)),
                what="all recorded",
            )
        finally:
            stop.set()
            for t in threads:
                t.join(10)
    event_ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert len(event_ids) == len(set(event_ids)) == len(ids)


def _page(sessions: sessionmaker[Session]) -> list[WebhookDelivery]:
    with sessions() as s:
        return list(s.scalars(select(WebhookDelivery)))


def test_a_lost_claim_is_taken_over_after_its_lease_and_the_stale_result_is_ignored(
    sessions: sessionmaker[Session], client: GuardedClient, settings: Settings
) -> None:
    deliverer = WebhookDeliverer(sessions, client, settings)
    deliverer.lease = 0.2
    with running_receiver(default=Reply(500)) as receiver:
        delivery_id = deliverer.enqueue(request_for(receiver.url()))
        [stale] = deliverer.claim_due()  # this worker "dies" before attempting
        assert deliverer.claim_due() == []
        taken: list[Claim] = []

        def claim_again() -> bool:
            taken.extend(deliverer.claim_due())
            return bool(taken)

        wait_until(claim_again, what="the lease to end")
        [fresh] = taken
        assert fresh.id == stale.id == delivery_id and fresh.token != stale.token
        assert deliverer.record(stale, deliverer.attempt(stale)) is None  # logged, no effect
        assert deliverer.record(fresh, deliverer.attempt(fresh)) == "pending"
    with sessions() as s:
        row = s.get(WebhookDelivery, delivery_id)
        assert row is not None
        assert (row.attempts, row.schedule_step, row.claim_token) == (2, 1, None)
        assert row.next_attempt_at is not None
        assert row.next_attempt_at <= datetime.now(UTC) + timedelta(seconds=1)
