"""`nunchi bench search`: one JSON line with p50 / p99 of keyword, range, fuzzy and LIKE-scan
queries over the food catalog and a generated one (small here; 1,000,000 by default)."""

from __future__ import annotations

import pytest

from tests.unit.cli.support import bench_json


@pytest.mark.timeout(600)
def test_one_json_line_keyed_by_catalog_and_query() -> None:
    out, _ = bench_json("search", "--generated", "3000", "--queries", "10", "--json-only")
    for catalog in ("food_12k", "generated_3000"):
        for query in ("keyword", "range", "fuzzy", "like_scan"):
            p50, p99 = out[f"{catalog}.{query}.p50_ms"], out[f"{catalog}.{query}.p99_ms"]
            assert 0 < p50 <= p99, (catalog, query)
        assert 0 <= out[f"{catalog}.fuzzy.hit_at_20"] <= 1
