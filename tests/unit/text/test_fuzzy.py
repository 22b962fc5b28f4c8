"""FuzzyIndex: typo-tolerant Korean catalog search (quality, filters, writes, bad input)."""

from __future__ import annotations

import csv
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nunchi.analyzers.text.fuzzy import HOW_MATCHED, FuzzyIndex, SearchHit
from nunchi.errors import Conflict, InvalidInput, NotFound
from tests.fixtures.services import require_service

FOOD = (Path(__file__).resolve().parents[3].parent / "shared" / "data" / "nutrition" /
        "mfds_dishes_2023-12-27.csv")

CATALOG = {
    1: ["김치찌개", ("맛있는식품", 0.6), ("찌개 및 전골류", 0.4)],
    2: ["김치찌개_돼지고기", ("맛있는식품", 0.6), ("찌개 및 전골류", 0.4)],
    3: ["된장찌개", ("한솔농원", 0.6), ("찌개 및 전골류", 0.4)],
    4: ["떡볶이", ("도미노분식", 0.6), ("분식류", 0.4)],
    5: ["진달래", ("푸른화원", 0.6), ("화훼류", 0.4)],
    6: ["개나리", ("푸른화원", 0.6), ("화훼류", 0.4)],
    7: ["피자_치즈 크레이프 (M)", ("도미노피자", 0.6), ("빵 및 과자류", 0.4)],
    8: ["7번가 스페셜피자 (L)", ("7번가피자", 0.6), ("빵 및 과자류", 0.4)],
    9: ["갈치찌개", ("바다식품", 0.6), ("찌개 및 전골류", 0.4)],
    10: ["김치", ("맛있는식품", 0.6), ("김치류", 0.4)],
    11: ["김치전", ("맛있는식품", 0.6), ("전류", 0.4)],
    12: ["아메리카노 아이스(ICED)", ("카페봄봄", 0.6), ("음료 및 차류", 0.4)],
    13: ["pizza margherita", ("Pizza Co", 0.6)],
}


@pytest.fixture
def index() -> FuzzyIndex:
    return FuzzyIndex.build(CATALOG.items())


def ids(hits: list[SearchHit]) -> list[int]:
    return [h.item_id for h in hits]


@pytest.mark.parametrize(("query", "expected"), [
    ("진달레", 5), ("김치찌게", 1), ("떡뽁이", 4), ("된장찌게", 3), ("김치찌개", 1),
])
def test_typos_find_the_right_item_first(index: FuzzyIndex, query: str, expected: int) -> None:
    hits = index.search(query)
    assert hits[0].item_id == expected


def test_typo_is_fuzzy_and_ranks_below_an_exact_match(index: FuzzyIndex) -> None:
    exact = index.search("김치찌개")[0]
    typo = index.search("김치찌게")[0]
    assert (exact.how_matched, typo.how_matched) == ("exact", "fuzzy")
    assert exact.score > typo.score


def test_initial_consonants(index: FuzzyIndex) -> None:
    hits = index.search("ㄱㅊㅉㄱ")
    assert set(ids(hits[:2])) == {1, 9}   # 김치찌개, 갈치찌개: both ㄱㅊㅉㄱ
    assert 2 in ids(hits)                  # 김치찌개_돼지고기 starts with it
    assert all(h.how_matched == "choseong" for h in hits)
    assert index.search("ㄱㅊ ㅉㄱ")[0].item_id in {1, 9}


def test_mixed_syllables_and_initials(index: FuzzyIndex) -> None:
    hits = index.search("김치ㅉㄱ")
    assert hits[0].item_id == 1
    assert 9 not in ids(hits)   # 갈치찌개 has the initials but not 김치


def test_word_typed_halfway_is_a_prefix(index: FuzzyIndex) -> None:
    hit = index.search("김치ㅉ")[0]
    assert (hit.item_id, hit.how_matched) == (1, "prefix")


@pytest.mark.parametrize(("query", "expected"), [
    ("rlacl", 10), ("rlaclWlro", 1), ("wlsekffo", 5), ("rlaclwlro", 1), ("rc", 10),
])
def test_korean_typed_on_an_english_keyboard(index: FuzzyIndex, query: str,
                                             expected: int) -> None:
    hit = index.search(query)[0]
    assert hit.item_id == expected
    assert hit.how_matched == "keyboard"


def test_keyboard_reading_of_a_latin_word_is_not_forced(index: FuzzyIndex) -> None:
    hit = index.search("pizza")[0]
    assert (hit.item_id, hit.how_matched) == (13, "prefix")


