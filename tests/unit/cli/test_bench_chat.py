"""`nunchi bench chat`: the chat pipeline on real nunchi processes, one JSON line with the keys
the issue names (a short run on the embedded defaults; the Kafka run is the same code)."""

from __future__ import annotations

import pytest

from tests.unit.cli.support import bench_json


@pytest.mark.timeout(600)
def test_one_json_line_with_sustained_rate_latencies_and_the_analyzers_alone() -> None:
    out, _ = bench_json("chat", "--messages", "8000", "--seconds", "5", "--backends", "sqlite")
    assert out["bench"] == "chat" and out["messages"] == 8000
    assert "error" not in out, out.get("error")
    for key in ("sustained_msgs_per_s", "analyzers_only_msgs_per_s", "p50_ms_at_1000"):
        assert out[key] > 0, key
    assert out["p50_ms_at_1000"] <= out["p99_ms_at_1000"]
    assert out["latency_samples"] > 1000  # 5 s at 1,000 msg/s reached the page's stream
    expected = out["sustained_msgs_per_s"] / out["analyzers_only_msgs_per_s"]
    assert out["ratio_to_analyzers"] == pytest.approx(expected, rel=0.01)
    goals = {"sustained_msgs_per_s", "ratio_to_analyzers", "p99_ms_at_1000"}
    assert set(out["goals_met"]) == goals
    assert "kafka_postgres_two_workers" not in out
