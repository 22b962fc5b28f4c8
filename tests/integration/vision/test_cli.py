"""``nunchi vision train`` / ``predict`` / ``eval`` on the configured store (both databases):
one JSON line per photo, ``tag`` null when the classifier abstains."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nunchi.analyzers.vision.trainer import TrainSettings
from nunchi.apps.vision.app import VISION_APP
from nunchi.assembly import open_platform
from nunchi.cli import build
from nunchi.config import get_settings
from tests.integration.vision.conftest import photo, photo_folder

pytestmark = pytest.mark.timeout(180)
runner = CliRunner()


@pytest.fixture
def env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NUNCHI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NUNCHI_BUS_URL", "memory://")
    monkeypatch.setenv("NUNCHI_DATABASE_URL", db_url)
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_train_then_predict_prints_one_json_line_per_file(env: Path) -> None:
    cli = build()
    images = photo_folder(env / "photos", 5)
    (images / "red" / "notes.txt").write_text("not a photo")
    r = runner.invoke(
        cli,
        ["vision", "train", "--project", "colours", "--images", str(images), "--recipe", "fast"],
    )
    assert r.exit_code == 0, r.output
    (summary,) = _lines(r.stdout)
    assert summary["project"] == "colours" and summary["iteration"] == 1
    assert summary["published"] is True and summary["added"] == 10
    assert [f["item"] for f in summary["failed"]] == ["red/notes.txt"]  # type: ignore[union-attr]
    files = []
    for name, colour in (("a.jpg", "red"), ("b.jpg", "blue")):
        path = env / name
        path.write_bytes(photo(colour, 99))
        files.append(str(path))
    (env / "broken.jpg").write_bytes(b"nope")
    r = runner.invoke(
        cli, ["vision", "predict", "--project", "colours", *files, str(env / "broken.jpg")]
    )
    assert r.exit_code == 2, r.output
    first, second, broken = _lines(r.stdout)
    assert (first["file"], first["tag"]) == (files[0], "red")
    assert (second["file"], second["tag"]) == (files[1], "blue")
    assert set(first) == {"file", "tag", "probability", "top"}
    top = first["top"]
    assert isinstance(top, list) and top[0][0] == "red" and len(top[0]) == 2
    assert broken["file"].endswith("broken.jpg") and "error" in broken  # type: ignore[union-attr]
    r = runner.invoke(cli, ["vision", "eval", "--project", "colours", "--json"])
    assert r.exit_code == 0, r.output
    (report,) = _lines(r.stdout)
    assert report["number"] == 1 and report["metrics"]["heldout_images"] == 2  # type: ignore[index]


def test_a_threshold_of_one_abstains_with_tag_null(env: Path) -> None:
    cli = build()
    images = photo_folder(env / "photos", 3)
    assert (
        runner.invoke(
            cli, ["vision", "train", "--project", "p", "--images", str(images), "--recipe", "fast"]
        ).exit_code
        == 0
    )
    platform = open_platform(get_settings())
    try:
        vision = platform.services(VISION_APP)
        vision.iterations.train_now("p", TrainSettings(threshold=1.0))
        vision.iterations.publish("p", 2)
    finally:
        platform.close()
    (env / "x.jpg").write_bytes(photo("red", 50))
    r = runner.invoke(cli, ["vision", "predict", "--project", "p", str(env / "x.jpg")])
    assert r.exit_code == 0, r.output
    (line,) = _lines(r.stdout)
    assert line["tag"] is None and line["top"][0][0] == "red"  # type: ignore[index]


def test_predict_needs_a_published_project(env: Path) -> None:
    r = runner.invoke(build(), ["vision", "predict", "--project", "nope", str(env)])
    assert r.exit_code == 2 and "nope" in r.output


def test_eval_runs_a_few_shot_study_on_a_folder(env: Path) -> None:
    images = photo_folder(env / "photos", 4, ("red", "blue", "green"))
    r = runner.invoke(
        build(),
        [
            "vision",
            "eval",
            "--images",
            str(images),
            "--shots",
            "2",
            "--seeds",
            "3",
            "--recipe",
            "fast",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    (report,) = _lines(r.stdout)
    assert report["shots"] == 2 and len(report["accuracy_per_seed"]) == 3  # type: ignore[arg-type]
    assert report["accuracy"]["mean"] >= 0.8  # type: ignore[index]
