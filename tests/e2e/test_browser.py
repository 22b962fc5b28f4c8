"""End to end in a real browser: ``nunchi up`` as its own process (SQLite store and event log
in a temporary directory, auth off unless a test says otherwise, every stage running), driven
by Debian's Chromium through Playwright. What a user of the web shell sees: the Korean job
list and its filters, a job's error and history, the retry button, a job's webhook deliveries
and the redeliver button, the English switch, the Operations page, no request leaving the
machine, untrusted text shown as text, and the login a server with NUNCHI_PAGES_LOGIN=always
asks for.

Chromium is ``/usr/bin/chromium`` (``scripts/services.sh`` installs it with the CJK fonts);
Playwright never downloads a browser here. Every page is opened in a fresh browser context
that records its requests, dialogs and errors, and refuses to reach any host but the server.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from benchmarks._proc import free_port
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Dialog,
    Locator,
    Page,
    Request,
    Route,
    expect,
    sync_playwright,
)
from playwright.sync_api import Response as PageResponse

from nunchi.jobs.kinds import ECHO
from tests.fixtures.processes import WorkerProcess, nunchi_command, wait_for
from tests.fixtures.services import require_service
from tests.integration.webhooks.receiver import Reply, running_receiver

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MAX_ATTEMPTS = ECHO.retry.max_attempts
"""Attempts ``diagnostic.echo`` gets before it is dead-lettered (3)."""
JOB_TIMEOUT = 30.0
"""Seconds a job may take to reach the state a test waits for."""
EVIL = "<img src=x onerror=alert(1)><script>alert(2)</script>"
"""No quotes or backslashes: shown as is inside the page's JSON too."""


@dataclass
class Server:
    """A running ``nunchi up`` and an HTTP client for its API."""

    url: str
    proc: WorkerProcess
    api: httpx.Client
    env: dict[str, str]
    """The environment it runs with (for ``nunchi`` commands on the same data)."""

    def log_tail(self) -> str:
        """The end of the server's log (attached to failure reports by conftest)."""
        return self.proc.tail()

    def submit(self, data: dict[str, Any]) -> str:
        """Queue one ``diagnostic.echo`` job; its id."""
        r = self.api.post("/jobs", json={"kind": "diagnostic.echo", "input": data})
        assert r.status_code == 202, r.text
        return str(r.json()["id"])

    def submit_batch(self, items: list[dict[str, Any]]) -> str:
        """Queue a batch of ``diagnostic.echo`` jobs; its id."""
        r = self.api.post("/batches", json={"kind": "diagnostic.echo", "items": items})
        assert r.status_code == 202, r.text
        return str(r.json()["id"])

    def batch_jobs(self, batch_id: str) -> list[dict[str, Any]]:
        """The jobs of a batch (a first page)."""
        r = self.api.get("/jobs", params={"batch": batch_id})
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["items"]
        return items

    def deliveries(self) -> list[dict[str, Any]]:
        """The webhook deliveries (a first page, newest first)."""
        r = self.api.get("/webhooks/deliveries")
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["items"]
        return items

    def job(self, job_id: str) -> dict[str, Any]:
        """A job with its history."""
        r = self.api.get(f"/jobs/{job_id}")
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data

    def wait_status(self, job_id: str, status: str) -> dict[str, Any]:
        """Wait until the job is in ``status``; returns it."""
        wait_for(
            lambda: self.job(job_id)["status"] == status,
            JOB_TIMEOUT,
            f"job {job_id} to be {status}",
            alive=[self.proc],
        )
        return self.job(job_id)

    def wait_batch(self, batch_id: str) -> None:
        """Wait until every job of the batch is final."""

        def done() -> bool:
            r = self.api.get(f"/batches/{batch_id}")
            assert r.status_code == 200, r.text
            return r.json()["completed_at"] is not None

        wait_for(done, JOB_TIMEOUT, f"batch {batch_id} to complete", alive=[self.proc])


