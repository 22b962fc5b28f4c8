"""Searches read from query parameters, and their cursors."""

from __future__ import annotations

import pytest

from nunchi.apps.catalog.query import Range, SearchQuery, decode_cursor, encode_cursor
from nunchi.errors import InvalidInput


def test_ranges_and_sorts_from_parameters() -> None:
    q = SearchQuery.from_params("food", {"q": " 김치  찌개 ", "energy_kcal_min": "100",
                                         "energy_kcal_max": "300", "protein_g_min": "5",
                                         "sort": "-protein_g", "limit": "5", "lang": "en"})
    assert q.q == "김치 찌개" and q.order == "-protein_g" and q.limit == 5
    assert q.ranges == (Range("energy_kcal", 100, 300), Range("protein_g", 5, None))
    assert SearchQuery(kind="food").order == "name"
    assert SearchQuery(kind="food", q="떡").order == "relevance"


@pytest.mark.parametrize(("params", "message"), [
    ({"color": "red"}, "unknown parameter"), ({"energy_kcal_min": "many"}, "must be a number"),
    ({"energy_kcal_min": "5", "energy_kcal_max": "1"}, "is above"),
    ({"limit": "1000"}, "limit"), ({"sort": "Bad Sort"}, "bad attribute"),
    ({"sort": "relevance"}, "needs a query"), ({"q": "x" * 201}, "at most"),
    ({"Energy_min": "1"}, "bad attribute"),
])  # fmt: skip
def test_bad_parameters_say_which(params: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        SearchQuery.from_params("food", params)


def test_a_cursor_belongs_to_its_search() -> None:
    query = SearchQuery(kind="food", q="피자", sort="energy_kcal")
    token = encode_cursor(query, {"v": 12.5, "i": 7})
    again = SearchQuery(kind="food", q="피자", sort="energy_kcal", cursor=token)
    assert decode_cursor(again) == {"f": query.fingerprint(), "v": 12.5, "i": 7}
    other = SearchQuery(kind="food", q="피자", sort="-energy_kcal", cursor=token)
    with pytest.raises(InvalidInput, match="another search"):
        decode_cursor(other)
    for bad in ("@@@", "x" * 700, "e30"):  # e30 = {} : no fingerprint
        with pytest.raises(InvalidInput):
            decode_cursor(SearchQuery(kind="food", cursor=bad))


def test_text_no_database_can_store_and_crafted_cursors_are_refused() -> None:
    with pytest.raises(InvalidInput, match="NUL"):
        SearchQuery(kind="food", q="김\x00치")
    with pytest.raises(InvalidInput, match="NUL"):
        SearchQuery(kind="food", category="찌개\x00")
    query = SearchQuery(kind="food", sort="energy_kcal")
    for position in ({"v": 1, "i": 2**70}, {"v": "x\x00", "i": 1}, {"v": True, "i": 1}):
        crafted = encode_cursor(query, position)  # the fingerprint is right: values are not
        with pytest.raises(InvalidInput, match="damaged"):
            decode_cursor(SearchQuery(kind="food", sort="energy_kcal", cursor=crafted))
