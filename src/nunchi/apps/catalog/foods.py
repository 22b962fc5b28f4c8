"""The food catalog: the MFDS nutrition table's columns as item attributes, its mapping,
its attribution, and nutrition facts scaled to a serving.

The table (전국통합식품영양성분정보(음식)표준데이터, 식품의약품안전처, data date 2023-12-27) gives
nutrients per 100 g or per 100 ml (``영양성분함량기준량``) and a serving weight (``식품중량``);
an item keeps both, so :func:`nutrition_facts` can scale to the serving.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nunchi.apps.catalog.mapping import ColumnMapping, Target
from nunchi.apps.catalog.records import ItemRecord, parse_serving

__all__ = [
    "FOOD_ATTRIBUTION",
    "FOOD_FILE",
    "FOOD_KIND",
    "FOOD_LICENCE",
    "FOOD_MAPPING",
    "FOOD_SOURCE",
    "NUTRIENTS",
    "SLIDERS",
    "Nutrient",
    "finish_food_records",
    "nutrient",
    "nutrition_facts",
]

FOOD_KIND = "food"
FOOD_FILE = "foods-mfds-2023-12-27.csv.gz"
"""The packaged table (``nunchi/apps/catalog/data``), built by
``python -m nunchi.training.catalog.foods`` from ``../shared/data/nutrition``."""
FOOD_SOURCE = "식품의약품안전처 전국통합식품영양성분정보(음식)표준데이터 (2023-12-27)"
FOOD_ATTRIBUTION = {
    "ko": "영양성분 자료: 식품의약품안전처, 전국통합식품영양성분정보(음식)표준데이터 "
          "(데이터 기준일 2023-12-27), 공공데이터",
    "en": "Nutrition data: Ministry of Food and Drug Safety (식품의약품안전처), national "
          "integrated food nutrition standard data, dishes (data date 2023-12-27), Korean "
          "public data",
}  # fmt: skip
FOOD_LICENCE = "Korean public data (공공데이터) of the Ministry of Food and Drug Safety: " \
    "attribute the source"


@dataclass(frozen=True)
class Nutrient:
    """A nutrient column of the table and the attribute it becomes."""

    attr: str
    column: str
    ko: str
    en: str
    unit: str


NUTRIENTS: tuple[Nutrient, ...] = (
    Nutrient("energy_kcal", "에너지(kcal)", "열량", "Energy", "kcal"),
    Nutrient("water_g", "수분(g)", "수분", "Water", "g"),
    Nutrient("protein_g", "단백질(g)", "단백질", "Protein", "g"),
    Nutrient("fat_g", "지방(g)", "지방", "Fat", "g"),
    Nutrient("ash_g", "회분(g)", "회분", "Ash", "g"),
    Nutrient("carbohydrate_g", "탄수화물(g)", "탄수화물", "Carbohydrate", "g"),
    Nutrient("sugars_g", "당류(g)", "당류", "Sugars", "g"),
    Nutrient("fiber_g", "식이섬유(g)", "식이섬유", "Dietary fibre", "g"),
    Nutrient("calcium_mg", "칼슘(mg)", "칼슘", "Calcium", "mg"),
    Nutrient("iron_mg", "철(mg)", "철", "Iron", "mg"),
    Nutrient("phosphorus_mg", "인(mg)", "인", "Phosphorus", "mg"),
    Nutrient("potassium_mg", "칼륨(mg)", "칼륨", "Potassium", "mg"),
    Nutrient("sodium_mg", "나트륨(mg)", "나트륨", "Sodium", "mg"),
    Nutrient("vitamin_a_ug_rae", "비타민 A(μg RAE)", "비타민 A", "Vitamin A", "μg RAE"),
    Nutrient("retinol_ug", "레티놀(μg)", "레티놀", "Retinol", "μg"),
    Nutrient("beta_carotene_ug", "베타카로틴(μg)", "베타카로틴", "Beta-carotene", "μg"),
    Nutrient("thiamin_mg", "티아민(mg)", "티아민", "Thiamin", "mg"),
    Nutrient("riboflavin_mg", "리보플라빈(mg)", "리보플라빈", "Riboflavin", "mg"),
    Nutrient("niacin_mg", "니아신(mg)", "니아신", "Niacin", "mg"),
    Nutrient("vitamin_c_mg", "비타민 C(mg)", "비타민 C", "Vitamin C", "mg"),
    Nutrient("vitamin_d_ug", "비타민 D(μg)", "비타민 D", "Vitamin D", "μg"),
    Nutrient("cholesterol_mg", "콜레스테롤(mg)", "콜레스테롤", "Cholesterol", "mg"),
    Nutrient("saturated_fat_g", "포화지방산(g)", "포화지방산", "Saturated fat", "g"),
    Nutrient("trans_fat_g", "트랜스지방산(g)", "트랜스지방산", "Trans fat", "g"),
)
_BY_ATTR = {n.attr: n for n in NUTRIENTS}

SLIDERS: tuple[tuple[str, float, float, float], ...] = (
    ("energy_kcal", 0, 900, 10), ("protein_g", 0, 60, 1), ("fat_g", 0, 60, 1),
    ("carbohydrate_g", 0, 100, 1), ("sugars_g", 0, 80, 1), ("sodium_mg", 0, 3000, 50),
)  # fmt: skip
"""The nutrient range sliders of the Food lens page: attribute, min, max, step (per 100)."""

_TEXTS = {"식품기원명": "origin", "대표식품명": "representative", "식품중분류명": "subcategory",
          "출처명": "source_name", "제공기관명": "provider", "데이터생성방법명": "method",
          "데이터생성일자": "created", "데이터기준일자": "reference_date"}  # fmt: skip

FOOD_MAPPING = ColumnMapping(
    (
        Target("식품코드", "key"), Target("식품명", "name"), Target("업체명", "maker"),
        Target("식품대분류명", "category"), Target("대표식품명", "search"),
        Target("식품중량", "serving"), Target("영양성분함량기준량", "basis"),
        *(Target(column, "text", attr) for column, attr in _TEXTS.items()),
        *(Target(n.column, "number", n.attr) for n in NUTRIENTS),
    ),
    null_values=frozenset({"해당없음"}),
)  # fmt: skip
"""How the MFDS columns become items (see ``COLUMNS.txt`` beside the source table)."""


def nutrient(attr: str) -> Nutrient | None:
    """The nutrient behind an attribute name, if it is one."""
    return _BY_ATTR.get(attr)


def finish_food_records(records: list[ItemRecord]) -> list[ItemRecord]:
    """Give each record its own attribution (the row's 출처명 and provider)."""
    for r in records:
        parts = [r.texts.get("source_name"), r.texts.get("provider")]
        seen = list(dict.fromkeys(p for p in parts if p))
        r.source_note = " · ".join(seen) or None
    return records


def _basis(texts: Mapping[str, str]) -> tuple[float, str]:
    parsed = parse_serving(texts.get("basis") or "100g")
    return (parsed.value, parsed.unit) if parsed is not None else (100.0, "g")


def nutrition_facts(item: Mapping[str, Any]) -> dict[str, Any]:
    """The nutrients of a food item per 100 g/ml and per serving (when it has a serving
    weight): ``{"basis", "serving", "factor", "rows": [{attr, ko, en, unit, per_100,
    per_serving}]}``; ``factor`` is serving / basis (None without a serving)."""
    attrs = item.get("attrs") or {}
    numbers: Mapping[str, float] = attrs.get("numbers", {})
    texts: Mapping[str, str] = attrs.get("texts", {})
    basis_value, basis_unit = _basis(texts)
    serving = numbers.get("serving_g") or numbers.get("serving_ml")
    factor = serving / basis_value if serving else None
    rows = []
    for n in NUTRIENTS:
        value = numbers.get(n.attr)
        if value is None:
            continue
        scaled = round(value * factor, 2) if factor is not None else None
        rows.append({"attr": n.attr, "ko": n.ko, "en": n.en, "unit": n.unit,
                     "per_100": value, "per_serving": scaled})  # fmt: skip
    return {
        "basis": texts.get("basis") or f"{basis_value:g}{basis_unit}",
        "serving": texts.get("serving"),
        "serving_value": serving,
        "serving_unit": "g" if numbers.get("serving_g") else ("ml" if serving else None),
        "factor": round(factor, 4) if factor is not None else None,
        "rows": rows,
    }
