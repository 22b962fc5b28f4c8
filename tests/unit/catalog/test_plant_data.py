"""The starter plant catalog: the packaged file loads; its safety rules hold and are enforced."""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

import pytest

from nunchi.apps.catalog import IMAGE_CLASSES, TOXICITY_LEVELS, load_catalog, load_starter_plants
from nunchi.apps.catalog.plant_data import PlantCatalog, parse_catalog, worst_level
from nunchi.errors import InvalidInput, NotFound

# The poisonous plants the brief asks for (자리공 is covered by the 미국자리공 entry).
REQUIRED_POISONOUS = {
    "dokmalpul": "독말풀",
    "tugukkot": "투구꽃",
    "oleander": "협죽도",
    "eunbangulkkot": "은방울꽃",
    "cheonnamseong": "천남성",
    "foxglove": "디기탈리스",
    "cheoljjuk": "철쭉",
    "michigwangipul": "미치광이풀",
    "miguk-jarigong": "미국자리공",
    "baksae": "박새",
    "dokminari": "독미나리",
    "donguinamul": "동의나물",
    "yeoro": "여로",
    "aegittongpul": "애기똥풀",
    "castor-bean": "피마자",
    "narcissus": "수선화",
    "kkotmureut": "꽃무릇",
    "ginkgo": "은행나무",
    "jumok": "주목",
    "butsunnamu": "붓순나무",
}
REQUIRED_HOUSE_AND_GARDEN = {
    "dieffenbachia",
    "pothos",
    "monstera",
    "peace-lily",
    "alocasia",
    "english-ivy",
    "poinsettia",
    "aloe",
    "lily",
    "tulip",
    "hyacinth",
    "hydrangea",
    "azalea",
}
# (edible, poisonous look-alike): each must list the other.
REQUIRED_PAIRS = [
    ("sanmaneul", "eunbangulkkot"),
    ("sanmaneul", "baksae"),
    ("chamnamul", "dokminari"),
    ("jindallae", "cheoljjuk"),
    ("gomchwi", "donguinamul"),
    ("wonchuri", "yeoro"),
    ("meowi", "teolmeowi"),
    ("dallae", "narcissus"),
    ("deodeok", "miguk-jarigong"),
]
FLOWER_CLASS_SLUGS = {
    "daisy": "daisy",
    "dandelion": "dandelion",
    "roses": "rose",
    "sunflowers": "sunflower",
    "tulips": "tulip",
}
_SLUG = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


def _raw() -> dict[str, Any]:
    text = resources.files("nunchi.apps.catalog").joinpath("data", "plants.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _entry(slug: str, name: str, **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "slug": slug,
        "name": name,
        "name_en": slug,
        "scientific_name": "Testus plantus",
        "family": "시험과 (Testaceae)",
        "category": "houseplant",
        "toxicity": {"people": "mild", "pets": "mild", "dogs": "mild", "cats": "mild"},
        "first_aid": ["먹었다면 119에 전화하세요.", "반려동물은 동물병원에 연락하세요."],
        "description": "시험용 식물입니다.",
        "sources": [{"title": "시험 자료", "publisher": "시험 기관", "kind": "government"}],
    }
    entry.update(extra)
    return entry


def _catalog(plants: list[dict[str, Any]]) -> dict[str, Any]:
    """A small valid catalog owned by the test: the packaged header plus the given plants."""
    raw = _raw()
    flowers = [
        _entry(f"flower-{label}", f"시험꽃{index}", images_class=label)
        for index, label in enumerate(IMAGE_CLASSES)
    ]
    return {
        **{k: raw[k] for k in ("version", "disclaimer", "levels", "emergency")},
        "plants": flowers + plants,
    }


def _parse(data: dict[str, Any]) -> PlantCatalog:
    return parse_catalog(json.dumps(data, ensure_ascii=False))


# --- the packaged catalog ----------------------------------------------------------------------


def test_packaged_file_loads_and_validates() -> None:
    catalog = load_catalog()
    plants = load_starter_plants()
    assert plants == list(catalog.plants)
    assert 50 <= len(plants) <= 70
    assert catalog.disclaimer.ko and catalog.disclaimer.en
    assert set(catalog.levels) == set(TOXICITY_LEVELS)


def test_file_is_pretty_printed_utf8() -> None:
    text = resources.files("nunchi.apps.catalog").joinpath("data", "plants.json").read_text("utf-8")
    assert "\\u" not in text, "Korean must be stored as UTF-8, not \\u escapes"
    assert text.startswith("{\n  ")