def test_words_may_match_different_fields(index: FuzzyIndex) -> None:
    hits = index.search("도미노 피자")
    assert hits[0].item_id == 7        # maker 도미노피자 and name 피자_...
    assert 4 not in ids(hits[:1])


def test_spacing_does_not_matter(index: FuzzyIndex) -> None:
    assert index.search("김치 찌개")[0].item_id == 1
    assert index.search("치즈크레이프")[0].item_id == 7
    assert index.search("아메리카노아이스")[0].item_id == 12


def test_latin_and_digits_inside_names(index: FuzzyIndex) -> None:
    assert index.search("7번가")[0].item_id == 8
    assert index.search("ICED")[0].item_id == 12
    assert index.search("iced")[0].item_id == 12


def test_how_matched_kinds(index: FuzzyIndex) -> None:
    assert index.search("김치")[0].how_matched == "exact"
    assert index.search("된장")[0].how_matched == "prefix"
    assert index.search("크레이프")[0].how_matched == "substring"
    assert {h.how_matched for h in index.search("김치찌개")} <= set(HOW_MATCHED)


def test_field_weight_ranks_names_over_makers() -> None:
    index = FuzzyIndex.build([(1, [("맛나분식", 0.5), "떡볶이"]), (2, ["맛나분식"])])
    assert ids(index.search("맛나분식")) == [2, 1]


def test_allowed_restricts_results(index: FuzzyIndex) -> None:
    assert ids(index.search("김치찌개", allowed={2})) == [2]
    mask = np.zeros(20, dtype=bool)
    mask[[2, 9]] = True
    assert set(ids(index.search("ㄱㅊㅉㄱ", allowed=mask))) == {2, 9}
    assert ids(index.search("김치찌개", allowed=np.array([9]))) == [9]
    assert index.search("김치찌개", allowed=set()) == []


def test_allowed_items_are_found_among_many_better_matches() -> None:
    items = [(i, [f"김치찌개 {i}호"]) for i in range(3000)] + [(5000, ["김치볶음밥"])]
    index = FuzzyIndex.build(items)
    assert ids(index.search("김치", allowed={5000})) == [5000]


def test_popularity_breaks_ties_and_can_lift_a_match(index: FuzzyIndex) -> None:
    plain = index.search("ㄱㅊㅉㄱ")
    assert {plain[0].item_id, plain[1].item_id} == {1, 9}
    assert index.search("ㄱㅊㅉㄱ", popularity={9: 1000})[0].item_id == 9
    assert index.search("ㄱㅊㅉㄱ", popularity={1: 1000})[0].item_id == 1
    counts = np.zeros(20)
    counts[2] = 1e6
    lifted = index.search("김치찌개", popularity=counts, popularity_weight=0.3)
    assert lifted[0].item_id == 2
    assert index.search("김치찌개", popularity=counts, popularity_weight=0)[0].item_id == 1


def test_add_update_remove() -> None:
    index = FuzzyIndex()
    index.add(1, ["진달래"])
    assert ids(index.search("진달레")) == [1]
    index.update(1, ["개나리"])
    assert index.search("진달래") == []
    assert ids(index.search("개나리")) == [1]
    assert index.remove(1) is True
    assert index.search("개나리") == [] and 1 not in index and len(index) == 0
    assert index.remove(1) is False
    with pytest.raises(NotFound):
        index.update(1, ["개나리"])
    index.add(2, ["철쭉"])
    with pytest.raises(Conflict):
        index.add(2, ["철쭉"])


def test_writes_on_a_built_index_and_compaction() -> None:
    index = FuzzyIndex.build(CATALOG.items(), delta_limit=3)
    index.remove(5)
    index.update(4, ["떡볶이_치즈"])
    index.add(100, ["진달래꽃"])
    assert ids(index.search("진달레"))[0] == 100
    assert ids(index.search("떡볶이")) == [4]
    for i in range(200, 205):   # beyond delta_limit: compacts by itself
        index.add(i, [f"장미 {i}"])
    assert len(index) == len(CATALOG) - 1 + 1 + 5
    assert ids(index.search("진달래")) == [100]
    assert ids(index.search("떡뽁이")) == [4]
    assert len(index.search("장미", limit=10)) == 5
    index.compact()
    assert ids(index.search("진달래")) == [100]