@dataclass
class Tab:
    """One page in a fresh browser context, with what it did recorded."""

    page: Page
    url: str
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Script errors, console errors (CSP violations among them) and failed assets."""

    def open(self, path: str) -> None:
        """Navigate to ``path`` on the server."""
        self.page.goto(self.url + path)

    def on_console(self, message: ConsoleMessage) -> None:
        # The document's own 4xx is logged as "Failed to load resource"; assets are
        # checked through their responses instead.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.problems.append(f"console: {message.text}")

    def on_response(self, response: PageResponse) -> None:
        if response.request.resource_type != "document" and response.status >= 400:
            self.problems.append(f"{response.status} for {response.url}")

    def on_dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def assert_clean(self) -> None:
        """Every request went to the server, and nothing popped up or broke."""
        assert self.requests, "the page made no requests"
        outside = [u for u in self.requests if not u.startswith(self.url + "/")]
        assert outside == [], f"requests left the server: {outside}"
        assert self.dialogs == [], f"dialogs opened: {self.dialogs}"
        assert self.problems == [], f"the page reported problems: {self.problems}"


def _ready(url: str) -> bool:
    try:
        return httpx.get(url + "/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless (skipped locally when it is missing, failed in CI)."""
    require_service(
        "Chromium",
        CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK),
        "apt-get install -y chromium fonts-noto-cjk (scripts/services.sh does it)",
    )
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@contextmanager
def running_up(root: Path, **settings: str) -> Iterator[Server]:
    """``nunchi up`` on a free loopback port, its data under ``root``, with ``NUNCHI_*``
    ``settings``; stopped with SIGTERM on exit, which must end it cleanly."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUNCHI_")}
    env.update(
        PYTHONUNBUFFERED="1",
        OMP_NUM_THREADS="1",
        OMP_THREAD_LIMIT="1",
        NUNCHI_DATA_DIR=str(root / "data"),
        **{f"NUNCHI_{name.upper()}": value for name, value in settings.items()},
    )
    args = [*nunchi_command(), "up", "--host", "127.0.0.1", "--port", str(port)]
    proc = WorkerProcess("nunchi-up", args, env, root / "nunchi-up.log")
    url = f"http://127.0.0.1:{port}"
    api = httpx.Client(base_url=url + "/api/v1", timeout=10)
    try:
        wait_for(lambda: _ready(url), 60, "nunchi up to be ready", alive=[proc])
        yield Server(url, proc, api, env)
    finally:
        api.close()
        code = proc.terminate()
    assert code == 0, f"nunchi up exited with {code} on SIGTERM:\n{proc.tail()}"
    assert "worker up stopped" in proc.tail(), "nunchi up did not stop its stages on SIGTERM"


@pytest.fixture(scope="module")
def server(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``nunchi up`` with auth off; webhooks go to a loopback receiver, retried once after
    a second."""
    with running_up(
        tmp_path_factory.mktemp("nunchi-up"),
        auth_disabled="true",
        outbound_allow_hosts='["127.0.0.1/32"]',
        webhook_schedule="[0, 1]",
    ) as up:
        yield up


@contextmanager
def open_tab(browser: Browser, url: str, *, fence: bool = True) -> Iterator[Tab]:
    """A page in a fresh context (no cookies, browser locale English) whose requests to any
    other host than ``url`` are recorded and (with ``fence``) refused. Playwright's request
    interception breaks EventSource reconnects (a routed stream is never re-opened, and
    never with Last-Event-ID), so live pages are tested unfenced: requests elsewhere are
    still recorded and fail :meth:`Tab.assert_clean`."""
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    tab = Tab(page, url)

    def route(route: Route) -> None:
        if route.request.url.startswith(url + "/"):
            route.continue_()
        else:
            route.abort()

    def on_request(request: Request) -> None:
        tab.requests.append(request.url)

    if fence:
        context.route("**/*", route)
    page.on("request", on_request)
    page.on("console", tab.on_console)
    page.on("pageerror", lambda error: tab.problems.append(f"script error: {error}"))
    page.on("response", tab.on_response)
    page.on("dialog", tab.on_dialog)
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture
def tab(browser: Browser, server: Server) -> Iterator[Tab]:
    """A fresh, fenced-in page on the ``server``."""
    with open_tab(browser, server.url) as opened:
        yield opened


