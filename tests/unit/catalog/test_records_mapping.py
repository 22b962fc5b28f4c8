"""Imported text into items: numbers, serving sizes, records, column mappings (CP949 CSV
included) and nutrition facts scaled to the serving."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nunchi.apps.catalog.foods import FOOD_MAPPING, nutrition_facts
from nunchi.apps.catalog.mapping import ColumnMapping
from nunchi.apps.catalog.records import ItemRecord, Serving, parse_number, parse_serving
from nunchi.errors import InvalidInput
from nunchi.inputs.tables import read_table


@pytest.mark.parametrize(("text", "value"), [
    ("12.5", 12.5), ("1,234", 1234.0), (" 3 ", 3.0), ("", None), (None, None), (".5", 0.5),
])  # fmt: skip
def test_numbers_read_from_text(text: str | None, value: float | None) -> None:
    assert parse_number(text) == value


@pytest.mark.parametrize("text", ["12g", "abc", "nan", "inf", "1.2.3"])
def test_anything_else_is_not_a_number(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_number(text)


@pytest.mark.parametrize(("text", "serving"), [
    ("600g", Serving(600, "g")), ("90ml", Serving(90, "ml")), ("1.5kg", Serving(1500, "g")),
    ("1205.", Serving(1205, "g")), ("350m", Serving(350, "ml")), ("", None), ("큰 그릇", None),
])  # fmt: skip
def test_serving_sizes(text: str, serving: Serving | None) -> None:
    assert parse_serving(text) == serving


def test_a_record_cleans_its_texts_and_weights_them() -> None:
    r = ItemRecord(kind="food", key=" k1 ", name=" 김치  찌개 ", maker="한솔 식품",
                   category="찌개", aliases=["김치찌개", "김치  찌개", ""], search=["찌개"])
    assert r.key == "k1" and r.name == "김치 찌개" and r.aliases == ["김치찌개"]
    assert r.search_texts() == [("김치 찌개", 1.0), ("김치찌개", 0.8), ("한솔 식품", 0.6),
                                ("찌개", 0.5)]  # the category repeats a search text: once


@pytest.mark.parametrize("bad", [
    {"kind": "Food"}, {"name": ""}, {"key": "x" * 201}, {"numbers": {"Energy": 1.0}},
    {"numbers": {"energy": float("nan")}}, {"numbers": {"energy": True}},
])  # fmt: skip
def test_a_record_refuses_what_it_cannot_store(bad: dict[str, object]) -> None:
    fields: dict[str, object] = {"kind": "food", "key": "k", "name": "이름", **bad}
    with pytest.raises(InvalidInput):
        ItemRecord(**fields)  # type: ignore[arg-type]


_CSV = ("제품명,제조사,분류,열량,가격,설명,별칭\n"
        "김치찌개,한솔식품,찌개,120,8000,매콤한 찌개,김치 찌개\n"
        "된장찌개,해당없음,찌개,90,,구수함,\n"
        ",빈이름,찌개,1,1,,\n")  # fmt: skip


def test_a_cp949_csv_reads_through_a_mapping_with_typed_attributes() -> None:
    table = read_table(_CSV.encode("cp949"), name="menu.csv")
    assert table.encoding is not None and table.encoding.lower() in ("cp949", "euc-kr")
    mapping = ColumnMapping.parse(
        "제품명=name,제조사=maker,분류=category,열량=energy_kcal,가격=number:price_won,"
        "설명=note,별칭=alias", null_values=["해당없음"])
    mapped = mapping.read("menu", table, source_note="우리 식당")
    assert mapped.skipped == 1  # the row without a name
    first, second = mapped.records
    assert (first.key, first.maker) == ("김치찌개|한솔식품", "한솔식품")
    assert first.aliases == ["김치 찌개"]
    assert first.numbers == {"energy_kcal": 120.0, "price_won": 8000.0}
    assert first.texts == {"note": "매콤한 찌개"} and first.source_note == "우리 식당"
    assert second.maker is None and second.numbers == {"energy_kcal": 90.0}


def test_a_number_column_with_text_names_the_rows() -> None:
    table = read_table("이름,열량\n가,10\n나,많음\n".encode())
    with pytest.raises(InvalidInput, match=r"row 3: 열량"):
        ColumnMapping.parse("이름=name,열량=number:energy_kcal").read("x", table)
    auto = ColumnMapping.parse("이름=name,열량=energy_kcal").read("x", table)
    assert auto.records[1].texts == {"energy_kcal": "많음"}  # judged a text column


@pytest.mark.parametrize(("spec", "message"), [
    ("열량=energy_kcal", "needs a name"), ("a=name,b=name", "two columns"),
    ("a=name,b=Bad", "bad mapping target"), ("a=name,b=weird:x", "number:<attr>"),
    ("a=name,b", "column=target"),
])  # fmt: skip
def test_bad_mappings_say_what_to_write(spec: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        ColumnMapping.parse(spec)


def test_a_mapping_file_as_json_or_lines(tmp_path: Path) -> None:
    as_json = tmp_path / "m.json"
    as_json.write_text(json.dumps({"이름": ["name", "search"], "kcal": "energy_kcal"}), "utf-8")
    as_lines = tmp_path / "m.txt"
    as_lines.write_text("# comment\n이름=name\n이름=search\nkcal=energy_kcal\n", "utf-8")
    assert ColumnMapping.from_file(as_json) == ColumnMapping.from_file(as_lines)
    table = read_table("이름,kcal\n떡\n".encode())
    with pytest.raises(InvalidInput, match="no column 'x'"):
        ColumnMapping.parse("x=name").read("t", table)


def test_the_mfds_mapping_scales_nutrients_to_the_serving() -> None:
    header = ",".join(t.column for t in dict.fromkeys(FOOD_MAPPING.targets))
    columns = [t.column for t in dict.fromkeys(FOOD_MAPPING.targets)]
    values = {c: "" for c in columns}
    values.update({"식품코드": "D1", "식품명": "김치찌개", "업체명": "해당없음",
                   "식품대분류명": "찌개 및 전골류", "식품중량": "400g",
                   "영양성분함량기준량": "100g",
                   "에너지(kcal)": "61", "단백질(g)": "4.5", "나트륨(mg)": "400"})  # fmt: skip
    row = ",".join(values[c] for c in columns)
    record = FOOD_MAPPING.read("food", read_table(f"{header}\n{row}\n".encode())).records[0]
    assert record.maker is None and record.numbers["serving_g"] == 400
    facts = nutrition_facts({"attrs": record.attrs()})
    by_attr = {r["attr"]: r for r in facts["rows"]}
    assert facts["factor"] == 4.0 and by_attr["energy_kcal"]["per_serving"] == 244.0
    assert by_attr["sodium_mg"]["per_serving"] == 1600.0 and "fat_g" not in by_attr
