"""`nunchi bench analyze`: against a real `nunchi up`, one JSON line with the figures."""

from __future__ import annotations

import pytest

from tests.unit.cli.support import bench_json


@pytest.mark.timeout(180)
def test_one_json_line_with_the_largest_and_an_oversize_request() -> None:
    out, _ = bench_json("analyze", "--seconds", "1")
    assert out["bench"] == "analyze_load"
    assert out["largest_request"]["status"] == 200 and out["largest_request"]["chars"] == 100_000
    assert out["oversize_request"]["status"] == 413
    for key in ("api_idle", "api_during_two_largest"):
        assert out[key]["p50_ms"] > 0 and out[key]["p99_ms"] >= out[key]["p50_ms"]
    assert sum(out["analyze_statuses_during_load"].values()) >= 1
