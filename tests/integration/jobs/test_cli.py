"""`nunchi jobs list|show|retry` against a real SQLite store built from the settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nunchi.cli import app
from nunchi.config import Settings, get_settings
from nunchi.jobs.factory import open_job_service
from nunchi.jobs.lifecycle import record_dead_letter
from nunchi.store.types import utcnow

runner = CliRunner()


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NUNCHI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NUNCHI_BUS_URL", "memory://")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("NUNCHI_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def fail(settings: Settings, job_id: str) -> None:
    with open_job_service(settings) as service, service.sessions.begin() as s:
        error = {"type": "ValueError", "message": "bad pixels", "traceback": "Traceback: here"}
        assert record_dead_letter(s, job_id, error, {"type": "ValueError"}, utcnow()) is not None


def test_list_show_retry(settings: Settings) -> None:
    with open_job_service(settings) as service:
        ok = service.submit("diagnostic.echo", {"payload": "안녕"})
        bad = service.submit("diagnostic.echo", {"fail_attempts": 9})
    fail(settings, bad.id)

    r = runner.invoke(app, ["jobs", "list"], terminal_width=200)
    assert r.exit_code == 0, r.output
    assert ok.id in r.output and bad.id in r.output and "failed" in r.output

    r = runner.invoke(app, ["jobs", "list", "--status", "failed"], terminal_width=200)
    assert bad.id in r.output and ok.id not in r.output

    r = runner.invoke(app, ["jobs", "list", "--limit", "1"], terminal_width=200)
    assert bad.id in r.output and ok.id not in r.output and f"--cursor {bad.id}" in r.output

    r = runner.invoke(app, ["jobs", "show", bad.id], terminal_width=200)
    assert r.exit_code == 0, r.output
    assert "ValueError: bad pixels" in r.output and "dead_lettered" in r.output
    assert "Traceback: here" in r.output

    r = runner.invoke(app, ["jobs", "show", ok.id], terminal_width=200)
    assert "안녕" in r.output

    r = runner.invoke(app, ["jobs", "retry", bad.id, "--actor", "dora"])
    assert r.exit_code == 0, r.output
    assert "queued again" in r.output
    with open_job_service(settings) as service:
        detail = service.get(bad.id)
    assert detail.status == "queued"
    assert (detail.events[-1].type, detail.events[-1].actor) == ("retried", "dora")


def test_retry_batch(settings: Settings) -> None:
    with open_job_service(settings) as service:
        batch = service.submit_batch("diagnostic.echo", [{}, {}, {}])
        ids = [j.id for j in service.list(batch=batch.id).items]
    fail(settings, ids[0])
    fail(settings, ids[1])
    r = runner.invoke(app, ["jobs", "retry", "--batch", batch.id])
    assert r.exit_code == 0, r.output
    assert "queued 2 failed job(s)" in r.output


def test_errors_are_clear(settings: Settings) -> None:
    r = runner.invoke(app, ["jobs", "show", "0" * 32])
    assert r.exit_code == 2 and "no job" in r.output
    r = runner.invoke(app, ["jobs", "list", "--status", "done"])
    assert r.exit_code == 2 and "unknown status 'done'" in r.output
    r = runner.invoke(app, ["jobs", "retry"])
    assert r.exit_code == 2 and "give a job id or --batch" in r.output
    with open_job_service(settings) as service:
        job = service.submit("diagnostic.echo", {})
    r = runner.invoke(app, ["jobs", "retry", job.id])
    assert r.exit_code == 2 and "only failed jobs can be retried" in r.output
    r = runner.invoke(app, ["jobs", "list", "--kind", "nothing"])
    assert r.exit_code == 0 and "no jobs match" in r.output
