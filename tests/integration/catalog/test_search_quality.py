"""Search quality over the imported nutrition and plant catalogs, on SQLite and PostgreSQL:
typos at the jamo level, initial consonants, Korean typed on an English keyboard, combined
with ranges; ranges, sorts and cursors past 1,000 hits; the same answers on both databases."""

from __future__ import annotations

import pytest

from nunchi.apps.catalog.query import Range, SearchQuery
from nunchi.apps.catalog.search import CatalogSearch
from nunchi.errors import InvalidInput


def names(search: CatalogSearch, kind: str, q: str, limit: int = 10, **kw: object) -> list[str]:
    page = search.search(SearchQuery(kind=kind, q=q, limit=limit, **kw))  # type: ignore[arg-type]
    return [item["name"] for item in page.items]


@pytest.mark.parametrize(("query", "expected", "how"), [
    ("김치찌게", "김치찌개", "fuzzy"),      # ㅐ/ㅔ
    ("떡뽁이", "떡볶이", "fuzzy"),          # tense consonant
    ("된장찌게", "된장찌개", "fuzzy"),
    ("ㄱㅊㅉㄱ", "김치찌개", "choseong"),
    ("ㄸㅂㅇ", "떡볶이", "choseong"),
    ("rlacl", "김치", None),               # 김치 typed in English mode
    ("EjrqhRdl", "떡볶이", "keyboard"),
])  # fmt: skip
def test_korean_typing_mistakes_find_the_dish(search: CatalogSearch, query: str,
                                              expected: str, how: str | None) -> None:
    page = search.search(SearchQuery(kind="food", q=query, limit=10))
    found = [(i["name"], i["how_matched"]) for i in page.items]
    assert any(expected in name for name, _ in found), found
    if how is not None:
        assert any(h == how for name, h in found if expected in name), found


def test_the_exact_dish_comes_first_for_a_typo(search: CatalogSearch) -> None:
    assert names(search, "food", "김치찌게", 1) == ["김치찌개"]
    assert names(search, "food", "떡뽁이", 1) == ["떡볶이"]


@pytest.mark.parametrize(("query", "expected"), [
    ("진달레", "진달래"), ("은방울꽂", "은방울꽃"), ("ㅌㄹ", "튤립"), ("xbfflq", "튤립"),
    ("tulip", "튤립"), ("Convallaria", "은방울꽃"), ("협죽도", "협죽도"),
])  # fmt: skip
def test_plant_names_are_found_however_typed(search: CatalogSearch, query: str,
                                             expected: str) -> None:
    assert expected in names(search, "plant", query, 5)


def test_text_combines_with_ranges_and_category(search: CatalogSearch) -> None:
    light = search.search(SearchQuery(kind="food", q="김치찌게", limit=50,
                                      ranges=(Range("energy_kcal", None, 50),)))
    assert light.items and all(i["numbers"]["energy_kcal"] <= 50 for i in light.items)
    assert all("김치" in i["name"] or "찌개" in i["name"] for i in light.items[:3])
    stew = search.search(SearchQuery(kind="food", q="ㄱㅊ", category="찌개 및 전골류", limit=20))
    assert stew.items and {i["category"] for i in stew.items} == {"찌개 및 전골류"}


def test_several_ranges_at_once_sorted_by_any_attribute(search: CatalogSearch) -> None:
    query = SearchQuery(kind="food", ranges=(Range("energy_kcal", 100, 200),
                                             Range("protein_g", 10, None)),
                        sort="-protein_g", limit=30)  # fmt: skip
    page = search.search(query)
    values = [i["numbers"]["protein_g"] for i in page.items]
    assert len(values) == 30 and values == sorted(values, reverse=True)
    assert all(100 <= i["numbers"]["energy_kcal"] <= 200 for i in page.items)
    assert all(i["numbers"]["protein_g"] >= 10 for i in page.items)


def _walk(search: CatalogSearch, query: SearchQuery) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    cursor = None
    while True:
        page = search.search(SearchQuery(kind=query.kind, q=query.q, ranges=query.ranges,
                                         sort=query.sort, limit=query.limit, cursor=cursor))
        out.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return out


