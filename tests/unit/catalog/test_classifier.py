"""The adapter over the vision app's published models: the shapes it accepts, NotFound as
"not published", and the packaged backbone when the vision app is absent."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from PIL import Image

from nunchi.apps.catalog.classifier import PublishedClassifier, classification_of
from nunchi.errors import NotFound

_MODULE = "nunchi.apps.vision.published"


@dataclass
class _Prediction:
    tag: str | None
    probability: float
    top: list[tuple[str, float]]


class _Published:
    def __init__(self, core: object) -> None:
        self.core = core

    def predict(self, project: str, images: Sequence[Image.Image], top_k: int) -> list[Any]:
        assert all(isinstance(i, Image.Image) for i in images)
        if project == "plants-demo":
            return [_Prediction("tulips", 0.9, [("tulips", 0.9), ("roses", 0.05)][:top_k])]
        if project == "food":
            return [{"tag": None, "probability": 0.3, "top": [["김치찌개", 0.3]]}]
        raise NotFound(f"no published model for project {project!r}")

    def imagenet(self, images: Sequence[Image.Image], top_k: int) -> list[list[tuple[str, float]]]:
        return [[("pizza", 0.7), ("plate", 0.1)][:top_k] for _ in images]


@pytest.fixture
def vision(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    fake = types.ModuleType(_MODULE)
    fake.PublishedModels = _Published  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, _MODULE, fake)
    yield


def test_published_models_in_either_shape(vision: None) -> None:
    adapter = PublishedClassifier(core=None)
    image = Image.new("RGB", (16, 16))
    plants = adapter.classify("plants-demo", image, 2)
    assert plants is not None and plants.tag == "tulips" and plants.model == "project:plants-demo"
    assert plants.top == (("tulips", 0.9), ("roses", 0.05))
    food = adapter.classify("food", image, 3)
    assert food is not None and food.tag is None and food.probability == 0.3  # abstained
    assert adapter.classify("plants", image, 3) is None  # not published
    assert adapter.imagenet(image, 2).tag == "pizza"


def test_without_the_vision_app_only_the_backbone_answers(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    monkeypatch.setitem(sys.modules, _MODULE, None)  # import fails as if absent
    adapter = PublishedClassifier(core=None)
    image = Image.new("RGB", (64, 64), (250, 250, 250))
    assert adapter.classify("plants-demo", image, 3) is None
    answer = adapter.imagenet(image, 3)
    assert answer.model == "imagenet" and len(answer.top) == 3 and answer.tag == answer.top[0][0]


def test_a_result_without_probability_takes_the_best_guess() -> None:
    got = classification_of({"tag": "a", "top": [("a", 0.6), ("b", 0.2)]}, "project:x")
    assert got.probability == 0.6 and got.top[1] == ("b", 0.2)
