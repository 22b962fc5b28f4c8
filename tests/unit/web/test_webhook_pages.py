"""The webhook pages: the delivery log, a delivery's attempts, redeliver, and deliveries shown
with their job, batch and on the Operations page. Real services, a real worker and a real
loopback receiver."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from nunchi.assembly import Platform
from nunchi.bus.memory import MemoryBus
from nunchi.config import Settings
from nunchi.jobs.kinds import KindRegistry
from nunchi.jobs.stages import job_stages
from nunchi.outbound import GuardedClient
from nunchi.runtime.worker import Worker
from nunchi.store.store import Store
from nunchi.store.types import utcnow
from nunchi.web.keys import KeyService
from nunchi.web.pages.webhooks import PAGE_SIZE
from nunchi.webhooks import AttemptOutcome, WebhookDeliverer, WebhookRequest, webhook_stage
from tests.integration.webhooks.receiver import Reply, running_receiver

from .conftest import AppFactory, make_settings, wait_for
from .support import csrf_headers, log_in

HANGUL = re.compile(r"[\uac00-\ud7a3]")
XSS = "<script>alert('x')</script>"
DELIVERY_LINK = re.compile(r'href="/webhooks/([0-9a-f]{32})"')


@pytest.fixture
def hook_settings(tmp_path: Path) -> Settings:
    """One attempt per schedule (a failure is final at once); the loopback receiver allowed."""
    return make_settings(tmp_path, webhook_schedule=[0], outbound_allow_hosts=["127.0.0.1/32"])


@pytest.fixture
def guarded(hook_settings: Settings) -> Iterator[GuardedClient]:
    """The guarded outbound client the webhook stage uses."""
    with GuardedClient.from_settings(hook_settings) as c:
        yield c


@pytest.fixture
def deliverer(store: Store, guarded: GuardedClient, hook_settings: Settings) -> WebhookDeliverer:
    """Stores deliveries and records attempts without HTTP (for list and auth tests)."""
    return WebhookDeliverer(store.sessions, guarded, hook_settings)


Pipeline = Callable[[], AbstractContextManager[Worker]]


@pytest.fixture
def running_pipeline(
    platform: Platform,
    bus: MemoryBus,
    registry: KindRegistry,
    store: Store,
    guarded: GuardedClient,
    hook_settings: Settings,
) -> Pipeline:
    """``with running_pipeline():`` runs the job stages and the webhook stage on a real
    Worker meanwhile, stopped on exit."""

    @contextmanager
    def run() -> Iterator[Worker]:
        webhooks = webhook_stage(store.sessions, guarded, hook_settings)
        stages = [*job_stages(platform.jobs, registry), webhooks]
        worker = Worker(bus, stages, poll_timeout=0.05, lag_interval=0.1)
        worker.start()
        try:
            yield worker
        finally:
            worker.stop(10)

    return run


def _csrf(c: TestClient) -> dict[str, str]:
    return csrf_headers(c, "/webhooks")


def _stored(deliverer: WebhookDeliverer, *, fail: bool = False, url: str = "") -> str:
    """A delivery stored directly; with ``fail``, one failed attempt recorded (500 + XSS)."""
    request = WebhookRequest(
        f"evt_{uuid.uuid4().hex}", "job.failed", url or "https://hooks.example/h", {"id": "x"}
    )
    delivery_id = deliverer.enqueue(request)
    if fail:
        [claim] = deliverer.claim_due(limit=1, delivery_id=delivery_id)
        outcome = AttemptOutcome(utcnow(), 500, "HTTP 500", 12, XSS)
        assert deliverer.record(claim, outcome) == "failed"
    return delivery_id


def test_job_webhook_fails_then_redelivered_from_the_page(
    platform: Platform, running_pipeline: Pipeline, open_client: TestClient
) -> None:
    jobs, hooks = platform.jobs, platform.webhooks
    script = [Reply(500, XSS.encode())]
    with running_receiver(script, default=Reply(200, b"thanks")) as receiver:
        url = receiver.url("/hook?note=" + XSS)
        with running_pipeline():
            job = jobs.submit("diagnostic.echo", {"payload": XSS}, callback_url=url)
            wait_for(lambda: hooks.counts()["failed"] == 1)
            [delivery] = hooks.list_deliveries().items
            assert delivery.subject_id == job.id

            page = open_client.get(f"/jobs/{job.id}").text
            assert "<h2>웹훅</h2>" in page
            assert DELIVERY_LINK.findall(page) == [delivery.id]

            listing = open_client.get("/webhooks").text
            assert DELIVERY_LINK.findall(listing) == [delivery.id]
            assert "job.succeeded" in listing and "실패" in listing
            assert XSS not in listing and "&lt;script&gt;" in listing  # the URL

            detail = open_client.get(f"/webhooks/{delivery.id}").text
            assert XSS not in detail
            escaped = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
            assert f"<pre>{escaped}</pre>" in detail  # the response excerpt
            assert f"<code>{url.replace(XSS, escaped)}</code>" in detail
            assert detail.count(escaped) >= 3  # + the payload
            assert "<code>500</code>" in detail and "자동" in detail
            assert f'href="/jobs/{job.id}"' in detail
            assert f'hx-post="/webhooks/{delivery.id}/redeliver"' in detail

            post = f"/webhooks/{delivery.id}/redeliver"
            refused = open_client.post(post, headers={"HX-Request": "true"})
            assert refused.status_code == 403  # no CSRF token
            assert hooks.get(delivery.id).status == "failed"

            r = open_client.post(post, headers=_csrf(open_client))
            assert r.status_code == 200
            assert "<html" not in r.text and "다시 보내도록 요청했습니다" in r.text
            wait_for(lambda: hooks.get(delivery.id).status == "delivered")

    detail = open_client.get(f"/webhooks/{delivery.id}?lang=en").text
    rows = re.findall(r'<tr>\s*<td class="num">(\d+)</td>(.*?)</tr>', detail, re.S)
    assert [n for n, _ in rows] == ["1", "2"]
    assert "Automatic" in rows[0][1] and "<code>500</code>" in rows[0][1]
    assert "Manual" in rows[1][1] and "by anonymous" in rows[1][1]
    assert "<code>200</code>" in rows[1][1] and "thanks" in rows[1][1]
    assert "Delivered" in detail
    assert len(receiver.requests) == 2

    panel = open_client.get("/ops/panel?lang=en").text
    assert 'href="/webhooks?status=failed"' in panel
    tiles = re.findall(r'href="/webhooks\?status=(\w+)">.*?<div class="n">(\d+)</div>', panel, re.S)
    assert tiles == [("pending", "0"), ("delivered", "1"), ("failed", "0")]


def test_batch_page_lists_its_webhook(
    platform: Platform, running_pipeline: Pipeline, open_client: TestClient
) -> None:
    jobs, hooks = platform.jobs, platform.webhooks
    with running_receiver() as receiver, running_pipeline():
        batch = jobs.submit_batch("diagnostic.echo", [{"payload": 1}], receiver.url())
        wait_for(lambda: hooks.counts()["delivered"] == 1)
    page = open_client.get(f"/batches/{batch.id}?lang=en").text
    [delivery_id] = DELIVERY_LINK.findall(page)
    assert "batch.completed" in page and "Delivered" in page
    detail = open_client.get(f"/webhooks/{delivery_id}").text
    assert f'href="/batches/{batch.id}"' in detail


def test_no_webhook_section_without_a_callback(platform: Platform, open_client: TestClient) -> None:
    job = platform.jobs.submit("diagnostic.echo", {"payload": 1})
    page = open_client.get(f"/jobs/{job.id}").text
    assert "<h2>웹훅</h2>" not in page
    assert "/webhooks/" not in page.replace('href="/webhooks"', "")


def test_list_filter_and_cursor_pagination(
    deliverer: WebhookDeliverer, open_client: TestClient
) -> None:
    failed = [_stored(deliverer, fail=True) for _ in range(2)]
    pending = [_stored(deliverer) for _ in range(PAGE_SIZE + 1)]
    newest_first = list(reversed(failed + pending))

    first = open_client.get("/webhooks")
    assert DELIVERY_LINK.findall(first.text) == newest_first[:PAGE_SIZE]
    more = re.search(r'hx-get="(/webhooks\?cursor=[0-9a-f]+)"', first.text)
    assert more is not None
    rest = open_client.get(more.group(1), headers={"HX-Request": "true"})
    assert "<html" not in rest.text
    assert DELIVERY_LINK.findall(rest.text) == newest_first[PAGE_SIZE:]
    assert "hx-get" not in rest.text

    only_failed = open_client.get("/webhooks?status=failed").text
    assert DELIVERY_LINK.findall(only_failed) == list(reversed(failed))
    assert "HTTP 500" in only_failed and "<code>500</code>" in only_failed
    assert DELIVERY_LINK.findall(open_client.get("/webhooks?status=delivered").text) == []
    assert '<option value="failed" selected>' in only_failed


def test_pages_in_english(deliverer: WebhookDeliverer, open_client: TestClient) -> None:
    delivery_id = _stored(deliverer, fail=True)
    for path in ("/webhooks?lang=en", f"/webhooks/{delivery_id}?lang=en", "/ops?lang=en"):
        text = open_client.get(path).text
        assert '<html lang="en">' in text
        visible = text.replace("한국어", "")
        assert not HANGUL.search(visible), (path, HANGUL.findall(visible)[:10])
    text = open_client.get("/webhooks?lang=en").text
    assert 'aria-current="page">Webhooks</a>' in text and "Webhook deliveries" in text
    korean = open_client.get("/webhooks?lang=ko").text
    assert 'aria-current="page">웹훅</a>' in korean and "웹훅 전송" in korean


def test_bad_status_unknown_and_malformed_ids(open_client: TestClient) -> None:
    html = {"Accept": "text/html"}
    r = open_client.get("/webhooks?status=exploded", headers=html)
    assert r.status_code == 422 and "exploded" in r.text and "delivered" in r.text
    assert open_client.get("/webhooks/" + "0" * 32, headers=html).status_code == 404
    bad = open_client.get("/webhooks/<b>oops", headers=html)
    assert bad.status_code == 422 and "&lt;b&gt;oops" in bad.text and "<b>oops" not in bad.text


def test_redeliver_needs_an_admin_session_when_auth_is_on(
    keys: KeyService, platform: Platform, deliverer: WebhookDeliverer, client: TestClient
) -> None:
    hooks = platform.webhooks
    delivery_id = _stored(deliverer, fail=True)
    post = f"/webhooks/{delivery_id}/redeliver"
    headers = _csrf(client)
    assert client.post(post, headers=headers).status_code == 401

    _, operator = keys.create("operator-kim", ["submit"])
    assert log_in(client, operator, "/webhooks").status_code == 303
    headers = csrf_headers(client)  # the token of this session
    denied = client.post(post, headers=headers)
    assert denied.status_code == 403 and "admin" in denied.text  # like the API's redeliver
    assert client.post(post, headers={"HX-Request": "true"}).status_code == 403  # no CSRF
    assert hooks.get(delivery_id).status == "failed"

    _, admin = keys.create("admin-lee", ["admin"])
    assert log_in(client, admin, "/webhooks").status_code == 303
    headers = _csrf(client)
    r = client.post(post, headers=headers)
    assert r.status_code == 200, r.text
    assert hooks.get(delivery_id).status == "pending"
    assert "전송 대기" in r.text

    plain_form = client.post(
        post, data={"csrf_token": headers["X-CSRF-Token"]}, follow_redirects=False
    )
    assert plain_form.status_code == 303
    assert plain_form.headers["location"] == f"/webhooks/{delivery_id}"


def test_beyond_loopback_deliveries_need_an_admin_key_as_in_the_api(
    keys: KeyService, platform: Platform, deliverer: WebhookDeliverer, make_app: AppFactory
) -> None:
    """Deliveries carry receiver URLs (often with tokens) and payloads: where the pages need
    a login, a read-only key sees jobs but not deliveries, as the API's delivery routes."""
    secret_url = "https://hooks.example/h?token=SECRET-TOKEN"
    job = platform.jobs.submit("diagnostic.echo", {"payload": 1}, callback_url=secret_url)
    delivery_id = deliverer.enqueue(
        WebhookRequest(
            f"evt_{uuid.uuid4().hex}",
            "job.succeeded",
            secret_url,
            {"id": job.id},
            subject_id=job.id,
        )
    )
    with TestClient(
        make_app(host="0.0.0.0"), raise_server_exceptions=False, base_url="http://localhost"
    ) as c:

        def log_in_as(key: str) -> None:
            assert log_in(c, key).status_code == 303

        _, reader = keys.create("reader", ["read"])
        log_in_as(reader)
        job_page = c.get(f"/jobs/{job.id}")
        assert job_page.status_code == 200 and f"/webhooks/{delivery_id}" not in job_page.text
        for path in ("/webhooks", f"/webhooks/{delivery_id}"):
            denied = c.get(path, headers={"Accept": "text/html"})
            assert denied.status_code == 403 and "admin" in denied.text, path
            assert "SECRET-TOKEN" not in denied.text

        _, admin = keys.create("admin", ["admin"])
        log_in_as(admin)
        assert f"/webhooks/{delivery_id}" in c.get(f"/jobs/{job.id}").text
        detail = c.get(f"/webhooks/{delivery_id}")
        assert detail.status_code == 200 and "SECRET-TOKEN" in detail.text
