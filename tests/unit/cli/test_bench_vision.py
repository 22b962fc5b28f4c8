"""`nunchi bench vision`: identify jobs end to end beside the bare backbone + head, one JSON
line with the figures the issue names."""

from __future__ import annotations

import pytest

from tests.unit.cli.support import bench_json


@pytest.mark.timeout(300)
def test_one_json_line_with_identify_bare_and_overhead() -> None:
    out, _ = bench_json("vision", "--images", "3", "--latency-images", "2", "--rounds", "1")
    assert out["bench"] == "vision" and out["images"] == 3 and out["latency_jobs"] == 2
    assert out["identify_images_per_s"] > 0 and out["bare_images_per_s"] > 0
    expected = out["bare_images_per_s"] / out["identify_images_per_s"] - 1
    # the printed rates are rounded to 0.01, which moves a ratio of slow rates by a few percent
    assert out["overhead_ratio"] == pytest.approx(expected, rel=0.03, abs=0.01)
    for run in ("identify", "bare"):
        assert 0 < out[f"{run}_p50_ms"] <= out[f"{run}_p99_ms"]
