"""`nunchi jobs submit|wait|list|show|retry` against real SQLite stores built from settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nunchi.assembly import open_platform
from nunchi.cli import build
from nunchi.config import Settings, get_settings
from nunchi.jobs.lifecycle import record_dead_letter
from nunchi.store.types import utcnow
from tests.fixtures.platforms import open_job_service

app = build()

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


@pytest.fixture
def running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """A platform (every stage, SQLite store and log) running in this process, while the CLI
    opens its own connections to the same files, as with `nunchi up` in another terminal."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NUNCHI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "200")
    for name in ("NUNCHI_DATABASE_URL", "NUNCHI_BUS_URL"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    settings = get_settings()
    platform = open_platform(settings)
    platform.start()
    try:
        yield settings
    finally:
        platform.stop(10.0)
        platform.close()
        get_settings.cache_clear()


def test_submit_a_batch_and_wait_for_it(running: Settings, tmp_path: Path) -> None:
    items = tmp_path / "items.jsonl"
    items.write_text('{"payload": "가"}\n\n{"fail_attempts": 1}\n{"fail_attempts": 99}\n',
                     encoding="utf-8")
    r = runner.invoke(app, ["jobs", "submit", "diagnostic.echo", "--items", str(items),
                            "--wait", "--timeout", "60"])
    # one job fails for good: exit 1 after all three are final
    assert r.exit_code == 1, r.output
    assert "3 job(s)" in r.output
    assert "2 succeeded, 1 failed, 0 not finished, of 3" in r.output
    batch_id = r.output.split("batch ")[1].split()[0]
    r = runner.invoke(app, ["jobs", "wait", "--batch", batch_id, "--timeout", "5"])
    assert r.exit_code == 1 and "2 succeeded, 1 failed" in r.output


def test_submit_one_job_and_wait(running: Settings) -> None:
    r = runner.invoke(app, ["jobs", "submit", "diagnostic.echo", "--input", '{"payload": "안녕"}',
                            "--wait", "--timeout", "60"])
    assert r.exit_code == 0, r.output
    job_id = r.output.split("job ")[1].split()[0]
    assert f"job {job_id} succeeded" in r.output
    with open_job_service(running) as service:
        assert service.get(job_id).result == {"echo": "안녕", "attempt": 1}


def test_items_from_stdin_then_wait_for_one_job(running: Settings) -> None:
    r = runner.invoke(app, ["jobs", "submit", "diagnostic.echo", "--items", "-"],
                      input='{"payload": "하나"}\n{"payload": "둘"}\n')
    assert r.exit_code == 0, r.output
    assert "2 job(s)" in r.output
    batch_id = r.output.split("batch ")[1].split()[0]
    with open_job_service(running) as service:
        jobs = service.list(batch=batch_id).items
    assert sorted(j.input["payload"] for j in jobs) == ["둘", "하나"]
    r = runner.invoke(app, ["jobs", "wait", jobs[0].id, "--timeout", "60"])
    assert r.exit_code == 0, r.output
    assert f"job {jobs[0].id} succeeded" in r.output


def test_empty_stdin_is_refused(settings: Settings) -> None:
    r = runner.invoke(app, ["jobs", "submit", "diagnostic.echo", "--items", "-"], input="\n")
    assert r.exit_code == 2, r.output
    assert "stdin holds no items" in r.output


def test_a_file_named_stdin_is_read_as_a_file(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "stdin").write_text('{"payload": "파일"}\n{"payload": "둘"}\n', encoding="utf-8")
    r = runner.invoke(app, ["jobs", "submit", "diagnostic.echo", "--items", "stdin"],
                      input='{"payload": "not this"}\n')
    assert r.exit_code == 0, r.output
    assert "2 job(s)" in r.output
    with open_job_service(settings) as service:
        payloads = sorted(j.input["payload"] for j in service.list().items)
    assert payloads == ["둘", "파일"]


def test_wait_needs_a_job_or_a_batch(settings: Settings) -> None:
    r = runner.invoke(app, ["jobs", "wait"])
    assert r.exit_code == 2 and "give a job id or --batch" in r.output


def test_submit_repeat_is_a_batch(running: Settings) -> None:
    r = runner.invoke(app, ["jobs", "submit", "diagnostic.echo", "--repeat", "50", "--wait",
                            "--timeout", "60"])
    assert r.exit_code == 0, r.output
    assert "50 succeeded, 0 failed, 0 not finished, of 50" in r.output


def test_wait_without_workers_times_out_with_a_hint(settings: Settings) -> None:
    r = runner.invoke(app, ["jobs", "submit", "diagnostic.echo", "--repeat", "2", "--wait",
                            "--timeout", "0.3"])
    assert r.exit_code == 3, r.output
    assert "0 succeeded, 0 failed, 2 not finished" in r.output
    assert "nunchi up" in r.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--input", "{oops"], "--input is not JSON"),
        (["--input", "[1]"], "must be a JSON object"),
        (["--input", '{"delay_ms": -5}'], "delay_ms"),
        (["--items", "missing.jsonl"], "cannot read items file"),
        (["--items", "x.jsonl", "--repeat", "3"], "not both"),
    ],
)
def test_submit_rejects_bad_input_and_stores_nothing(
    settings: Settings, args: list[str], message: str
) -> None:
    r = runner.invoke(app, ["jobs", "submit", "diagnostic.echo", *args])
    assert r.exit_code == 2, r.output
    assert message in r.output
    with open_job_service(settings) as service:
        assert service.list().items == []


def test_submit_items_names_the_bad_line(settings: Settings, tmp_path: Path) -> None:
    items = tmp_path / "items.jsonl"
    items.write_text('{}\n{"delay_ms": 1}\nnot json\n', encoding="utf-8")
    r = runner.invoke(app, ["jobs", "submit", "diagnostic.echo", "--items", str(items)])
    assert r.exit_code == 2
    assert "line 3 of" in r.output
    with open_job_service(settings) as service:
        assert service.list().items == []


def test_submit_unknown_kind(settings: Settings) -> None:
    r = runner.invoke(app, ["jobs", "submit", "no.such.kind"])
    assert r.exit_code == 2
    assert "no.such.kind" in r.output
