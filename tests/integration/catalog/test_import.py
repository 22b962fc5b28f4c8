"""Imports on SQLite and PostgreSQL: a CP949 CSV with a column mapping, re-imports that update
rather than repeat, attribution per import and per item, and the packaged catalogs imported
once, again only when their data changes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nunchi.apps.catalog.mapping import ColumnMapping
from nunchi.apps.catalog.query import Range, SearchQuery
from nunchi.apps.catalog.records import ItemRecord
from nunchi.apps.catalog.search import CatalogSearch
from nunchi.apps.catalog.shipped import Shipped, ensure_shipped
from nunchi.apps.catalog.store import CatalogStore
from nunchi.inputs.tables import read_table
from tests.integration.catalog.conftest import open_store

_CSV = ("상품명,업체,분류,가격(원),무게,비고\n"
        "한라봉 선물세트,제주농원,과일,35000,3kg,설 선물\n"
        "유기농 진달래 화분,봄꽃화원,원예,12000,1.2kg,\n"
        "청송 사과즙,청송농협,음료,18000,2.4kg,30포\n")  # fmt: skip
_MAP = "상품명=name,업체=maker,분류=category,가격(원)=price_won,무게=serving,비고=text:note"


@pytest.fixture
def store(db_url: str) -> Iterator[CatalogStore]:
    opened, engine = open_store(db_url)
    yield opened
    engine.dispose()


def _import(store: CatalogStore, csv_text: str, source: str = "시장 조사 2026") -> int:
    table = read_table(csv_text.encode("cp949"), name="goods.csv")
    mapped = ColumnMapping.parse(_MAP).read("goods", table, source_note=source)
    source_id = store.add_source("goods", source, file="goods.csv", licence="CC BY 4.0")
    store.write("goods", mapped.records, source_id)
    store.finish_source(source_id, len(mapped.records))
    return source_id


def test_a_cp949_csv_imports_with_its_mapping_and_attribution(store: CatalogStore) -> None:
    source_id = _import(store, _CSV)
    search = CatalogSearch(store, sync_interval=0)
    page = search.search(SearchQuery(kind="goods", q="진달레 화분"))
    assert page.items[0]["name"] == "유기농 진달래 화분"
    assert page.items[0]["numbers"] == {"price_won": 12000.0, "serving_g": 1200.0}
    cheap = search.search(SearchQuery(kind="goods", ranges=(Range("price_won", None, 20000),),
                                      sort="-price_won"))
    assert [i["name"] for i in cheap.items] == ["청송 사과즙", "유기농 진달래 화분"]
    item = store.item("goods", page.items[0]["id"])
    assert item["source"]["name"] == "시장 조사 2026" and item["source"]["licence"] == "CC BY 4.0"
    assert item["source_note"] == "시장 조사 2026" and item["source_id"] == source_id
    assert store.sources("goods")[0]["rows"] == 3
    assert store.state("goods").items == 3  # type: ignore[union-attr]


def test_importing_again_updates_items_instead_of_repeating_them(store: CatalogStore) -> None:
    _import(store, _CSV)
    changed = _CSV.replace("35000", "39000")
    _import(store, changed)
    search = CatalogSearch(store, sync_interval=0)
    page = search.search(SearchQuery(kind="goods", q="한라봉"))
    assert len(page.items) == 1 and page.items[0]["numbers"]["price_won"] == 39000.0
    assert store.state("goods").items == 3  # type: ignore[union-attr]


def _toy(data: bytes) -> Shipped:
    def read(raw: bytes) -> list[ItemRecord]:
        return [ItemRecord(kind="toy", key=name, name=name) for name in raw.decode().split()]

    return Shipped("toy", "장난감 자료", "toy.txt", "CC0", read, data=data)


def test_packaged_data_is_imported_once_and_again_only_when_it_changes(
        store: CatalogStore) -> None:
    assert ensure_shipped(store, shipped=[_toy("곰인형 팽이 딱지".encode())]) == ["toy"]
    assert ensure_shipped(store, shipped=[_toy("곰인형 팽이 딱지".encode())]) == []
    search = CatalogSearch(store, sync_interval=0)
    assert search.search(SearchQuery(kind="toy", q="딱지")).items
    assert ensure_shipped(store, shipped=[_toy("곰인형 팽이 연".encode())]) == ["toy"]
    assert store.state("toy").items == 3  # type: ignore[union-attr]
    assert not search.search(SearchQuery(kind="toy", q="딱지")).items  # retired
    assert search.search(SearchQuery(kind="toy", q="연")).items[0]["name"] == "연"
    names = [i["name"] for i in search.search(SearchQuery(kind="toy")).items]
    assert names == sorted(["곰인형", "팽이", "연"], key=str.encode)


def test_another_process_sees_writes_through_the_version_check(db_url: str) -> None:
    writer, engine_a = open_store(db_url)
    reader, engine_b = open_store(db_url)
    try:
        _import(writer, _CSV)
        other = CatalogSearch(reader, sync_interval=0)  # as a second process would
        assert other.search(SearchQuery(kind="goods", q="사과즙")).items
        writer.write("goods", [ItemRecord(kind="goods", key="청송 사과즙|청송농협",
                                          name="청송 배즙", maker="청송농협")])
        writer.write("goods", [ItemRecord(kind="goods", key="new", name="보성 녹차")])
        assert other.search(SearchQuery(kind="goods", q="보성 녹차")).items
        renamed = other.search(SearchQuery(kind="goods", q="배즙")).items
        assert [i["name"] for i in renamed] == ["청송 배즙"]
        assert not [i for i in other.search(SearchQuery(kind="goods", q="사과즙")).items
                    if i["name"] == "청송 사과즙"]
    finally:
        engine_a.dispose()
        engine_b.dispose()


def test_two_processes_importing_the_same_data_at_once_leave_it_active(
        store: CatalogStore) -> None:
    records = [ItemRecord(kind="toy", key=n, name=n) for n in ("곰인형", "팽이", "딱지")]
    first = store.add_source("toy", "장난감 자료", data_version="v1")
    second = store.add_source("toy", "장난감 자료", data_version="v1")
    store.write("toy", records, second)  # the later import writes first
    store.write("toy", records, first)
    store.finish_source(first, 3, retire_older=True)
    store.finish_source(second, 3, retire_older=True)
    assert store.state("toy").items == 3  # type: ignore[union-attr]
    assert len(store.by_key("toy", ["곰인형", "팽이", "딱지"])) == 3