def test_cursor_pages_go_past_1000_hits_in_order_without_repeats(search: CatalogSearch) -> None:
    rows = _walk(search, SearchQuery(kind="food", sort="energy_kcal", limit=100,
                                     ranges=(Range("energy_kcal", 0, None),)))
    assert len(rows) == 12_242
    ids = [r["id"] for r in rows]
    assert len(set(ids)) == len(ids)
    energy = [r["numbers"]["energy_kcal"] for r in rows]  # type: ignore[index]
    assert energy == sorted(energy)
    by_name = _walk(search, SearchQuery(kind="food", sort="-name", limit=100))
    assert len(by_name) == 12_242 and len({r["id"] for r in by_name}) == 12_242
    listed = [r["name"] for r in by_name]
    assert listed == sorted(listed, key=lambda n: n.encode(), reverse=True)  # type: ignore[attr-defined]


def test_text_results_page_past_1000_in_relevance_order(search: CatalogSearch) -> None:
    rows = _walk(search, SearchQuery(kind="food", q="피자", limit=100))
    ids = [r["id"] for r in rows]
    assert len(ids) > 2500 and len(set(ids)) == len(ids)
    assert all("피자" in str(r["name"]) + str(r["maker"] or "") for r in rows[:1500])
    scores = [r["score"] for r in rows[:100]]
    assert scores == sorted(scores, reverse=True)


def test_text_with_another_sort_sorts_the_matches(search: CatalogSearch) -> None:
    page = search.search(SearchQuery(kind="food", q="떡볶이", sort="energy_kcal", limit=20))
    energy = [i["numbers"]["energy_kcal"] for i in page.items]
    assert energy == sorted(energy) and all("떡볶이" in i["name"] for i in page.items[:5])
    assert page.truncated is False


def test_a_cursor_of_another_search_or_a_damaged_one_is_refused(search: CatalogSearch) -> None:
    page = search.search(SearchQuery(kind="food", q="피자", limit=5))
    assert page.next_cursor is not None
    with pytest.raises(InvalidInput, match="another search"):
        search.search(SearchQuery(kind="food", q="김밥", limit=5, cursor=page.next_cursor))
    with pytest.raises(InvalidInput, match="damaged"):
        search.search(SearchQuery(kind="food", q="피자", limit=5, cursor="!!not-a-cursor"))


# The first pages of fixed searches, as SQLite gave them when this test was written (keys, not
# ids): each database must give exactly these, so a difference between SQLite and PostgreSQL
# fails on whichever one drifted, even when only one of them runs.
_FIRST_PAGES = {
    "김치찌게": ["D306-266000000-0001", "D106-266280000-0001", "D306-266280000-0001",
                 "D106-266050000-0001", "D106-266200000-0001"],
    "ㄱㅊㅉㄱ": ["D106-259000000-0001", "D306-266000000-0001", "D406-259000000-0001",
                 "D106-266280000-0001", "D306-266280000-0001"],
    "rlacl": ["D109-412000000-0001", "D105-205000000-0001", "D305-205000000-0001",
              "D409-412000000-0001", "D306-266000000-0001"],
}  # fmt: skip
_LEAN_BY_PROTEIN = ["D108-387150000-0001", "D327-759000000-0001", "D307-325010000-0001",
                    "D107-335130000-0001", "D114-638000000-0001"]  # fmt: skip


def test_both_databases_give_the_same_first_pages(search: CatalogSearch) -> None:
    got = {q: [i["key"] for i in search.search(SearchQuery(kind="food", q=q, limit=5)).items]
           for q in _FIRST_PAGES}  # fmt: skip
    sorted_keys = [i["key"] for i in search.search(SearchQuery(
        kind="food", sort="-protein_g", limit=5, ranges=(Range("fat_g", 0, 5),))).items]
    assert got == _FIRST_PAGES
    assert sorted_keys == _LEAN_BY_PROTEIN
