"""The pages: Korean by default, English on request, escaped, backed by the real platform."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient

from nunchi.assembly import Platform
from nunchi.bus.memory import MemoryBus
from nunchi.jobs.kinds import KindRegistry
from nunchi.jobs.service import JobService
from nunchi.jobs.stages import job_stages
from nunchi.runtime.worker import Worker
from nunchi.web.keys import KeyService
from nunchi.web.pages.jobs import PAGE_SIZE

from .conftest import AppFactory, wait_for
from .support import csrf_headers, log_in, log_out

HANGUL = re.compile(r"[\uac00-\ud7a3]")
XSS = "<script>alert('x')</script>"


@contextmanager
def running_worker(
    jobs: JobService, bus: MemoryBus, registry: KindRegistry, lag_interval: float = 0.1
) -> Iterator[Worker]:
    """The real job stages on a real Worker, stopped on exit."""
    worker = Worker(bus, job_stages(jobs, registry), poll_timeout=0.05, lag_interval=lag_interval)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop(10)


def settle(jobs: JobService, bus: MemoryBus, registry: KindRegistry, ids: list[str]) -> None:
    """Run the worker until every job in ``ids`` reached a final state."""
    with running_worker(jobs, bus, registry):
        wait_for(lambda: all(jobs.get(i).status in ("succeeded", "failed") for i in ids))


def _csrf(c: TestClient) -> dict[str, str]:
    return csrf_headers(c)


def test_home_shows_every_app_and_the_navigation(
    platform: Platform, open_client: TestClient
) -> None:
    page = open_client.get("/", headers={"Accept": "text/html"})
    assert page.status_code == 200
    for app in platform.apps:
        assert f'data-app="{app.name}"' in page.text and app.title["ko"] in page.text
        if app.path:
            assert f'href="{app.path}"' in page.text.split("<main", 1)[0]  # in the nav bar
    english = open_client.get("/?lang=en").text
    assert all(app.title["en"] in english for app in platform.apps)


def test_jobs_page_is_korean_by_default(platform: Platform, open_client: TestClient) -> None:
    platform.jobs.submit("diagnostic.echo", {"payload": 1})
    r = open_client.get("/jobs")
    assert r.status_code == 200
    assert '<html lang="ko">' in r.text
    assert "작업" in r.text and "대기 중" in r.text
    assert "Operations" not in r.text
    assert r.headers["content-security-policy"].startswith("default-src 'self'")


def test_english_by_query_then_cookie(platform: Platform, open_client: TestClient) -> None:
    platform.jobs.submit("diagnostic.echo", {"payload": 1})
    r = open_client.get("/jobs?lang=en")
    assert '<html lang="en">' in r.text
    assert r.cookies.get("nunchi_lang") == "en"
    again = open_client.get("/jobs")  # no ?lang: the cookie decides
    assert '<html lang="en">' in again.text
    visible = again.text.replace("한국어", "")
    assert not HANGUL.search(visible), HANGUL.findall(visible)[:10]
    assert "Queued" in again.text


def test_default_language_setting(make_app: AppFactory) -> None:
    with TestClient(
        make_app(auth_disabled=True, default_language="en"), base_url="http://localhost"
    ) as c:
        assert '<html lang="en">' in c.get("/ops").text


def test_language_switch_links_keep_the_filters(open_client: TestClient) -> None:
    text = open_client.get("/jobs?kind=diagnostic.echo").text
    assert 'href="?kind=diagnostic.echo&amp;lang=en"' in text


def test_untrusted_text_is_escaped(platform: Platform, open_client: TestClient) -> None:
    job = platform.jobs.submit("diagnostic.echo", {"payload": XSS})
    detail = open_client.get(f"/jobs/{job.id}").text
    assert XSS not in detail
    assert "&lt;script&gt;alert(" in detail
    reflected = open_client.get("/jobs", params={"kind": XSS, "batch": '"><img src=x>'}).text
    assert XSS not in reflected and '"><img' not in reflected


def test_filters_and_cursor_pagination(platform: Platform, open_client: TestClient) -> None:
    ids = [platform.jobs.submit("diagnostic.echo", {"payload": i}).id for i in range(PAGE_SIZE + 5)]
    first = open_client.get("/jobs")
    links = re.findall(r'href="/jobs/([0-9a-f]{32})"', first.text)
    assert links == list(reversed(ids))[:PAGE_SIZE]  # newest first
    more = re.search(r'hx-get="(/jobs\?cursor=[0-9a-f]+)"', first.text)
    assert more is not None
    rest = open_client.get(more.group(1).replace("&amp;", "&"), headers={"HX-Request": "true"})
    assert "<html" not in rest.text  # a fragment of rows
    assert re.findall(r'href="/jobs/([0-9a-f]{32})"', rest.text) == list(reversed(ids))[PAGE_SIZE:]
    assert "hx-get" not in rest.text  # last page: no "more"
    assert open_client.get("/jobs?status=failed").text.count('href="/jobs/') == 0
    assert open_client.get("/jobs?status=queued").text.count('href="/jobs/') == PAGE_SIZE


def test_unknown_status_filter_is_a_clear_error(open_client: TestClient) -> None:
    r = open_client.get("/jobs?status=exploded", headers={"Accept": "text/html"})
    assert r.status_code == 422
    assert "exploded" in r.text and "queued" in r.text


def test_failed_job_detail_and_retry_without_auth(
    platform: Platform, bus: MemoryBus, registry: KindRegistry, open_client: TestClient
) -> None:
    jobs = platform.jobs
    job = jobs.submit("diagnostic.echo", {"fail_attempts": 9})
    settle(jobs, bus, registry, [job.id])
    page = open_client.get(f"/jobs/{job.id}").text
    assert "DiagnosticFailure" in page
    assert "<details><summary>트레이스백 보기</summary>" in page
    assert page.count("시도 실패") == 2 and "데드레터로 보내짐" in page
    assert f'hx-post="/jobs/{job.id}/retry"' in page

    refused = open_client.post(f"/jobs/{job.id}/retry", headers={"HX-Request": "true"})
    assert refused.status_code == 403  # no CSRF token
    assert jobs.get(job.id).status == "failed"

    r = open_client.post(f"/jobs/{job.id}/retry", headers=_csrf(open_client))
    assert r.status_code == 200
    assert "<html" not in r.text and "다시 대기열에 넣었습니다" in r.text
    detail = jobs.get(job.id)
    assert detail.status == "queued"
    assert [e.actor for e in detail.events if e.type == "retried"] == ["anonymous"]

    again = open_client.post(f"/jobs/{job.id}/retry", headers=_csrf(open_client))
    assert again.status_code == 409  # not failed any more: the service's Conflict


def test_retry_needs_a_logged_in_key_when_auth_is_on(
    keys: KeyService, platform: Platform, bus: MemoryBus, registry: KindRegistry, client: TestClient
) -> None:
    jobs = platform.jobs
    job = jobs.submit("diagnostic.echo", {"fail_attempts": 9})
    settle(jobs, bus, registry, [job.id])
    headers = _csrf(client)
    assert client.post(f"/jobs/{job.id}/retry", headers=headers).status_code == 401

    _, reader = keys.create("viewer", ["read"])
    looking = log_in(client, reader, f"/jobs/{job.id}")
    assert looking.status_code == 303  # a read-only key may look at the pages ...
    denied = client.post(f"/jobs/{job.id}/retry", headers=_csrf(client))
    assert denied.status_code == 403 and "submit" in denied.text  # ... but not retry
    assert log_out(client).status_code == 303
    bad = log_in(client, "nk_nope", f"/jobs/{job.id}")
    assert bad.status_code == 401

    _, operator = keys.create("operator-kim", ["submit"])
    ok = log_in(client, operator, f"/jobs/{job.id}")
    assert ok.status_code == 303 and ok.headers["location"] == f"/jobs/{job.id}"
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert "operator-kim" in client.get("/jobs").text

    stale = client.post(f"/jobs/{job.id}/retry", headers=headers)  # the token before login
    assert stale.status_code == 403
    r = client.post(f"/jobs/{job.id}/retry", headers=_csrf(client))
    assert r.status_code == 200, r.text
    events = jobs.get(job.id).events
    assert [e.actor for e in events if e.type == "retried"] == ["operator-kim"]

    assert log_out(client).status_code == 303
    assert "operator-kim" not in client.get("/jobs").text


def test_login_never_redirects_off_site(
    keys: KeyService, platform: Platform, client: TestClient
) -> None:
    _, key = keys.create("k", ["admin"])
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil", "/.//evil.example/"):
        r = log_in(client, key, target)
        assert r.headers["location"] in ("/", "/evil.example"), target
        log_out(client)


def test_batch_page_counts_and_retry_failed(
    platform: Platform, bus: MemoryBus, registry: KindRegistry, open_client: TestClient
) -> None:
    jobs = platform.jobs
    items = [{"payload": 1}, {"fail_attempts": 9}, {"fail_attempts": 9}]
    batch = jobs.submit_batch("diagnostic.echo", items)
    ids = [j.id for j in jobs.list(batch=batch.id).items]
    settle(jobs, bus, registry, ids)
    page = open_client.get(f"/batches/{batch.id}?lang=en").text
    assert "2 of 3" not in page and "3 of 3 done (100%)" in page
    assert "Retry 2 failed jobs" in page
    r = open_client.post(f"/batches/{batch.id}/retry-failed", headers=_csrf(open_client))
    assert r.status_code == 200
    assert "2 failed jobs are queued again." in r.text
    assert jobs.get_batch(batch.id).counts.queued == 2


def test_unknown_job_and_batch_are_404_pages(open_client: TestClient) -> None:
    for path in ("/jobs/" + "0" * 32, "/batches/" + "0" * 32):
        r = open_client.get(path, headers={"Accept": "text/html"})
        assert r.status_code == 404
        assert "찾을 수 없음" in r.text


def test_ops_page_shows_worker_stats_and_counts(
    platform: Platform, bus: MemoryBus, registry: KindRegistry, make_app: AppFactory
) -> None:
    jobs = platform.jobs
    ok = jobs.submit("diagnostic.echo", {"payload": 1})
    bad = jobs.submit("diagnostic.echo", {"fail_attempts": 9})
    # no periodic lag refresh during the test: the lag shown must come from the commits
    with running_worker(jobs, bus, registry, lag_interval=3600) as worker:
        wait_for(lambda: jobs.get(bad.id).status == "failed" and jobs.get(ok.id).status != "queued")
        # a job is final before its record is committed; then the lag falls to 0
        wait_for(lambda: worker.stats()["jobs.diagnostic.echo"].lag == 0)
        platform.worker = worker
        with TestClient(make_app(auth_disabled=True), base_url="http://localhost") as c:
            page = c.get("/ops?lang=en").text
            assert 'hx-get="/ops/panel"' in page and 'hx-trigger="every 5s"' in page
            panel = c.get("/ops/panel", headers={"HX-Request": "true"}).text
    assert "<html" not in panel
    assert "jobs.diagnostic.echo" in panel
    assert "DiagnosticFailure" in panel  # the stage's last error
    stage = re.search(r"<code>jobs\.diagnostic\.echo</code></td>(.*?)</tr>", panel, re.S)
    assert stage is not None
    cells = re.findall(r'<td class="num">([^<]*)</td>', stage.group(1))
    assert cells == ["1", "2", "1", "1", "0", "0"]  # processed … dead-lettered, in flight, lag
    row = re.search(r"<td>diagnostic\.echo</td>(.*?)</tr>", panel, re.S)
    assert row is not None
    numbers = re.findall(r">(\d+)</a>", row.group(1))
    assert numbers == ["0", "0", "1", "1"]  # queued, running, succeeded, failed


def test_ops_page_without_worker(open_client: TestClient) -> None:
    text = open_client.get("/ops").text
    assert "워커가 실행되고 있지 않습니다" in text


@pytest.mark.parametrize("path", ["/jobs", "/ops", "/login"])
def test_pages_load_only_local_assets(open_client: TestClient, path: str) -> None:
    text = open_client.get(path).text
    assert not re.search(r'(src|href)="(https?:)?//', text)
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', text):
        assert open_client.get(asset).status_code == 200, asset
