"""Identify jobs end to end on SQLite and PostgreSQL with a fake classifier: Food lens
(nutrition scaled to the serving, alternatives when unsure, a food project first), Plant
guard (a warning card, candidates when unsure, never "safe", the emergency help), and the
rankings they feed (last hour vs all time, a retried job counted once)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from nunchi.apps import APPS
from nunchi.apps.catalog.app import catalog_app
from nunchi.apps.catalog.services import CatalogServices
from nunchi.assembly import Platform, open_platform
from nunchi.config import Settings
from nunchi.store.types import utcnow
from nunchi.web.app import create_app
from tests.integration.jobs.conftest import wait_for
from tests.unit.catalog.fakes import FakeClassifier, guess

FAKE = FakeClassifier()
APP = catalog_app(lambda core: FAKE)


@pytest.fixture(scope="module")
def platform(module_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    settings = Settings(_env_file=None, data_dir=tmp_path_factory.mktemp("data"),  # type: ignore[call-arg]
                        database_url=module_db, bus_url="memory://", auth_disabled=True)
    opened = open_platform(settings, apps=[*(a for a in APPS if a.name != "catalog"), APP])
    opened.services(APP).ready()
    opened.start(["jobs.catalog.food_lens", "jobs.catalog.plant_guard"])
    yield opened
    opened.stop()
    opened.close()


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform.settings, platform=platform),
                    base_url="http://localhost") as c:
        yield c


@pytest.fixture(autouse=True)
def _reset() -> None:
    FAKE.projects.clear()
    FAKE.asked.clear()
    FAKE.imagenet_answer = guess("imagenet", ("tabby", 0.9))


def _photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (80, 60), (180, 40, 30)).save(out, "JPEG")
    return out.getvalue()


def identify(client: TestClient, kind: str) -> dict[str, object]:
    answer = client.post(f"/api/v1/catalog/{kind}/identify",
                         files={"image": ("photo.jpg", _photo(), "image/jpeg")})
    assert answer.status_code == 202, answer.text
    location = answer.headers["location"]
    wait_for(lambda: client.get(location).json()["status"] in ("succeeded", "failed"),
             what="the identify job")
    job = client.get(location).json()
    assert job["status"] == "succeeded", job
    result: dict[str, object] = job["result"]
    return result


def test_a_food_photo_gives_nutrition_facts_scaled_to_the_serving(client: TestClient) -> None:
    FAKE.imagenet_answer = guess("imagenet", ("pizza", 0.82), ("potpie", 0.08), ("plate", 0.05))
    result = identify(client, "food")
    assert result["status"] == "identified" and result["model"] == "imagenet"
    item = result["item"]
    assert isinstance(item, dict) and item["key"] == "D302-120340000-0001"  # 피자_치즈피자
    facts = item["nutrition"]
    assert facts["serving"] == "200g" and facts["factor"] == 2.0
    energy = next(r for r in facts["rows"] if r["attr"] == "energy_kcal")
    assert energy["per_serving"] == pytest.approx(energy["per_100"] * 2)
    assert "식품의약품안전처" in str(result["attribution"])
    assert FAKE.asked == ["food", "imagenet"]  # a food project is asked for first


def test_an_unsure_food_shows_the_top_alternatives(client: TestClient) -> None:
    FAKE.imagenet_answer = guess("imagenet", ("plate", 0.4), ("pizza", 0.3), ("hotdog", 0.1))
    result = identify(client, "food")
    assert result["status"] == "unsure"
    names = [result["item"]["name"]] + [a["name"] for a in result["alternatives"]]  # type: ignore[index]
    assert "피자" in names[0] and any("핫도그" in n for n in names)


def test_no_food_class_means_unknown(client: TestClient) -> None:
    result = identify(client, "food")
    assert result["status"] == "unknown" and result["item"] is None


def test_a_published_food_project_takes_precedence(client: TestClient) -> None:
    FAKE.projects["food"] = guess("project:food", ("김치찌개", 0.91), ("떡볶이", 0.05))
    result = identify(client, "food")
    assert result["status"] == "identified" and result["model"] == "project:food"
    assert result["item"]["name"] == "김치찌개"  # type: ignore[index]
    assert "imagenet" not in FAKE.asked


def test_a_plant_photo_gives_a_warning_card_and_the_emergency_help(client: TestClient) -> None:
    FAKE.projects["plants-demo"] = guess("project:plants-demo", ("tulips", 0.93),
                                         ("roses", 0.04))  # fmt: skip
    result = identify(client, "plant")
    assert result["status"] == "identified" and result["worst"] == "mild"
    card = result["plant"]
    assert card["name"] == "튤립" and card["verdict"]["pets"] == "caution"  # type: ignore[index]
    assert card["first_aid"] and card["look_alikes"] is not None  # type: ignore[index]
    assert "119" in result["texts"]["ko"]["people"]  # type: ignore[index]
    assert FAKE.asked == ["plants", "plants-demo"]  # a user's plants project first


def test_an_unsure_plant_says_so_and_shows_candidates(client: TestClient) -> None:
    FAKE.projects["plants"] = guess("project:plants", ("roses", 0.45), ("tulips", 0.35),
                                    ("daisy", 0.1))  # fmt: skip
    result = identify(client, "plant")
    assert result["status"] == "unsure" and result["plant"] is None
    assert [c["name"] for c in result["candidates"]] == ["장미", "튤립", "데이지"]  # type: ignore[union-attr]
    assert result["worst"] == "mild"  # the tulip among them


def test_a_plant_known_as_not_toxic_is_never_called_safe(client: TestClient) -> None:
    FAKE.projects["plants-demo"] = guess("project:plants-demo", ("sunflowers", 0.97))
    result = identify(client, "plant")
    card = result["plant"]
    assert card["verdict"] == {"people": "not_known_toxic", "pets": "not_known_toxic"}  # type: ignore[index]
    assert card["not_toxic_per"]  # type: ignore[index]
    assert "safe" not in json.dumps({k: v for k, v in result.items()
                                     if k not in ("disclaimer", "texts")})
    job_page = client.get(f"/catalog/jobs/{_last_job(client)}", headers={"Accept": "text/html"})
    assert "알려져 있습니다" in job_page.text and "119" in job_page.text
    assert "안전합니다" not in job_page.text


def _last_job(client: TestClient) -> str:
    jobs = client.get("/api/v1/jobs", params={"kind": "catalog.plant_guard", "limit": 1}).json()
    job_id: str = jobs["items"][0]["id"]
    return job_id


def test_an_abstaining_classifier_is_unsure(client: TestClient) -> None:
    FAKE.projects["plants-demo"] = guess("project:plants-demo", ("tulips", 0.6), abstain=True)
    assert identify(client, "plant")["status"] == "unsure"


def test_no_plant_classifier_is_unavailable_with_the_help(client: TestClient) -> None:
    result = identify(client, "plant")
    assert result["status"] == "unavailable" and "119" in str(result["texts"])


def test_rankings_of_the_hour_and_of_all_time(platform: Platform, client: TestClient) -> None:
    services: CatalogServices = platform.services(APP)
    store = services.store
    rose = store.by_key("plant", ["rose"])["rose"]
    before = dict((r["item"]["name"], r["count"]) for r in services.rankings("plant", "all", 50))
    store.record_identification("plant", rose["id"], None, at=utcnow() - timedelta(hours=2))
    store.record_identification("plant", rose["id"], None, at=utcnow() - timedelta(hours=3))
    FAKE.projects["plants-demo"] = guess("project:plants-demo", ("sunflowers", 0.97))
    identify(client, "plant")
    hour = {r["name"]: r["count"] for r in client.get(
        "/api/v1/catalog/plant/rankings", params={"window": "hour"}).json()["items"]}
    every = {r["name"]: r["count"] for r in client.get(
        "/api/v1/catalog/plant/rankings", params={"window": "all"}).json()["items"]}
    assert every["장미"] == before.get("장미", 0) + 2 and "장미" not in hour
    assert hour["해바라기"] >= 1 and every["해바라기"] >= hour["해바라기"]


def test_a_retried_job_counts_once(platform: Platform, tmp_path: Path) -> None:
    services: CatalogServices = platform.services(APP)
    FAKE.projects["plants-demo"] = guess("project:plants-demo", ("roses", 0.99))
    image = Image.new("RGB", (32, 32))
    count = services.store.by_key("plant", ["rose"])["rose"]["identified"]
    for _ in range(2):
        services.identify("plant", image, job_id="f" * 32)
    assert services.store.by_key("plant", ["rose"])["rose"]["identified"] == count + 1
    services.identify("plant", image)  # not a job (the CLI): not counted
    assert services.store.by_key("plant", ["rose"])["rose"]["identified"] == count + 1


def test_the_plural_path_serves_the_same_search(client: TestClient) -> None:
    """``/api/v1/catalogs/…`` (the path the issue names) answers as ``/api/v1/catalog/…`` does,
    and stays out of the OpenAPI document (one operation per route there)."""
    singular = client.get("/api/v1/catalog/food/items", params={"q": "김치찌게", "limit": 5})
    plural = client.get("/api/v1/catalogs/food/items", params={"q": "김치찌게", "limit": 5})
    assert singular.status_code == plural.status_code == 200, plural.text
    assert plural.json() == singular.json() and plural.json()["items"]
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/v1/catalog/{kind}/items" in paths
    assert not any(p.startswith("/api/v1/catalogs/") for p in paths)


def test_a_tag_names_its_item_by_key_name_or_spelling_never_by_keyboard(
    platform: Platform,
) -> None:
    services: CatalogServices = platform.services(APP)
    guard = services.plant_guard
    tulip = guard.item_for_tag("tulips")  # the flowers' image class
    assert tulip is not None and tulip["name"] == "튤립"
    assert guard.item_for_tag("진달래") is not None  # the exact name
    typo = guard.item_for_tag("진달레")  # a typo still names it
    assert typo is not None and typo["name"] == "진달래"
    # "wlsekffo" is 진달래 typed on an English keyboard: fine for a search box, but a tag
    # spelled so is not taken for that plant (a wrong plant would give a wrong warning)
    assert services.search.index("plant").search("wlsekffo", 1)[0].how_matched == "keyboard"
    assert guard.item_for_tag("wlsekffo") is None
