"""The ImageNet food classes map to real labels of the backbone and real dishes of the
packaged nutrition table."""

from __future__ import annotations

import csv
import gzip
import io
from importlib import resources

from nunchi.analyzers.vision.backbone import LABELS_FILE
from nunchi.apps.catalog.food_map import IMAGENET_FOODS


def test_every_class_is_an_imagenet_label_and_every_key_a_dish() -> None:
    labels = set(LABELS_FILE.read_text("utf-8").splitlines())
    raw = resources.files("nunchi.apps.catalog").joinpath(
        "data", "foods-mfds-2023-12-27.csv.gz").read_bytes()
    rows = {r["식품코드"]: r for r in csv.DictReader(io.StringIO(
        gzip.decompress(raw).decode("utf-8-sig")))}
    assert len(rows) == 12_242
    assert {"pizza", "cheeseburger", "hotdog", "ice cream", "espresso"} <= set(IMAGENET_FOODS)
    for label, food in IMAGENET_FOODS.items():
        assert label in labels, label
        assert food.keys and all(k in rows for k in food.keys), label
    assert "피자" in rows[IMAGENET_FOODS["pizza"].keys[0]]["식품명"]
    assert "햄버거" in rows[IMAGENET_FOODS["cheeseburger"].keys[0]]["식품명"]