def test_slugs_are_unique_and_ascii() -> None:
    slugs = [entry["slug"] for entry in _raw()["plants"]]
    assert len(slugs) == len(set(slugs))
    bad = [slug for slug in slugs if not _SLUG.match(slug)]
    assert not bad


def test_raw_toxicity_values_are_from_the_allowed_set() -> None:
    for entry in _raw()["plants"]:
        for key in ("people", "pets", "dogs", "cats"):
            assert entry["toxicity"][key] in TOXICITY_LEVELS, (entry["slug"], key)


def test_every_look_alike_is_an_entry_or_a_plain_name_and_goes_both_ways() -> None:
    catalog = load_catalog()
    slugs = {entry.slug for entry in catalog.plants}
    for entry in catalog.plants:
        for alike in entry.look_alikes:
            assert (alike.slug is None) != (alike.name is None)
            if alike.slug is not None:
                assert alike.slug in slugs, (entry.slug, alike.slug)
                back = catalog.by_slug(alike.slug)
                assert any(b.slug == entry.slug for b in back.look_alikes), (entry.slug, alike.slug)


def test_every_entry_has_a_source_and_urls_are_https() -> None:
    for entry in load_starter_plants():
        assert entry.sources, entry.slug
        for source in entry.sources:
            assert source.title and source.publisher
            assert source.url is None or source.url.startswith("https://")


def test_the_five_flower_classes_map_to_entries() -> None:
    catalog = load_catalog()
    labelled = {e.images_class: e.slug for e in catalog.plants if e.images_class is not None}
    assert labelled == FLOWER_CLASS_SLUGS
    for label, slug in FLOWER_CLASS_SLUGS.items():
        assert catalog.for_image_class(label).slug == slug


def test_tulip_bulbs_are_flagged_toxic_for_pets() -> None:
    tulip = load_catalog().for_image_class("tulips")
    assert tulip.toxicity.pets in ("mild", "severe")
    assert any("알뿌리" in part for part in tulip.toxic_parts)


def test_required_poisonous_plants_are_present_and_not_marked_safe() -> None:
    catalog = load_catalog()
    for slug, name in REQUIRED_POISONOUS.items():
        entry = catalog.by_slug(slug)
        assert entry.name == name
        assert entry.toxicity.people == "severe", slug
        assert entry.edible is not True, slug


def test_required_house_and_garden_plants_are_toxic_to_pets() -> None:
    catalog = load_catalog()
    for slug in REQUIRED_HOUSE_AND_GARDEN:
        assert catalog.by_slug(slug).toxicity.pets in ("mild", "severe"), slug
    lily = catalog.by_slug("lily")
    assert lily.toxicity.cats == "severe"


def test_required_look_alike_pairs_are_listed_both_ways() -> None:
    catalog = load_catalog()
    for edible_slug, poison_slug in REQUIRED_PAIRS:
        edible, poison = catalog.by_slug(edible_slug), catalog.by_slug(poison_slug)
        assert edible.edible is True, edible_slug
        assert poison.edible is not True, poison_slug
        assert any(a.slug == poison_slug for a in edible.look_alikes), (edible_slug, poison_slug)
        assert any(a.slug == edible_slug for a in poison.look_alikes), (poison_slug, edible_slug)


def test_pets_none_only_with_a_non_toxic_list_source() -> None:
    for entry in load_starter_plants():
        if entry.toxicity.pets == "none":
            assert entry.toxicity.dogs == entry.toxicity.cats == "none", entry.slug
            assert any(s.kind == "non_toxic_list" for s in entry.sources), entry.slug
        assert entry.toxicity.pets == worst_level(entry.toxicity.dogs, entry.toxicity.cats)


def test_first_aid_calls_119_and_a_vet() -> None:
    for entry in load_starter_plants():
        assert any("119" in step for step in entry.first_aid), entry.slug
        assert any("동물병원" in step or "수의사" in step for step in entry.first_aid), entry.slug


def test_emergency_gives_only_the_verified_number() -> None:
    emergency = load_catalog().emergency
    assert [number.number for number in emergency.numbers] == ["119"]
    texts = [
        emergency.ko.people,
        emergency.ko.pets,
        emergency.ko.bring,
        emergency.ko.poison_centre,
        emergency.en.people,
        emergency.en.pets,
        emergency.en.bring,
        emergency.en.poison_centre,
    ]
    numbers = {found for text in texts for found in re.findall(r"\d{3,}", text)}
    assert numbers <= {"119"}, numbers


def test_lookup_by_korean_name_and_alias() -> None:
    catalog = load_catalog()
    assert catalog.find_by_name("명이나물") == catalog.by_slug("sanmaneul")
    assert catalog.find_by_name("아주 까리") == catalog.by_slug("castor-bean")
    assert catalog.find_by_name("없는풀") is None
    with pytest.raises(NotFound):
        catalog.by_slug("no-such-plant")
    with pytest.raises(NotFound):
        catalog.for_image_class("orchids")


