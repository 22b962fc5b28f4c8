"""Projects, tags and images on both databases: the lifecycle, dedupe, refusals that store
nothing, and the demo project seeded once."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from io import BytesIO
from typing import Any

import pytest
from sqlalchemy import event, func, select

from nunchi.apps.vision.app import VISION_APP
from nunchi.apps.vision.models import VisionImage, VisionProject
from nunchi.apps.vision.schemas import ProjectUpdate
from nunchi.apps.vision.service import VisionServices
from nunchi.assembly import Platform
from nunchi.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge, UnsupportedMediaType
from tests.integration.vision.conftest import photo
from tests.unit.inputs.craft import bomb_png

pytestmark = pytest.mark.timeout(120)


def _count(vision: VisionServices) -> int:
    with vision.core.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(VisionImage)) or 0)


def test_a_project_lives_and_dies_with_its_tags_and_images(vision: VisionServices) -> None:
    made = vision.create_project("my-plants", "집 화분", recipe="fast")
    assert (made.name, made.recipe, made.images, made.tags) == ("my-plants", "fast", 0, [])
    with pytest.raises(Conflict):
        vision.create_project("my-plants")
    with pytest.raises(InvalidInput, match="lowercase"):
        vision.create_project("My Plants")
    vision.add_tag("my-plants", " 몬스테라 ")
    report = vision.imports.uploads(
        "my-plants", [("a.jpg", photo("red", 1)), ("b.png", photo("red", 2, fmt="PNG"))], "빨강"
    )
    assert (report.added, report.duplicates, report.failed) == (2, 0, [])
    again = vision.imports.uploads("my-plants", [("a-copy.jpg", photo("red", 1))], "빨강")
    assert (again.added, again.duplicates) == (0, 1)
    project = vision.project("my-plants")
    assert {t.name: t.images for t in project.tags} == {"몬스테라": 0, "빨강": 2}
    page = vision.images("my-plants")
    assert len(page.items) == 2 and page.next_cursor is None
    first = page.items[0]
    assert first.tag == "빨강" and not first.original_kept
    assert first.thumbnail_url == f"/api/v1/vision/images/{first.id}/thumbnail"
    thumb = vision.thumbnail(first.id)
    assert thumb[:3] == b"\xff\xd8\xff"  # a JPEG
    two = vision.images("my-plants", limit=1)
    assert len(two.items) == 1 and two.next_cursor == two.items[0].id
    assert vision.images("my-plants", cursor=two.next_cursor).items[0].id != two.items[0].id
    vision.delete_image("my-plants", first.id)
    assert vision.project("my-plants").images == 1
    vision.delete_tag("my-plants", "빨강")
    assert vision.project("my-plants").images == 0
    vision.update_project("my-plants", ProjectUpdate(description="new"))
    assert vision.project("my-plants").description == "new"
    vision.delete_project("my-plants")
    with pytest.raises(NotFound):
        vision.project("my-plants")
    assert _count(vision) == 0


def test_listing_projects_reads_each_figure_once_for_all_of_them(vision: VisionServices) -> None:
    for i in range(6):
        vision.create_project(f"p{i}", recipe="fast")
        vision.add_tag(f"p{i}", f"tag{i}")
    vision.imports.uploads("p2", [("a.jpg", photo("red", 1)), ("b.jpg", photo("blue", 2))], "빨강")
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = vision.core.store.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        listed = vision.projects()
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    names = [p.name for p in listed]
    assert [n for n in names if n != "plants-demo"] == [f"p{i}" for i in range(6)]
    by_name = {p.name: p for p in listed}
    assert by_name["p2"].images == 2
    assert {t.name: t.images for t in by_name["p2"].tags} == {"tag2": 0, "빨강": 2}
    assert by_name["p0"].iterations == 0 and by_name["p0"].published_iteration is None
    demo = by_name.get("plants-demo")
    assert demo is None or (demo.published_iteration == 1 and demo.iterations == 1)
    assert len(statements) <= 4, statements  # projects, tags, iterations, published numbers


def test_originals_are_kept_only_when_the_project_asks(vision: VisionServices) -> None:
    vision.create_project("keep", recipe="fast", keep_originals=True)
    vision.create_project("drop", recipe="fast")
    for name in ("keep", "drop"):
        vision.imports.uploads(name, [("x.jpg", photo("blue", 3))], "파랑")
    kept = vision.images("keep").items[0]
    dropped = vision.images("drop").items[0]
    assert kept.original_kept and not dropped.original_kept
    with vision.core.sessions() as s:
        rows = dict(s.execute(select(VisionImage.id, VisionImage.original_key)).all())
        emb = s.scalar(select(VisionImage.embedding).where(VisionImage.id == kept.id))
    assert rows[dropped.id] is None and vision.core.blobs.exists(rows[kept.id])
    assert emb is not None and len(emb) == 1280 * 2  # float16


def _zip(entries: dict[str, bytes]) -> bytes:
    out = BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (b"not an image at all, just text", UnsupportedMediaType),
        (photo("red", 9)[:300], InvalidInput),  # truncated JPEG
        (b"\xff\xd8\xff\xe0" + b"\x00" * 50, InvalidInput),  # malformed JPEG header
        (bomb_png(30000, 30000, complete=False), PayloadTooLarge),  # decompression bomb
        (b"\xff\xd8\xff" + b"\x00" * (21 * 1024 * 1024), PayloadTooLarge),  # huge
    ],
    ids=["non-image", "truncated", "malformed", "bomb", "huge"],
)
def test_a_refused_upload_stores_nothing(
    vision: VisionServices, bad: bytes, error: type[Exception]
) -> None:
    vision.create_project("p", recipe="fast")
    blobs_before = _blob_files(vision)
    with pytest.raises(error):
        vision.imports.uploads("p", [("good.jpg", photo("red", 1)), ("bad.jpg", bad)], "빨강")
    assert _count(vision) == 0 and vision.project("p").tags == []
    assert _blob_files(vision) == blobs_before


def _blob_files(vision: VisionServices) -> set[str]:
    root = vision.core.settings.data_dir / "blobs"
    return {str(p) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def test_a_zip_reports_each_bad_entry_and_stores_the_rest(vision: VisionServices) -> None:
    vision.create_project("z", recipe="fast")
    data = _zip(
        {
            "빨강/1.jpg": photo("red", 1),
            "파랑/1.jpg": photo("blue", 1),
            "파랑/broken.jpg": photo("blue", 2)[:200],
            "notes.txt": b"top level",
            "파랑/readme.txt": b"hello",
        }
    )
    report = vision.imports.archive("z", data, "photos.zip")
    assert report.added == 2
    failed = {f.item: f.reason for f in report.failed}
    assert failed == {
        "파랑/broken.jpg": "damaged",
        "notes.txt": "skipped",
        "파랑/readme.txt": "not_image",
    }
    assert {t.name: t.images for t in vision.project("z").tags} == {"빨강": 1, "파랑": 1}
    with pytest.raises(UnsupportedMediaType):
        vision.imports.archive("z", b"plain text", "x.zip")


def test_the_demo_project_is_published_once(open_vision: Callable[..., Platform]) -> None:
    first = open_vision()
    vision = first.services(VISION_APP)
    demo = vision.project("plants-demo")
    assert demo.published_iteration == 1
    assert [t.name for t in demo.tags] == ["daisy", "dandelion", "roses", "sunflowers", "tulips"]
    it = vision.iterations.get("plants-demo", 1)
    assert it.status == "done" and it.published and it.metrics is not None
    assert it.metrics["heldout_images"] == 50 and it.metrics["top1_accuracy"] > 0.7
    model = vision.published.model("plants-demo")
    assert model is not None and model.recipe == "precise"
    vision.delete_project("plants-demo")
    again = open_vision().services(VISION_APP)  # a second start: nothing comes back
    with pytest.raises(NotFound):
        again.project("plants-demo")
    with again.core.sessions() as s:
        assert s.scalar(select(func.count()).select_from(VisionProject)) == 0
