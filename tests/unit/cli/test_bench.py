"""`nunchi bench pipeline`: one JSON line with the figures of each chosen run."""

from __future__ import annotations

from typing import Any

import pytest
from benchmarks.pipeline import BenchConfig, summarize

from tests.fixtures.services import port_open, require_service
from tests.unit.cli.support import assert_refused, bench_json, failed_kafka_run

TOP_KEYS = {
    "bench",
    "jobs",
    "machine",
    "config",
    "nunchi_sqlite",
    "nunchi_kafka",
    "celery_redis",
    "ratio_sqlite_vs_celery",
    "ratio_kafka_vs_celery",
    "goal_2x_met",
}
RUN_KEYS = {
    "jobs",
    "jobs_per_s",
    "p50_ms",
    "p99_ms",
    "submit_s",
    "wall_s",
    "succeeded",
    "failed",
    "workers",
}


def _check_run(run: dict[str, Any], n: int) -> None:
    assert "error" not in run, run
    assert set(run) >= RUN_KEYS
    assert run["jobs"] == n and run["succeeded"] == n and run["failed"] == 0
    assert run["jobs_per_s"] > 0
    assert 0 <= run["p50_ms"] <= run["p99_ms"] <= run["max_ms"]
    # Throughput is measured from the first submit to the last completion (wall_s is
    # rounded to the millisecond).
    wall = run["wall_s"]
    assert n / (wall + 0.001) - 0.1 <= run["jobs_per_s"] <= n / max(wall - 0.001, 1e-6) + 0.1


@pytest.mark.timeout(120)
def test_sqlite_run_prints_one_json_line() -> None:
    out, stderr = bench_json("pipeline", "--jobs", "50", "--backends", "sqlite", "--json-only")
    assert set(out) == TOP_KEYS
    assert out["bench"] == "pipeline" and out["jobs"] == 50
    assert out["machine"]["cpus"] >= 1 and out["machine"]["python"].count(".") == 2
    _check_run(out["nunchi_sqlite"], 50)
    assert "SQLite" in out["nunchi_sqlite"]["store"] and "SQLite" in out["nunchi_sqlite"]["bus"]
    assert out["nunchi_kafka"] is None and out["celery_redis"] is None
    assert out["ratio_sqlite_vs_celery"] is None
    assert out["goal_2x_met"] == {"sqlite": None, "kafka": None}
    assert "nunchi sqlite" not in stderr  # --json-only: no progress bars


@pytest.mark.redis
@pytest.mark.timeout(180)
def test_celery_run_and_ratio() -> None:
    require_service("Redis", port_open("127.0.0.1", 6379), "start it on 127.0.0.1:6379")
    pytest.importorskip("celery")
    out, stderr = bench_json(
        "pipeline", "--jobs", "30", "--backends", "celery,sqlite",
        "--concurrency", "1", "--redis-url", "redis://127.0.0.1:6379/14",
    )
    _check_run(out["celery_redis"], 30)
    _check_run(out["nunchi_sqlite"], 30)
    assert "prefork pool of 1" in out["celery_redis"]["workers"]
    expected = out["nunchi_sqlite"]["jobs_per_s"] / out["celery_redis"]["jobs_per_s"]
    assert out["ratio_sqlite_vs_celery"] == pytest.approx(expected, abs=0.01)
    assert out["goal_2x_met"]["sqlite"] is (out["ratio_sqlite_vs_celery"] >= 2.0)
    assert "celery_redis" in stderr  # the summary table (no --json-only)


def test_failed_run_is_reported_in_the_json_and_the_exit_code() -> None:
    failed_kafka_run("pipeline", "--jobs", "5")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backends", "sqlite,rabbit"], "'rabbit'"),
        (["--backends", ","], "(none given)"),
        (["--jobs", "0"], "--jobs"),
        (["--workers", "0"], "--workers"),
    ],
)
def test_bad_options_are_refused(args: list[str], message: str) -> None:
    assert_refused("pipeline", args, message)


def test_config_rejects_what_the_cli_would() -> None:
    with pytest.raises(ValueError, match="unknown backend"):
        BenchConfig(backends=("sqlite", "redis"))
    with pytest.raises(ValueError, match="jobs must be at least 1"):
        BenchConfig(jobs=0)


def test_summarize_uses_first_submit_to_last_completion() -> None:
    # 4 jobs submitted at t=10.0 .. 10.3 (the submit call ran from 10.0 to 10.5),
    # finished at 11.0 .. 12.0.
    sent = [10.0, 10.1, 10.2, 10.3]
    done = [11.0, 11.1, 11.5, 12.0]
    figures = summarize(10.0, 10.5, sent, done)
    assert figures["jobs_per_s"] == 2.0  # 4 jobs in 2 s
    assert figures["wall_s"] == 2.0 and figures["submit_s"] == 0.5
    assert figures["done_after_submit_s"] == 1.5
    # latencies 1000, 1000, 1300, 1700 ms: median 1150, nearest-rank p99 = the largest
    assert figures["p50_ms"] == 1150.0
    assert figures["p99_ms"] == 1700.0 == figures["max_ms"]
