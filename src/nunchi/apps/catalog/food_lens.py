"""Food lens: a photo -> a classifier -> a dish of the food catalog -> its nutrition facts
scaled to the serving, with the top alternatives when unsure.

The classifier is the published ``food`` project when there is one (its tags name dishes:
a 식품코드, an exact name, or the best text match of the catalog), else the backbone's own
ImageNet food classes (:data:`~nunchi.apps.catalog.food_map.IMAGENET_FOODS`).

``status``: ``identified`` (the model named a dish with at least :data:`SURE` probability
and, for ImageNet, the dish class is its best label overall), ``unsure`` (a dish, but less
certain: the alternatives matter), ``unknown`` (no food class among the best guesses).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PIL import Image

from nunchi.apps.catalog.classifier import Classification, ImageClassifier
from nunchi.apps.catalog.food_map import IMAGENET_FOODS
from nunchi.apps.catalog.foods import FOOD_ATTRIBUTION, FOOD_KIND, nutrition_facts
from nunchi.apps.catalog.search import CatalogSearch
from nunchi.apps.catalog.store import CatalogStore

__all__ = ["FOOD_PROJECTS", "SURE", "FoodLens", "food_view"]

FOOD_PROJECTS = ("food",)
"""Published vision projects that recognise dishes, in order of precedence."""
SURE = 0.5
"""Probability from which a dish is shown as identified rather than as a best guess."""
_IMAGENET_TOP = 10
_ALTERNATIVES = 4


def food_view(item: dict[str, Any], *, label: str | None = None,
              probability: float | None = None, exact: bool = True) -> dict[str, Any]:
    """A dish as a result card shows it: names, attribution and nutrition facts."""
    return {"id": item["id"], "key": item["key"], "name": item["name"], "maker": item["maker"],
            "category": item["category"], "source_note": item["source_note"],
            "nutrition": nutrition_facts(item), "label": label, "probability": probability,
            "exact": exact}  # fmt: skip


@dataclass
class _Guess:
    label: str
    probability: float
    keys: tuple[str, ...] = ()
    exact: bool = True


class FoodLens:
    """Recognises dishes in photos; see the module docstring."""

    def __init__(self, store: CatalogStore, search: CatalogSearch,
                 classifier: ImageClassifier) -> None:
        self.store = store
        self.search = search
        self.classifier = classifier

    def _item_for_tag(self, tag: str) -> dict[str, Any] | None:
        """The dish a custom classifier's tag names: key, exact name, else best text match."""
        return self.search.item_named(FOOD_KIND, tag)

    def _guesses(self, image: Image.Image) -> tuple[Classification, list[_Guess], bool]:
        for project in FOOD_PROJECTS:
            found = self.classifier.classify(project, image, _ALTERNATIVES + 1)
            if found is not None:
                guesses = [_Guess(t, p) for t, p in found.top]
                sure = found.tag is not None and found.probability >= SURE
                return found, guesses, sure
        found = self.classifier.imagenet(image, _IMAGENET_TOP)
        guesses = [_Guess(t, p, IMAGENET_FOODS[t].keys, IMAGENET_FOODS[t].exact)
                   for t, p in found.top if t in IMAGENET_FOODS]  # fmt: skip
        sure = bool(guesses) and guesses[0].label == found.tag and guesses[0].probability >= SURE
        return found, guesses, sure

    def identify(self, image: Image.Image) -> dict[str, Any]:
        """The result card of one photo (see the module docstring for ``status``)."""
        model, guesses, sure = self._guesses(image)
        views: list[dict[str, Any]] = []
        seen: set[int] = set()
        for g in guesses:
            items: list[dict[str, Any]] = []
            if g.keys:
                found = self.store.by_key(FOOD_KIND, list(g.keys))
                items = [found[k] for k in g.keys if k in found]
            else:
                one = self._item_for_tag(g.label)
                items = [one] if one is not None else []
            for rank, item in enumerate(items):
                if item["id"] in seen:
                    continue
                seen.add(item["id"])
                exact = g.exact and rank == 0
                views.append(food_view(item, label=g.label, probability=round(g.probability, 4),
                                       exact=exact))  # fmt: skip
        top = [(t, round(p, 4)) for t, p in model.top[:5]]
        if not views:
            return {"kind": FOOD_KIND, "status": "unknown", "model": model.model, "item": None,
                    "alternatives": [], "top": top, "attribution": FOOD_ATTRIBUTION}
        status = "identified" if sure and views[0]["label"] == model.tag else "unsure"
        return {"kind": FOOD_KIND, "status": status, "model": model.model, "item": views[0],
                "alternatives": views[1 : 1 + _ALTERNATIVES], "top": top,
                "attribution": FOOD_ATTRIBUTION}  # fmt: skip
