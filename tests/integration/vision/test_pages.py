"""The vision pages (Korean first, English on ?lang=en, autoescaped): the list, a project
with its forms (CSRF), uploads and their refusals, training, "try it", an iteration with its
confusion matrix, publish and export; and the home card."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from nunchi.apps.vision.app import VISION_APP
from nunchi.assembly import Platform
from nunchi.web.app import create_app
from tests.integration.jobs.conftest import wait_for
from tests.integration.vision.conftest import photo, vision_settings
from tests.unit.inputs.craft import bomb_png
from tests.unit.web.support import page_csrf

pytestmark = pytest.mark.timeout(180)
HTML = {"Accept": "text/html"}


@pytest.fixture
def client(platform: Platform, tmp_path) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    settings = vision_settings(tmp_path, auth_disabled=True)
    app = create_app(settings, platform=platform)
    with TestClient(app, raise_server_exceptions=False, base_url="http://localhost") as c:
        yield c


def _upload(c: TestClient, name: str, tag: str, files: list[tuple[str, bytes]]) -> str:
    token = page_csrf(c, f"/vision/{name}")
    r = c.post(
        f"/vision/{name}/images",
        data={"csrf_token": token, "tag": tag},
        files=[("files", (n, d, "image/jpeg")) for n, d in files],
        headers=HTML,
    )
    assert r.status_code == 200, r.text
    return r.text


def test_pages_render_in_both_languages_and_escape(platform: Platform, client: TestClient) -> None:
    vision = platform.services(VISION_APP)
    vision.create_project("esc", "<script>alert(1)</script> 설명", recipe="fast")
    index = client.get("/vision", headers=HTML)
    assert index.status_code == 200 and "이미지 분류 모델" in index.text
    assert 'href="/vision/plants-demo"' in index.text and "&lt;script&gt;" in index.text
    assert "<script>alert" not in index.text
    assert "Image classifiers" in client.get("/vision?lang=en", headers=HTML).text
    page = client.get("/vision/esc", headers=HTML)
    assert page.status_code == 200 and "<script>alert" not in page.text
    assert 'enctype="multipart/form-data"' in page.text and 'name="csrf_token"' in page.text
    demo = client.get("/vision/plants-demo?lang=ko", headers=HTML).text
    assert "직접 해 보기" in demo and "/vision/plants-demo/export.onnx" in demo
    it = client.get("/vision/plants-demo/iterations/1?lang=en", headers=HTML)
    assert it.status_code == 200 and "Confusion matrix" in it.text
    assert re.search(r'<td class="num diag">\d+</td>', it.text)
    home = client.get("/?lang=ko", headers=HTML).text
    assert 'data-app="vision"' in home and 'data-figure="vision">1<' in home


def test_the_project_page_workflow(platform: Platform, client: TestClient) -> None:
    token = page_csrf(client, "/vision")
    made = client.post(
        "/vision/projects",
        data={"csrf_token": token, "name": "flowers", "recipe": "fast"},
        follow_redirects=False,
    )
    assert made.status_code == 303 and made.headers["location"] == "/vision/flowers"
    text = _upload(client, "flowers", "빨강", [(f"r{i}.jpg", photo("red", i)) for i in range(3)])
    assert "3장 추가" in text and "/thumbnail.jpg" in text
    _upload(client, "flowers", "파랑", [(f"b{i}.jpg", photo("blue", i)) for i in range(3)])
    thumb = re.search(r'src="(/vision/images/[0-9a-f]{32}/thumbnail\.jpg)"', text)
    assert thumb and client.get(thumb.group(1)).headers["content-type"] == "image/jpeg"
    platform.start(["jobs.vision.train"])
    try:
        r = client.post(
            "/vision/flowers/train",
            data={
                "csrf_token": page_csrf(client, "/vision/flowers"),
                "holdout": "0.34",
                "method": "lda",
                "threshold": "0.5",
            },
            headers=HTML,
        )
        assert r.status_code == 200 and "반복 #1" in r.text
        job = re.search(r'href="/jobs/([0-9a-f]{32})"', r.text)
        assert job
        wait_for(lambda: platform.jobs.get(job.group(1)).status == "succeeded", what="training")
    finally:
        platform.stop()
    pub = client.post(
        "/vision/flowers/iterations/1/publish",
        data={"csrf_token": page_csrf(client, "/vision/flowers")},
        follow_redirects=False,
    )
    assert pub.status_code == 303
    tried = client.post(
        "/vision/flowers/predict",
        headers=HTML,
        data={"csrf_token": page_csrf(client, "/vision/flowers")},
        files=[("files", ("<b>x</b>.jpg", photo("blue", 77), "image/jpeg"))],
    )
    assert tried.status_code == 200
    assert "<strong>파랑</strong>" in tried.text and "&lt;b&gt;x&lt;/b&gt;.jpg" in tried.text
    onnx = client.get("/vision/flowers/export.onnx")
    assert onnx.status_code == 200 and len(onnx.content) > 1_000_000


@pytest.mark.parametrize(
    "bad",
    [b"hello, not a photo", bomb_png(30000, 30000, complete=False)],
    ids=["non-image", "bomb"],
)
def test_a_refused_page_upload_answers_4xx_and_stores_nothing(
    platform: Platform, client: TestClient, bad: bytes
) -> None:
    platform.services(VISION_APP).create_project("p", recipe="fast")
    token = page_csrf(client, "/vision/p")
    r = client.post(
        "/vision/p/images",
        data={"csrf_token": token, "tag": "t"},
        headers=HTML,
        files=[
            ("files", ("ok.jpg", photo("red", 1), "image/jpeg")),
            ("files", ("bad.jpg", bad, "image/jpeg")),
        ],
    )
    assert r.status_code in (413, 415) and "bad.jpg" in r.text
    assert platform.services(VISION_APP).project("p").images == 0


def test_page_forms_need_the_csrf_token(platform: Platform, client: TestClient) -> None:
    platform.services(VISION_APP).create_project("p", recipe="fast")
    r = client.post(
        "/vision/p/images",
        data={"csrf_token": "forged" * 6, "tag": "t"},
        files=[("files", ("ok.jpg", photo("red", 1), "image/jpeg"))],
        headers=HTML,
    )
    assert r.status_code == 403
    assert platform.services(VISION_APP).project("p").images == 0
