"""The catalog pages and API on a real platform (SQLite, the packaged catalogs, a fake
classifier): Korean first with English, hostile text escaped, infinite lists and search as
you type, sliders, live results over server-sent events, and malformed uploads refused with
nothing stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from nunchi.apps import APPS
from nunchi.apps.catalog.app import catalog_app
from nunchi.apps.catalog.mapping import ColumnMapping
from nunchi.apps.catalog.services import CatalogServices
from nunchi.assembly import Platform, open_platform
from nunchi.config import Settings
from nunchi.web.app import create_app
from tests.unit.catalog.fakes import FakeClassifier, guess
from tests.unit.inputs.craft import bomb_png, encoded, solid
from tests.unit.web.conftest import wait_for
from tests.unit.web.support import csrf_headers, page_csrf

HTML = {"Accept": "text/html"}
FAKE = FakeClassifier(projects={"plants-demo": guess("project:plants-demo", ("tulips", 0.9))})
APP = catalog_app(lambda core: FAKE)
HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    settings = Settings(_env_file=None, data_dir=tmp_path_factory.mktemp("data"),  # type: ignore[call-arg]
                        bus_url="memory://", auth_disabled=True, live_max_seconds=0.6)
    opened = open_platform(settings, apps=[*(a for a in APPS if a.name != "catalog"), APP])
    services: CatalogServices = opened.services(APP)
    csv = f"이름,업체\n{HOSTILE}떡볶이,<img src=x onerror=alert(1)>\n".encode()
    services.import_table("food", csv, ColumnMapping.parse("이름=name,업체=maker"),
                          source="<b>출처</b>")
    yield opened
    opened.close()


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform.settings, platform=platform),
                    base_url="http://localhost") as c:
        yield c


def _blobs(platform: Platform) -> int:
    return sum(1 for p in (Path(platform.settings.data_dir) / "blobs").rglob("*") if p.is_file())


def _catalog_jobs(platform: Platform) -> int:
    return sum(len(platform.jobs.list(kind=k, limit=100).items)
               for k in ("catalog.food_lens", "catalog.plant_guard"))


@pytest.mark.parametrize("path", ["/catalog", "/catalog/food", "/catalog/plants"])
def test_pages_are_korean_first_with_english(client: TestClient, path: str) -> None:
    ko = client.get(path, headers=HTML)
    assert ko.status_code == 200 and 'lang="ko"' in ko.text
    assert any(word in ko.text for word in ("푸드 렌즈", "식물 가드"))
    en = client.get(path + "?lang=en", headers=HTML)
    assert en.status_code == 200 and any(w in en.text for w in ("Food lens", "Plant guard"))
    assert "<script>" not in ko.text.replace('<script src="', "").replace(
        '<script type="application/json"', "")  # no inline script


def test_the_plant_page_always_shows_the_emergency_help(client: TestClient) -> None:
    page = client.get("/catalog/plants", headers=HTML).text
    assert 'href="tel:119"' in page and "119" in page and "동물병원" in page
    assert 'capture="environment"' in page and 'accept="image/*"' in page


def test_hostile_text_is_escaped_everywhere(client: TestClient) -> None:
    for path in ("/catalog/food?q=떡볶이", "/catalog/food/items?q=script"):
        page = client.get(path, headers=HTML).text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, path
        assert HOSTILE not in page and "<img src=x" not in page
    found = client.get("/api/v1/catalog/food/items", params={"q": "alert"}).json()["items"]
    item = next(i for i in found if i["name"].startswith(HOSTILE))
    detail = client.get(f"/catalog/food/items/{item['id']}", headers=HTML).text
    assert HOSTILE not in detail and "&lt;b&gt;출처&lt;/b&gt;" in detail


def test_the_encyclopedia_scrolls_by_cursor(client: TestClient) -> None:
    names: list[str] = []
    url: str | None = "/catalog/plants/items"
    while url:
        fragment = client.get(url, headers={**HTML, "HX-Request": "true"}).text
        names += [line for line in fragment.splitlines() if "/catalog/plants/items/" in line]
        found = [part.split('"')[0] for part in fragment.split('hx-get="')[1:]]
        url = found[0].replace("&amp;", "&") if found else None
        if url:
            assert 'hx-trigger="revealed"' in fragment
    assert len(names) == 64


def test_search_as_you_type_finds_a_typo(client: TestClient) -> None:
    fragment = client.get("/catalog/plants/items?q=진달레", headers=HTML).text
    assert "진달래" in fragment and "비슷한 말" in fragment


def test_sliders_left_at_their_ends_set_no_bound(client: TestClient) -> None:
    open_ends = client.get("/catalog/food/items?fat_g_min=0&fat_g_max=60&q=아메리카노",
                           headers=HTML).text
    narrowed = client.get("/catalog/food/items?fat_g_min=1&fat_g_max=60&q=아메리카노",
                          headers=HTML).text
    assert open_ends.count("<tr>") > narrowed.count("<tr>")


def test_a_food_item_page_has_its_nutrient_chart(client: TestClient) -> None:
    item = client.get("/api/v1/catalog/food/items", params={"q": "김치찌개", "limit": 1}).json()
    page = client.get(f"/catalog/food/items/{item['items'][0]['id']}", headers=HTML).text
    assert 'data-chart="nutrients"' in page and "식품의약품안전처" in page


def test_an_upload_is_identified_and_the_card_pushed_live(platform: Platform,
                                                          client: TestClient) -> None:
    photo = encoded(solid("RGB", (40, 40), (10, 200, 10)), "JPEG")
    pending = client.post("/catalog/plants/identify", headers=csrf_headers(c := client,
                          "/catalog/plants"), files={"photo": ("p.jpg", photo, "image/jpeg")})
    assert pending.status_code == 200 and "data-live=" in pending.text
    events_url = pending.text.split('data-live="')[1].split('"')[0]
    platform.start(["jobs.catalog.plant_guard"])
    try:
        job_id = events_url.split("/")[3]
        wait_for(lambda: platform.jobs.get(job_id).status == "succeeded")
    finally:
        platform.stop()
    stream = c.get(events_url)
    assert stream.headers["content-type"].startswith("text/event-stream")
    data = [line for line in stream.text.splitlines() if line.startswith("data: ")]
    html = json.loads(data[0][6:])["html"]
    assert "튤립" in html and "tel:119" in html


@pytest.mark.parametrize(("body", "status"), [
    (b"just some text, not a photo", 415),
    (encoded(solid("RGB", (64, 64), (1, 2, 3)), "JPEG")[:200], 422),  # truncated
    (bomb_png(20_000, 20_000, complete=False), 413),  # decompression bomb
])  # fmt: skip
def test_malformed_uploads_are_refused_and_nothing_is_stored(
        platform: Platform, client: TestClient, body: bytes, status: int) -> None:
    blobs, jobs = _blobs(platform), _catalog_jobs(platform)
    api = client.post("/api/v1/catalog/food/identify", files={"image": ("x.jpg", body)})
    assert api.status_code == status, api.text
    page = client.post("/catalog/food/identify", headers=csrf_headers(client, "/catalog/food"),
                       files={"photo": ("x.jpg", body)})
    assert page.status_code == status
    assert (_blobs(platform), _catalog_jobs(platform)) == (blobs, jobs)


def test_a_form_without_a_photo_or_its_token_is_refused(platform: Platform,
                                                         client: TestClient) -> None:
    jobs = _catalog_jobs(platform)
    no_photo = client.post("/catalog/food/identify", data={"csrf_token": page_csrf(
        client, "/catalog/food")})
    assert no_photo.status_code == 422
    photo = encoded(solid("RGB", (8, 8), (0, 0, 0)), "PNG")
    forged = client.post("/catalog/food/identify", files={"photo": ("x.png", photo)})
    assert forged.status_code == 403 and _catalog_jobs(platform) == jobs


def test_api_errors_name_what_to_fix(client: TestClient) -> None:
    bad = client.get("/api/v1/catalog/food/items", params={"energy_kcal_min": "lots"})
    assert bad.status_code == 422 and "energy_kcal_min" in bad.json()["error"]["message"]
    assert client.get("/api/v1/catalog/food/items/999999999").status_code == 404
    assert client.post("/api/v1/catalog/wine/identify", files={"image": (
        "x.png", encoded(solid("RGB", (8, 8), (0, 0, 0)), "PNG"))}).status_code == 422
    listed = client.get("/api/v1/catalog").json()["catalogs"]
    assert {c["kind"] for c in listed} >= {"food", "plant"}
