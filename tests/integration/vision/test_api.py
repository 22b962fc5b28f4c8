"""The vision API over HTTP (the real app factory around a real platform): scopes, the
project workflow from upload to export, refusals with a clear 4xx, the OpenAPI listing."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import onnxruntime as ort
import pytest
from fastapi.testclient import TestClient

from nunchi.analyzers.vision.recipes import recipe
from nunchi.assembly import Platform
from nunchi.inputs.images import load_image
from nunchi.web.app import create_app
from nunchi.web.keys import KeyService
from tests.integration.jobs.conftest import wait_for
from tests.integration.vision.conftest import photo
from tests.unit.inputs.craft import bomb_png

pytestmark = pytest.mark.timeout(180)
API = "/api/v1/vision"


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    app = create_app(platform.settings, platform=platform)
    with TestClient(app, raise_server_exceptions=False, base_url="http://localhost") as c:
        yield c


def _keys(platform: Platform) -> dict[str, dict[str, str]]:
    keys = KeyService(platform.sessions)
    out = {}
    for scope in ("read", "submit", "admin"):
        _, plaintext = keys.create(f"{scope}-key", [scope])
        out[scope] = {"Authorization": f"Bearer {plaintext}"}
    return out


def _files(*items: tuple[str, bytes]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (name, data, "image/jpeg")) for name, data in items]


def test_the_workflow_from_upload_to_export(platform: Platform, client: TestClient) -> None:
    h = _keys(platform)
    assert client.get(f"{API}/projects").status_code == 401
    assert client.post(f"{API}/projects", json={"name": "x"}, headers=h["read"]).status_code == 403
    made = client.post(
        f"{API}/projects", json={"name": "colours", "recipe": "fast"}, headers=h["submit"]
    )
    assert made.status_code == 201 and made.json()["recipe"] == "fast"
    again = client.post(f"{API}/projects", json={"name": "colours"}, headers=h["submit"])
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    bad = client.post(f"{API}/projects", json={"name": "Bad Name"}, headers=h["submit"])
    assert bad.status_code == 422
    for colour, tag in (("red", "빨강"), ("blue", "파랑")):
        up = client.post(
            f"{API}/projects/colours/images",
            headers=h["submit"],
            data={"tag": tag},
            files=_files(*[(f"{colour}{i}.jpg", photo(colour, i)) for i in range(4)]),
        )
        assert up.status_code == 201, up.text
        assert up.json()["added"] == 4
    listed = client.get(f"{API}/projects/colours/images?limit=3", headers=h["read"]).json()
    assert len(listed["items"]) == 3 and listed["next_cursor"]
    thumb = client.get(listed["items"][0]["thumbnail_url"], headers=h["read"])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    platform.start(["jobs.vision.train"])
    try:
        trained = client.post(
            f"{API}/projects/colours/train", json={"holdout": 0.25}, headers=h["submit"]
        )
        assert trained.status_code == 202, trained.text
        job_id = trained.json()["job"]["id"]
        wait_for(lambda: platform.jobs.get(job_id).status == "succeeded", what="training")
    finally:
        platform.stop()
    it = client.get(f"{API}/projects/colours/iterations/1", headers=h["read"]).json()
    assert it["status"] == "done" and it["metrics"]["heldout_images"] == 2
    assert (
        client.post(f"{API}/projects/colours/iterations/1/publish", headers=h["submit"]).status_code
        == 403
    )
    pub = client.post(f"{API}/projects/colours/iterations/1/publish", headers=h["admin"])
    assert pub.status_code == 200 and pub.json()["published"]
    fresh = [("r.jpg", photo("red", 40)), ("b.jpg", photo("blue", 40))]
    answer = client.post(
        f"{API}/projects/colours/predict",
        headers=h["submit"],
        files=_files(*fresh),
        data={"top_k": "2"},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["iteration"] == 1
    assert [(p["file"], p["top"][0][0]) for p in body["predictions"]] == [
        ("r.jpg", "빨강"),
        ("b.jpg", "파랑"),
    ]
    exported = client.get(f"{API}/projects/colours/export", headers=h["read"])
    assert exported.status_code == 200
    assert "colours-iteration-1.onnx" in exported.headers["content-disposition"]
    session = ort.InferenceSession(exported.content, providers=["CPUExecutionProvider"])
    views = np.stack([recipe("fast").arrays(load_image(d).image, 224) for _, d in fresh])
    (probs,) = session.run(["probabilities"], {"views": views})
    for row, p in zip(probs, body["predictions"], strict=True):
        assert float(row.max()) == pytest.approx(p["probability"], abs=1e-5)
    assert client.delete(f"{API}/projects/colours", headers=h["submit"]).status_code == 403
    assert client.delete(f"{API}/projects/colours", headers=h["admin"]).status_code == 204
    assert client.get(f"{API}/projects/colours", headers=h["read"]).status_code == 404


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"%PDF-1.7 not a photo", 415, "unsupported_media_type"),
        (photo("red", 1)[:400], 422, "invalid_input"),
        (bomb_png(30000, 30000, complete=False), 413, "payload_too_large"),
    ],
    ids=["non-image", "truncated", "bomb"],
)
def test_a_refused_upload_is_a_clear_4xx_and_stores_nothing(
    platform: Platform, client: TestClient, data: bytes, status: int, code: str
) -> None:
    h = _keys(platform)
    client.post(f"{API}/projects", json={"name": "p", "recipe": "fast"}, headers=h["submit"])
    r = client.post(
        f"{API}/projects/p/images",
        headers=h["submit"],
        data={"tag": "t"},
        files=_files(("ok.jpg", photo("red", 1)), ("bad.jpg", data)),
    )
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code and "bad.jpg" in r.json()["error"]["message"]
    project = client.get(f"{API}/projects/p", headers=h["read"]).json()
    assert project["images"] == 0 and project["tags"] == []


def test_a_url_list_queues_a_job_and_the_routes_are_documented(
    platform: Platform, client: TestClient
) -> None:
    h = _keys(platform)
    client.post(f"{API}/projects", json={"name": "web"}, headers=h["submit"])
    csv = b"url,tag\nhttps://example.com/a.jpg,a\nftp://x/y.jpg,b\n"
    r = client.post(
        f"{API}/projects/web/urls",
        headers=h["submit"],
        files={"file": ("list.csv", csv, "text/csv")},
    )
    assert r.status_code == 202, r.text
    assert r.json()["job"]["kind"] == "vision.import_urls"
    assert r.json()["skipped_rows"] == ["row 2: 'ftp://x/y.jpg' is not an http:// or https:// URL"]
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/projects",
        "/projects/{name}/images",
        "/projects/{name}/train",
        "/projects/{name}/iterations/{number}/publish",
        "/projects/{name}/predict",
        "/projects/{name}/export",
        "/projects/{name}/urls",
    ):
        assert API + path in paths, path
    demo = client.get(f"{API}/projects/plants-demo", headers=h["read"]).json()
    assert demo["published_iteration"] == 1
