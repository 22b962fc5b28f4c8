"""The app contract: an app defined only inside the tests (``tests/apps/sample``) plugs in
through it and every part works (job kind, stream stage, background loop, table and
migration, API route, page with its own template and texts, navigation entry, home card, CLI
command); and every kind of every real app can be submitted from a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect
from typer.testing import CliRunner

from nunchi.apps import APPS
from nunchi.assembly import Platform, open_platform
from nunchi.cli import build
from nunchi.config import Settings
from nunchi.web.app import create_app
from tests.apps.sample import SAMPLE_APP, SAMPLE_EVENTS, SampleServices
from tests.integration.jobs.conftest import wait_for

ROOT = Path(__file__).resolve().parents[3]
HTML = {"Accept": "text/html"}


@pytest.fixture
def platform(db_url: str, tmp_path: Path) -> Iterator[Platform]:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=tmp_path / "data",
        database_url=db_url,
        bus_url="memory://",
        auth_disabled=True,
    )
    opened = open_platform(settings, apps=[*APPS, SAMPLE_APP])
    yield opened
    opened.close()


def test_the_sample_app_is_wired_from_its_declaration(platform: Platform) -> None:
    assert "sample.count" in platform.core.registry.names()
    assert {"jobs.sample.count", "sample.notes", "sample.ticker"} <= set(platform.part_names())
    assert "sample_notes" in inspect(platform.core.store.engine).get_table_names()
    assert isinstance(platform.services(SAMPLE_APP), SampleServices)


def test_its_kind_stage_and_loop_run(platform: Platform) -> None:
    services = platform.services(SAMPLE_APP)
    platform.start(["jobs.sample.count", "sample.notes", "sample.ticker"])
    try:
        job = platform.jobs.submit("sample.count", {"n": 3})
        platform.bus.ensure_topic(SAMPLE_EVENTS, 1)
        platform.bus.publish(SAMPLE_EVENTS, "안녕 <b>노트</b>".encode())
        wait_for(lambda: platform.jobs.get(job.id).status == "succeeded", what="the sample job")
        wait_for(lambda: services.notes() == ["안녕 <b>노트</b>"], what="the stage's row")
        wait_for(lambda: services.ticks >= 2, what="the background loop")
    finally:
        platform.stop()
    result = platform.jobs.get(job.id).result
    assert result is not None and result["counted"] == [0, 1, 2]


def test_its_api_page_navigation_and_card_are_served(platform: Platform) -> None:
    services = platform.services(SAMPLE_APP)
    services.add_note("<script>alert(1)</script>")
    app = create_app(platform.settings, platform=platform)
    with TestClient(app, base_url="http://localhost") as c:
        assert c.get("/api/v1/sample/notes").json() == {"notes": ["<script>alert(1)</script>"]}
        assert "/api/v1/sample/notes" in c.get("/openapi.json").json()["paths"]
        page = c.get("/sample", headers=HTML)
        assert page.status_code == 200 and "견본 페이지" in page.text
        assert "&lt;script&gt;" in page.text and "<script>alert" not in page.text
        assert "Sample page" in c.get("/sample?lang=en").text
        jobs_page = c.get("/jobs?lang=ko", headers=HTML).text
        assert 'href="/sample"' in jobs_page and "견본 앱" in jobs_page  # the navigation bar
        home = c.get("/", headers=HTML).text
        assert 'data-app="sample"' in home and "계약만으로" in home


def test_its_command_runs() -> None:
    cli = build([*APPS, SAMPLE_APP])
    r = CliRunner().invoke(cli, ["sample", "hello", "--name", "눈치"])
    assert r.exit_code == 0 and "sample says hello to 눈치" in r.output
    assert "sample" not in CliRunner().invoke(build(), ["--help"]).output


def test_no_file_outside_the_tests_names_the_sample_app() -> None:
    for path in (ROOT / "src").rglob("*"):
        if path.is_file() and path.suffix in (".py", ".html", ".json", ".toml", ".txt"):
            text = path.read_text("utf-8", errors="replace")
            assert "tests.apps" not in text and "SAMPLE_APP" not in text, path


def test_every_kind_of_every_app_can_be_submitted_from_a_fresh_process(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, bus_url="memory://")  # type: ignore[call-arg]
    platform = open_platform(settings)
    try:
        kinds = {name: platform.core.registry.get(name) for name in platform.core.registry.names()}
    finally:
        platform.close()
    assert {"diagnostic.echo", "text.analyze"} <= set(kinds)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUNCHI_")}
    env.update(NUNCHI_DATA_DIR=str(tmp_path / "fresh"), NUNCHI_BUS_URL="memory://")
    for name, kind in kinds.items():
        done = subprocess.run(
            [sys.executable, "-m", "nunchi.cli", "jobs", "submit", "--kind", name,
             "--input", json.dumps(kind.example, ensure_ascii=False)],
            env=env, capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, (name, done.stdout, done.stderr)
        assert "queued" in done.stdout, (name, done.stdout)