def test_searches_during_writes_see_whole_items() -> None:
    index = FuzzyIndex.build([(i, [f"장미 {i}"]) for i in range(500)], delta_limit=50)
    stop = threading.Event()
    errors: list[BaseException] = []

    def read() -> None:
        try:
            while not stop.is_set():
                for hit in index.search("장미", limit=20):
                    assert hit.how_matched in HOW_MATCHED
        except BaseException as e:  # surfaced below
            errors.append(e)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for t in readers:
        t.start()
    for i in range(500, 800):
        index.add(i, [f"장미 {i}"])
        index.remove(i - 400)
    stop.set()
    for t in readers:
        t.join(timeout=30)
    assert not errors
    assert len(index) == 500
    assert ids(index.search("장미 799"))[0] == 799
    assert 100 not in ids(index.search("장미 100", limit=1000))
    assert 99 in ids(index.search("장미 99", limit=5))


@pytest.mark.parametrize("query", ["", "   ", "가" * 201])
def test_empty_or_overlong_query_is_invalid(index: FuzzyIndex, query: str) -> None:
    with pytest.raises(InvalidInput):
        index.search(query)


@pytest.mark.parametrize("limit", [0, 1001, -1, True])
def test_bad_limit_is_invalid(index: FuzzyIndex, limit: int) -> None:
    with pytest.raises(InvalidInput, match="limit"):
        index.search("김치", limit=limit)


def test_bad_arguments_are_invalid(index: FuzzyIndex) -> None:
    with pytest.raises(InvalidInput):
        index.search(123)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        index.search("김치", popularity_weight=2)
    with pytest.raises(InvalidInput):
        index.search("김치", allowed=np.array([0.5]))
    with pytest.raises(InvalidInput):
        index.add("x", ["김치"])  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        index.add(99, "김치")
    with pytest.raises(InvalidInput):
        index.add(99, [("김치", 0)])
    with pytest.raises(InvalidInput):
        FuzzyIndex.build([(1, ["a"]), (1, ["b"])])


def test_garbage_and_long_queries_do_not_crash(index: FuzzyIndex) -> None:
    assert index.search("!!! ???") == []
    assert index.search("😀😀") == []
    # Past six words the rest are ignored; every word kept must match (no item has all).
    assert index.search("김치찌개 된장찌개 떡볶이 진달래 개나리 피자 갈치 아메리카노") == []
    assert ids(index.search("김치 찌개 돼지 고기 맛있는 식품 없는말 없는말"))[0] == 2
    assert isinstance(index.search("가" * 200), list)
    assert isinstance(index.search("ㅏㅏㅏ"), list)


@settings(max_examples=150, deadline=None)
@given(st.text(min_size=1, max_size=60).filter(lambda s: s.strip()))
def test_any_query_returns_ranked_hits(query: str) -> None:
    index = FuzzyIndex.build(CATALOG.items())
    hits = index.search(query, limit=5)
    assert len(hits) <= 5
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(h.how_matched in HOW_MATCHED and h.item_id in CATALOG for h in hits)


def test_empty_index_finds_nothing() -> None:
    assert FuzzyIndex().search("김치") == []
    assert FuzzyIndex.build([]).search("ㄱㅊ") == []


@pytest.fixture(scope="module")
def food() -> tuple[FuzzyIndex, dict[int, str]]:
    require_service("MFDS food table", FOOD.is_file(), f"expected {FOOD} (shared/data)")
    with FOOD.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    names = {i: r["식품명"] for i, r in enumerate(rows)}
    index = FuzzyIndex.build(
        (i, [r["식품명"], (r["업체명"], 0.6), (r["대표식품명"], 0.5)]) for i, r in enumerate(rows))
    return index, names


@pytest.mark.parametrize(("query", "expected"), [
    ("김치찌게", "김치찌개"), ("떡뽁이", "떡볶이"), ("된장찌게", "된장찌개"),
    ("rlaclWlro", "김치찌개"), ("ㄱㅊㅉㄱ", None), ("꽃개탕", "꽃게탕"),
])
def test_real_food_names(food: tuple[FuzzyIndex, dict[int, str]], query: str,
                         expected: str | None) -> None:
    index, names = food
    hits = index.search(query)
    assert hits, query
    if expected is not None:
        assert names[hits[0].item_id] == expected
    else:
        assert names[hits[0].item_id] in {"김치찌개", "갈치찌개"}


def test_odd_item_texts_are_indexed_without_trouble() -> None:
    index = FuzzyIndex.build([(1, ["", "!!!"]), (2, ["😀"]), (3, ["가" * 1000]), (4, ["a"]),
                              (-5, ["김치"])])
    assert ids(index.search("가가가가")) == [3]
    assert ids(index.search("a")) == [4]
    assert ids(index.search("김치")) == [-5]
    index.add(6, ["!!"])
    index.remove(3)
    index.compact()
    assert index.search("가가") == [] and len(index) == 5
