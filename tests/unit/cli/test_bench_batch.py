"""`nunchi bench batch`: one JSON line with the HTTP submit figures of each chosen run."""

from __future__ import annotations

import json
from typing import Any

import pytest
from benchmarks.batch_bench import BatchBenchConfig, spread

from tests.fixtures.services import port_open, require_service
from tests.unit.cli.support import assert_refused, bench_json, failed_kafka_run

TOP_KEYS = {
    "bench",
    "items",
    "repeats",
    "machine",
    "nunchi_sqlite",
    "nunchi_kafka",
    "celery_redis",
    "ratio_sqlite_vs_celery",
    "ratio_kafka_vs_celery",
    "goal_under_1s_met",
}
RUN_KEYS = {"items", "repeats", "p50_s", "min_s", "max_s", "runs_s", "items_per_s_p50"}


def _check_run(run: dict[str, Any], n: int, repeats: int) -> None:
    assert "error" not in run, run
    assert set(run) >= RUN_KEYS
    assert run["items"] == n and run["repeats"] == repeats
    assert len(run["runs_s"]) == repeats and all(s > 0 for s in run["runs_s"])
    assert run["min_s"] <= run["p50_s"] <= run["max_s"]
    assert run["min_s"] == min(run["runs_s"]) and run["max_s"] == max(run["runs_s"])
    assert run["items_per_s_p50"] == round(n / run["p50_s"])


@pytest.mark.timeout(60)
def test_sqlite_run_posts_every_item_over_http() -> None:
    out, stderr = bench_json(
        "batch", "--items", "200", "--repeats", "2", "--backends", "sqlite", "--json-only"
    )
    assert set(out) == TOP_KEYS
    assert out["bench"] == "batch" and out["items"] == 200 and out["repeats"] == 2
    assert out["machine"]["cpus"] >= 1
    run = out["nunchi_sqlite"]
    _check_run(run, 200, 2)
    # The stored batch counted every item (no worker runs, so all are still queued).
    assert run["last_batch_counts"] == {"queued": 200, "running": 0, "succeeded": 0, "failed": 0}
    assert run["request_bytes"] == len(
        json.dumps({"kind": "diagnostic.echo", "items": [{"payload": i} for i in range(200)]})
    )
    assert run["response_bytes"] > 0
    assert "SQLite" in run["store"] and "SQLite" in run["bus"]
    assert "`nunchi up --no-workers`" in run["server"]
    assert out["nunchi_kafka"] is None and out["celery_redis"] is None
    assert out["ratio_sqlite_vs_celery"] is None
    assert out["goal_under_1s_met"] == {"sqlite": run["max_s"] < 1.0, "kafka": None}
    assert "nunchi sqlite" not in stderr  # --json-only: no progress bars


@pytest.mark.redis
@pytest.mark.timeout(60)
def test_celery_peer_and_ratio() -> None:
    require_service("Redis", port_open("127.0.0.1", 6379), "start it on 127.0.0.1:6379")
    pytest.importorskip("celery")
    out, stderr = bench_json(
        "batch", "--items", "200", "--repeats", "2", "--backends", "celery,sqlite",
        "--redis-url", "redis://127.0.0.1:6379/13",  # its own database: a peer test uses 14
    )
    _check_run(out["nunchi_sqlite"], 200, 2)
    celery = out["celery_redis"]
    _check_run(celery, 200, 2)
    assert celery["queue_bytes"] > 0 and "200 messages" in celery["verified"]
    expected = celery["p50_s"] / out["nunchi_sqlite"]["p50_s"]
    assert out["ratio_sqlite_vs_celery"] == pytest.approx(expected, abs=0.01)
    assert "celery_redis" in stderr  # the summary table (no --json-only)


def test_failed_run_is_reported_in_the_json_and_the_exit_code() -> None:
    out = failed_kafka_run("batch", "--items", "5")
    assert out["goal_under_1s_met"] == {"sqlite": None, "kafka": None}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backends", "sqlite,rabbit"], "'rabbit'"),
        (["--items", "0"], "--items"),
        (["--items", "100001"], "--items"),
        (["--repeats", "0"], "--repeats"),
    ],
)
def test_bad_options_are_refused(args: list[str], message: str) -> None:
    assert_refused("batch", args, message)


def test_config_rejects_what_the_cli_would() -> None:
    with pytest.raises(ValueError, match="unknown backend"):
        BatchBenchConfig(backends=("sqlite", "redis"))
    with pytest.raises(ValueError, match="repeats must be at least 1"):
        BatchBenchConfig(repeats=0)


def test_spread_reports_median_fastest_and_slowest() -> None:
    assert spread([0.3, 0.1, 0.2, 0.5]) == {
        "p50_s": 0.25,
        "min_s": 0.1,
        "max_s": 0.5,
        "runs_s": [0.3, 0.1, 0.2, 0.5],
    }
