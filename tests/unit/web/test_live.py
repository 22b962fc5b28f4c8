"""Live updates over server-sent events: the wire format, resuming from Last-Event-ID,
nudges from the job stages, heartbeats, and nothing left behind by a client that went away."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from nunchi.assembly import Platform, open_platform
from nunchi.jobs.kinds import echo_kind
from nunchi.runtime.nudges import Nudges
from nunchi.web.app import create_app
from nunchi.web.sse import ServerEvent

from .conftest import FAST_RETRY, make_settings


def _events(body: str) -> list[dict[str, str]]:
    events = []
    for block in body.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in fields:
            events.append(fields)
    return events


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[Platform, TestClient]]:
    """A platform whose streams end after 0.6 s, and a client of its web app."""
    settings = make_settings(tmp_path, auth_disabled=True, live_max_seconds=0.6)
    platform = open_platform(settings, core_kinds=[echo_kind(retry=FAST_RETRY)])
    try:
        with TestClient(create_app(settings, platform=platform), base_url="http://localhost") as c:
            yield platform, c
    finally:
        platform.close()


def test_an_event_is_one_json_line_and_ids_cannot_break_the_format() -> None:
    text = ServerEvent({"html": "<p>a\nb</p>", "n": "안녕"}, "html", "x\ny").encode().decode()
    assert text == 'id: x y\nevent: html\ndata: {"html":"<p>a\\nb</p>","n":"안녕"}\n\n'


def test_a_stream_sends_the_state_then_resumes_without_repeating_it(
    live: tuple[Platform, TestClient],
) -> None:
    platform, c = live
    batch = platform.jobs.submit_batch("diagnostic.echo", [{}, {}])
    first = c.get(f"/batches/{batch.id}/events")  # ends after 0.6 s
    assert first.headers["content-type"].startswith("text/event-stream")
    assert first.text.startswith("retry: ")
    (event,) = _events(first.text)
    assert event["event"] == "html" and event["id"] == "0.0.0.0"
    assert "progress" in json.loads(event["data"])["html"]
    again = c.get(f"/batches/{batch.id}/events", headers={"Last-Event-ID": event["id"]})
    assert _events(again.text) == []  # nothing changed since that event
    stale = c.get(f"/batches/{batch.id}/events", headers={"Last-Event-ID": "old"})
    assert len(_events(stale.text)) == 1
    assert platform.core.nudges.listening() == 0  # every stream's subscription closed


def test_job_stages_nudge_the_pages_of_their_jobs_and_batches(
    live: tuple[Platform, TestClient],
) -> None:
    platform, _ = live
    batch = platform.jobs.submit_batch("diagnostic.echo", [{}])
    (job,) = platform.jobs.list(batch=batch.id).items

    async def woken() -> tuple[bool, bool]:
        nudges: Nudges = platform.core.nudges
        with (
            nudges.subscribe(f"job:{job.id}") as on_job,
            nudges.subscribe(f"batch:{batch.id}") as on_batch,
        ):
            platform.start(["jobs.diagnostic.echo"])
            try:
                return await on_job.wait(10), await on_batch.wait(10)
            finally:
                platform.stop()

    assert asyncio.run(woken()) == (True, True)


def test_an_unknown_batch_is_a_404_before_any_stream(live: tuple[Platform, TestClient]) -> None:
    _, c = live
    r = c.get("/batches/" + "0" * 32 + "/events")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_the_home_cards_figures_are_pushed(live: tuple[Platform, TestClient]) -> None:
    platform, c = live
    events = _events(c.get("/home/events").text)
    figures = {json.loads(e["data"])["name"]: json.loads(e["data"])["value"] for e in events}
    expected = {
        a.name: f"{a.figure(platform.services(a)).value:,}"
        for a in platform.apps
        if a.figure is not None
    }
    assert figures == expected  # e.g. the vision app counts its demo classifier
    assert figures["text"] == "0" and figures["vision"] == "1"  # the shipped demo classifier
    assert {e["event"] for e in events} == {"figure"}


def test_the_operations_chart_is_pushed(live: tuple[Platform, TestClient]) -> None:
    _, c = live
    (event,) = _events(c.get("/ops/events").text)
    update = json.loads(event["data"])
    assert event["event"] == "chart" and update["id"] == "ops-timeline"
    assert [s["name"] for s in update["data"]["series"]] == ["성공", "실패"]
    assert len(update["data"]["x"]) == 60
    page = c.get("/ops", headers={"Accept": "text/html"}).text
    assert 'data-chart="ops-timeline"' in page and "/static/vendor/echarts/" in page