def _job_link(page: Page, job_id: str) -> Locator:
    return page.locator(f'a[href="/jobs/{job_id}"]')


def test_jobs_page_is_korean_and_filters_by_status(
    server: Server, tab: Tab, tmp_path: Path
) -> None:
    batch = server.submit_batch([{"fail_attempts": 99, "payload": "실패"}, {"payload": "성공"}])
    server.wait_batch(batch)
    jobs = {j["input"]["fail_attempts"]: j["id"] for j in server.batch_jobs(batch)}
    failing, ok = jobs[99], jobs[0]
    page = tab.page

    tab.open("/jobs")
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    expect(page.get_by_role("heading", level=1)).to_have_text("작업")
    nav = page.get_by_role("navigation")
    expect(nav.get_by_role("link", name="작업", exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name="운영", exact=True)).to_be_visible()
    expect(page.locator("table.jobs thead th")).to_have_text(
        ["ID", "종류", "상태", "시도", "생성 시각", "완료 시각"]
    )
    expect(page.locator("tr", has=_job_link(page, failing)).locator(".badge")).to_have_text("실패")
    expect(page.locator("tr", has=_job_link(page, ok)).locator(".badge")).to_have_text("성공")
    shot = tmp_path / "jobs.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000, "the screenshot of /jobs is suspiciously small"

    # On a phone the table scrolls sideways; the page does not, and words stay whole.
    page.set_viewport_size({"width": 390, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
        "the page scrolls sideways on a phone"
    )
    badge = page.locator("#job-rows .badge").first.bounding_box()
    assert badge is not None and badge["width"] > badge["height"], f"badge broken up: {badge}"
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_label("상태").select_option(label="실패")
    page.get_by_label("배치 ID").fill(batch)
    page.get_by_role("button", name="필터 적용").click()
    expect(page).to_have_url(re.compile(r"[?&]status=failed(&|$)"))
    expect(page.locator("#job-rows tr")).to_have_count(1)
    expect(_job_link(page, failing)).to_be_visible()
    expect(_job_link(page, ok)).to_have_count(0)
    expect(page.get_by_label("상태")).to_have_value("failed")

    page.get_by_label("상태").select_option(label="성공")
    page.get_by_role("button", name="필터 적용").click()
    expect(page.locator("#job-rows tr")).to_have_count(1)
    expect(_job_link(page, ok)).to_be_visible()

    page.get_by_role("link", name="초기화").click()
    expect(page).to_have_url(tab.url + "/jobs")
    expect(_job_link(page, failing)).to_be_visible()
    tab.assert_clean()


def test_failed_job_shows_error_and_history_and_retries(server: Server, tab: Tab) -> None:
    # Fails every attempt the runtime gives it, then succeeds on the one after a retry.
    job_id = server.submit({"fail_attempts": MAX_ATTEMPTS, "payload": "다시"})
    server.wait_status(job_id, "failed")
    page = tab.page

    tab.open(f"/jobs/{job_id}")
    body = page.locator("#job-body")
    expect(body.locator(".facts .badge")).to_have_text("실패")
    expect(body.get_by_role("heading", name="오류")).to_be_visible()
    error = body.locator("#job-live > .error-box")
    expect(error).to_contain_text("DiagnosticFailure")
    expect(error).to_contain_text(f"planned failure on attempt {MAX_ATTEMPTS}")
    expect(body.get_by_role("heading", name="이력")).to_be_visible()
    failures = page.locator("ol.timeline > li.ev-attempt_failed")
    expect(failures).to_have_count(MAX_ATTEMPTS)
    expect(failures.first).to_contain_text("시도 실패")
    expect(failures.first).to_contain_text("1번째 시도")
    expect(page.locator("li.ev-dead_lettered")).to_contain_text("데드레터로 보내짐")
    expect(page.locator("li.ev-retried")).to_have_count(0)

    page.get_by_role("button", name="다시 시도").click()  # an htmx post: no navigation
    expect(page.get_by_role("status")).to_have_text("작업을 다시 대기열에 넣었습니다.")
    retried = page.locator("li.ev-retried")
    expect(retried).to_contain_text("재시도 요청됨 요청자: anonymous")
    expect(retried).not_to_contain_text("번째 시도")  # a retry request is not an attempt
    expect(page).to_have_url(f"{tab.url}/jobs/{job_id}")

    done = server.wait_status(job_id, "succeeded")
    assert done["attempts"] == MAX_ATTEMPTS + 1
    page.reload()
    expect(body.locator(".facts .badge")).to_have_text("성공")
    expect(body.locator(".facts")).to_contain_text(str(MAX_ATTEMPTS + 1))
    expect(body.get_by_role("heading", name="결과")).to_be_visible()
    expect(body).to_contain_text(f'"attempt": {MAX_ATTEMPTS + 1}')
    expect(page.locator("li.ev-succeeded")).to_contain_text(f"{MAX_ATTEMPTS + 1}번째 시도")
    expect(page.locator("ol.timeline > li.ev-attempt_failed")).to_have_count(MAX_ATTEMPTS)
    expect(page.get_by_role("button", name="다시 시도")).to_have_count(0)
    tab.assert_clean()


def test_english_switch_is_remembered(server: Server, tab: Tab) -> None:
    page = tab.page
    tab.open("/jobs")
    expect(page.locator("html")).to_have_attribute("lang", "ko")

    page.get_by_role("link", name="English", exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Jobs")
    expect(page.get_by_label("Status")).to_be_visible()

    page.get_by_role("navigation").get_by_role("link", name="Operations").click()
    expect(page).to_have_url(tab.url + "/ops")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Operations")
    tab.open("/jobs")
    expect(page.get_by_role("heading", level=1)).to_have_text("Jobs")

    page.get_by_role("link", name="한국어", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("작업")
    tab.open("/ops")
    expect(page.get_by_role("heading", level=1)).to_have_text("운영")
    tab.assert_clean()


def _stage_cell(page: Page, stage: str, column: str) -> Locator:
    """The Operations page's cell for ``stage`` under the header ``column``."""
    table = page.locator("#ops-panel table").first
    headers = table.locator("thead th").all_inner_texts()
    assert column in headers, headers
    row = table.locator("tbody tr", has=page.get_by_text(stage, exact=True))
    expect(row).to_have_count(1)
    return row.locator("td").nth(headers.index(column))


def _number(cell: Locator) -> int:
    return int(cell.inner_text().replace(",", ""))


def test_operations_page_counts_failures_and_refreshes(server: Server, tab: Tab) -> None:
    stage = "jobs.diagnostic.echo"
    batch = server.submit_batch([{"fail_attempts": 99}, {}])
    server.wait_batch(batch)
    page = tab.page

    tab.open("/ops")
    expect(page.get_by_role("heading", name="스테이지")).to_be_visible()
    assert _number(_stage_cell(page, stage, "처리")) >= 1
    assert _number(_stage_cell(page, stage, "실패")) >= MAX_ATTEMPTS
    dead = _stage_cell(page, stage, "데드레터")
    dead_before = _number(dead)
    assert dead_before >= 1

    # The panel refreshes itself (htmx, every few seconds): a new dead letter shows up
    # without reloading the page.
    # (the job turns failed just before the runtime counts its dead letter, so the baseline
    # may still rise by one from the batch above: expect a change, not an exact value)
    server.wait_status(server.submit({"fail_attempts": 99}), "failed")
    expect(dead).not_to_have_text(str(dead_before), timeout=15_000)
    assert _number(dead) > dead_before

    failed_link = page.locator('#ops-panel a[href="/jobs?kind=diagnostic.echo&status=failed"]')
    expect(failed_link).to_have_count(1)
    failed_link.click()
    expect(page.get_by_label("상태")).to_have_value("failed")
    expect(page.locator("#job-rows .badge").first).to_have_text("실패")
    tab.assert_clean()


def test_api_docs_load_from_the_server(tab: Tab) -> None:
    tab.open("/docs")
    expect(tab.page.locator(".swagger-ui .info .title")).to_contain_text("nunchi API")
    expect(tab.page.locator(".swagger-ui .opblock").first).to_be_visible()
    assert any(u.endswith("/openapi.json") for u in tab.requests)
    tab.assert_clean()


def test_untrusted_text_is_shown_as_text(server: Server, tab: Tab) -> None:
    job_id = server.submit({"payload": EVIL})
    server.wait_status(job_id, "succeeded")
    page = tab.page

    tab.open(f"/jobs/{job_id}")
    inputs = page.locator("#job-body pre")
    expect(inputs.first).to_contain_text(EVIL)  # the input
    expect(inputs.nth(1)).to_contain_text(EVIL)  # the result echoes it
    expect(page.locator("main img")).to_have_count(0)
    expect(page.locator("main script")).to_have_count(0)

    # Reflected into the filter form and into an error message.
    tab.open("/jobs?kind=" + quote(EVIL))
    expect(page.get_by_label("종류")).to_have_value(EVIL)
    expect(page.locator("main img")).to_have_count(0)
    tab.open("/jobs?status=" + quote(EVIL))
    expect(page.locator("main .flash")).to_contain_text(EVIL)
    expect(page.locator("main img, main script")).to_have_count(0)

    assert not [u for u in tab.requests if u.endswith("/x")], "the injected <img> loaded"
    tab.assert_clean()


def test_webhook_is_retried_then_redelivered_by_hand(server: Server, tab: Tab) -> None:
    page = tab.page
    first = Reply(500, b"busy " + EVIL.encode())
    with running_receiver([first], default=Reply(200, b"ok")) as receiver:
        r = server.api.post(
            "/jobs",
            json={
                "kind": "diagnostic.echo",
                "input": {"payload": "웹훅"},
                "callback_url": receiver.url(),
            },
        )
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]

        def delivered() -> bool:
            return any(
                d["subject_id"] == job_id and d["status"] == "delivered"
                for d in server.deliveries()
            )

        wait_for(delivered, JOB_TIMEOUT, "the webhook to be delivered", alive=[server.proc])
        assert receiver.count() == 2  # a 500, then a 200 on the schedule's retry

        tab.open(f"/jobs/{job_id}")
        section = page.locator("#job-body table.deliveries")
        expect(section.locator("tbody tr")).to_have_count(1)
        expect(section.locator(".badge")).to_have_text("전송됨")
        section.locator("a").first.click()

        expect(page.get_by_role("heading", level=1)).to_contain_text("웹훅 전송")
        attempts = page.locator("table.attempts tbody tr")
        expect(attempts).to_have_count(2)
        expect(attempts.nth(0)).to_contain_text("500")
        expect(attempts.nth(0)).to_contain_text("자동")
        expect(attempts.nth(1)).to_contain_text("200")
        attempts.nth(0).get_by_text("응답 본문 보기").click()
        expect(attempts.nth(0).locator("pre")).to_have_text("busy " + EVIL)
        expect(page.locator("main img, main script")).to_have_count(0)
        expect(page.locator("#delivery-body pre").first).to_contain_text(job_id)  # payload

        page.get_by_role("button", name="다시 보내기").click()  # an htmx post: no navigation
        expect(page.get_by_role("status")).to_contain_text("다시 보내도록 요청했습니다")
        wait_for(lambda: receiver.count() == 3, JOB_TIMEOUT, "the redelivery", alive=[server.proc])
        wait_for(delivered, JOB_TIMEOUT, "the redelivery to be recorded", alive=[server.proc])
        page.reload()
        expect(attempts).to_have_count(3)
        expect(attempts.nth(2)).to_contain_text("수동")
        expect(attempts.nth(2)).to_contain_text("anonymous")
        expect(attempts.nth(2)).to_contain_text("200")

    page.get_by_role("navigation").get_by_role("link", name="웹훅", exact=True).click()
    expect(page).to_have_url(tab.url + "/webhooks")
    expect(page.locator("#delivery-rows tr").first).to_contain_text("job.succeeded")
    tab.open("/ops")
    expect(page.locator('#ops-panel a[href="/webhooks?status=failed"]')).to_have_count(1)
    assert not [u for u in tab.requests if u.endswith("/x")], "the injected <img> loaded"
    tab.assert_clean()


def test_pages_need_a_login_where_configured(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """With NUNCHI_PAGES_LOGIN=always (a server behind a reverse proxy), a browser without a
    session is sent to the login form, and back to the page it asked for once logged in."""
    with running_up(tmp_path_factory.mktemp("nunchi-guarded"), pages_login="always") as up:
        made = subprocess.run(
            [*nunchi_command(), "keys", "create", "--name", "viewer", "--scope", "read"],
            env=up.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        key = made.stdout.strip().splitlines()[-1]
        assert key.startswith("nk_"), made.stdout
        with open_tab(browser, up.url) as tab:
            page = tab.page
            tab.open("/ops?lang=en")
            expect(page).to_have_url(re.compile(r"/login\?next=%2Fops%3Flang%3Den&lang=en$"))
            expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
            page.locator("#key").fill("nk_not-a-key")
            page.locator("form.login button[type=submit]").click()
            expect(page.locator("form.login")).to_contain_text("not valid")
            page.locator("#key").fill(key)
            page.locator("form.login button[type=submit]").click()
            expect(page).to_have_url(up.url + "/ops?lang=en")
            expect(page.get_by_role("heading", level=1)).to_have_text("Operations")
            expect(page.locator("header .right")).to_contain_text("viewer")
            # the 401 of the wrong key is the one expected problem; the rest must be clean
            tab.problems = [p for p in tab.problems if "401" not in p]
            tab.assert_clean()


def test_batch_page_moves_live_and_resumes_after_a_reconnect(
    browser: Browser, tmp_path: Path
) -> None:
    """The batch page follows its jobs over server-sent events: no reload, no polling; the
    server ends each stream after 2 s and the browser resumes from its last event."""
    total = 12
    with (
        running_up(tmp_path, auth_disabled="true", live_max_seconds="2") as server,
        open_tab(browser, server.url, fence=False) as tab,
    ):
        page = tab.page
        streams: list[Request] = []
        page.on("request", lambda r: streams.append(r) if r.url.endswith("/events") else None)
        navigations: list[str] = []
        page.on("framenavigated", lambda frame: navigations.append(frame.url))
        batch = server.submit_batch([{"delay_ms": 450, "payload": i} for i in range(total)])
        tab.open(f"/batches/{batch}")
        page.evaluate(
            """() => { window.seen = [];
                const note = () => { const p = document.querySelector('#batch-live progress');
                  if (p) window.seen.push(p.getAttribute('value')); };
                note(); new MutationObserver(note).observe(
                  document.getElementById('batch-live'), {childList: true, subtree: true}); }"""
        )
        expect(page.locator("#batch-live progress")).to_have_attribute(
            "value", str(total), timeout=JOB_TIMEOUT * 1000
        )
        seen = page.evaluate("window.seen")
        assert len({v for v in seen if v not in ("0", str(total))}) >= 3, seen  # moved live
        expect(page.locator("#batch-live .tile .badge.s-succeeded")).to_have_count(1)

        final = page.locator("#batch-body").get_attribute("data-live-last")
        with page.expect_request(lambda r: r.url.endswith("/events"), timeout=15_000):
            pass  # the server ends the stream after 2 s; the browser opens it again
        last_ids = [r.all_headers().get("last-event-id") for r in streams[1:]]
        assert all(last_ids), f"a reconnect did not say where it was: {last_ids}"
        assert last_ids[-1] == final  # it resumes from the last event it got
        page.wait_for_timeout(500)  # the resumed stream has nothing new to send ...
        assert page.locator("#batch-body").get_attribute("data-live-last") == final

        assert navigations == [server.url + f"/batches/{batch}"], navigations  # no reload
        others = [u for u in tab.requests if "/static/" not in u and not u.endswith("/events")]
        assert others == [server.url + f"/batches/{batch}"], others  # no polling
        tab.assert_clean()