# --- the rules reject bad data -----------------------------------------------------------------


def test_a_small_valid_catalog_parses() -> None:
    catalog = _parse(_catalog([_entry("test-plant", "시험풀")]))
    assert catalog.by_slug("test-plant").name == "시험풀"


def test_pets_none_without_a_non_toxic_list_is_rejected() -> None:
    plant = _entry(
        "test-plant",
        "시험풀",
        toxicity={"people": "none", "pets": "none", "dogs": "none", "cats": "none"},
    )
    with pytest.raises(InvalidInput, match="non_toxic_list"):
        _parse(_catalog([plant]))
    non_toxic = {"title": "비독성 목록", "publisher": "ASPCA", "kind": "non_toxic_list"}
    plant["sources"].append(non_toxic)
    assert _parse(_catalog([plant])).by_slug("test-plant").toxicity.pets == "none"


def test_pets_must_be_the_worse_of_dogs_and_cats() -> None:
    plant = _entry(
        "test-plant",
        "시험풀",
        toxicity={"people": "unknown", "pets": "unknown", "dogs": "unknown", "cats": "severe"},
    )
    with pytest.raises(InvalidInput, match="worse of the two"):
        _parse(_catalog([plant]))


def test_unknown_toxicity_level_is_rejected() -> None:
    plant = _entry(
        "test-plant",
        "시험풀",
        toxicity={"people": "safe", "pets": "mild", "dogs": "mild", "cats": "mild"},
    )
    with pytest.raises(InvalidInput, match="people"):
        _parse(_catalog([plant]))


def test_duplicate_slug_is_rejected() -> None:
    with pytest.raises(InvalidInput, match="more than one entry"):
        _parse(_catalog([_entry("twin", "쌍둥이풀"), _entry("twin", "다른풀")]))


def test_dangling_and_one_way_look_alikes_are_rejected() -> None:
    dangling = _entry(
        "test-plant", "시험풀", look_alikes=[{"slug": "ghost", "how_to_tell": "없는 식물입니다."}]
    )
    with pytest.raises(InvalidInput, match="unknown look-alike"):
        _parse(_catalog([dangling]))
    one_way = _entry(
        "test-a", "시험풀가", look_alikes=[{"slug": "test-b", "how_to_tell": "잎이 다릅니다."}]
    )
    with pytest.raises(InvalidInput, match="not back"):
        _parse(_catalog([one_way, _entry("test-b", "시험풀나")]))


def test_look_alike_needs_exactly_one_target() -> None:
    both = _entry(
        "test-plant",
        "시험풀",
        look_alikes=[
            {"slug": "flower-daisy", "name": "데이지", "how_to_tell": "둘 다 적으면 안 됩니다."}
        ],
    )
    with pytest.raises(InvalidInput, match="exactly one"):
        _parse(_catalog([both]))


def test_missing_or_doubled_image_class_is_rejected() -> None:
    data = _catalog([])
    data["plants"] = [p for p in data["plants"] if p.get("images_class") != "roses"]
    with pytest.raises(InvalidInput, match="image class"):
        _parse(data)
    doubled = _catalog([_entry("second-daisy", "두번째데이지", images_class="daisy")])
    with pytest.raises(InvalidInput, match="image class"):
        _parse(doubled)


def test_entry_without_sources_or_119_is_rejected() -> None:
    with pytest.raises(InvalidInput, match="sources"):
        _parse(_catalog([_entry("test-plant", "시험풀", sources=[])]))
    no_119 = _entry("test-plant", "시험풀", first_aid=["반려동물은 동물병원에 연락하세요."])
    with pytest.raises(InvalidInput, match="119"):
        _parse(_catalog([no_119]))


def test_insecure_source_url_is_rejected() -> None:
    plant = _entry(
        "test-plant",
        "시험풀",
        sources=[
            {
                "title": "자료",
                "publisher": "기관",
                "kind": "government",
                "url": "http://example.org/",
            }
        ],
    )
    with pytest.raises(InvalidInput, match="https"):
        _parse(_catalog([plant]))


def test_korean_name_shared_by_two_entries_is_rejected() -> None:
    with pytest.raises(InvalidInput, match="is used by"):
        twin = _entry("test-b", "다른풀", aliases=["같은풀"])
        _parse(_catalog([_entry("test-a", "같은풀"), twin]))


def test_broken_json_is_reported_as_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="not valid JSON"):
        parse_catalog("{not json")
