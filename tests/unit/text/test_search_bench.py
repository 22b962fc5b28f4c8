"""The search benchmark runs end to end on a small generated catalog and reports its figures."""

from __future__ import annotations

import random

from benchmarks.search_index import generated_items, query_mix, run, typo

from nunchi.analyzers.text.hangul import search_key


def test_generated_items_are_seeded_and_plausible() -> None:
    items = generated_items(50)
    assert items == generated_items(50)
    assert all(len(texts) == 3 for _, texts in items)


def test_typo_changes_the_key_by_a_few_edits() -> None:
    rng = random.Random(0)
    changed = [typo("김치찌개 2인분", rng) for _ in range(20)]
    assert any(search_key(t) != search_key("김치찌개 2인분") for t in changed)


def test_query_mix_has_every_class() -> None:
    mix = query_mix(generated_items(200), 5)
    assert {k: len(v) for k, v in mix.items()} == {"keyword": 5, "fuzzy": 5, "choseong": 5,
                                                   "keyboard": 5}


def test_run_reports_latency_hits_build_and_memory() -> None:
    result = run(generated=2000, queries=5, food=None)
    gen = result["generated"]
    assert result["food"] is None
    assert gen["items"] == 2000 and gen["build_s"] >= 0 and gen["index_mib"] > 0
    for kind in ("keyword", "fuzzy", "choseong", "keyboard"):
        assert gen[kind]["p99_ms"] >= gen[kind]["p50_ms"] >= 0
        assert 0 <= gen[kind]["hit_at_10"] <= 1
    assert gen["keyword"]["hit_at_10"] == 1.0
