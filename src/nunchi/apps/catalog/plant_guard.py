"""Plant guard: a photo -> a plant classifier -> a plant of the catalog -> a clear toxicity
warning card with first aid and look-alikes, and always the emergency help.

The classifier is the published ``plants`` project when there is one, else the demo
``plants-demo`` (the five flowers of the demo set); its tags name plants by image class
(``tulips``), slug, Korean name or the best text match of the catalog.

Never a confident "safe": a plant the sources list as not toxic is "known as not toxic per
<source>", still with "if unsure or there are symptoms, call 119"; ``status`` is
``identified`` only when the model named one plant with at least :data:`SURE` probability,
else ``unsure`` with the candidates, each with its own card (the worst level among them is
the headline); ``unavailable`` when no plant classifier is published.
"""

from __future__ import annotations

import contextlib
from typing import Any

from PIL import Image

from nunchi.apps.catalog.classifier import ImageClassifier
from nunchi.apps.catalog.plant_data import load_catalog, worst_level
from nunchi.apps.catalog.search import CatalogSearch
from nunchi.apps.catalog.shipped import PLANT_KIND
from nunchi.apps.catalog.store import CatalogStore
from nunchi.errors import NotFound

__all__ = ["PLANT_PROJECTS", "SURE", "VERDICTS", "PlantGuard", "emergency", "plant_card"]

PLANT_PROJECTS = ("plants", "plants-demo")
"""Published vision projects that recognise plants, in order of precedence."""
SURE = 0.7
VERDICTS = {"severe": "danger", "mild": "caution", "unknown": "unknown",
            "none": "not_known_toxic"}  # fmt: skip
"""Toxicity level -> what the card says; there is no "safe"."""
_CANDIDATES = 3


def emergency() -> dict[str, Any]:
    """Where to get help, and the catalog's disclaimer (packaged, both languages)."""
    catalog = load_catalog()
    return {"texts": catalog.emergency.model_dump(mode="json"),
            "disclaimer": catalog.disclaimer.model_dump(mode="json")}  # fmt: skip


def _alike(alike: dict[str, Any]) -> dict[str, Any]:
    out = {"name": alike.get("name"), "slug": alike.get("slug"),
           "how_to_tell": alike.get("how_to_tell"), "toxicity": None}  # fmt: skip
    if alike.get("slug"):
        try:
            other = load_catalog().by_slug(alike["slug"])
        except NotFound:
            return out
        out["name"] = other.name
        out["toxicity"] = other.toxicity.model_dump()
    return out


def plant_card(item: dict[str, Any], probability: float | None = None) -> dict[str, Any]:
    """A plant as the warning card shows it (an imported plant without the curated fields
    gets ``unknown`` levels: unknown is not safe)."""
    plant: dict[str, Any] = (item.get("attrs") or {}).get("plant") or {}
    tox = plant.get("toxicity") or {"people": "unknown", "pets": "unknown",
                                    "dogs": "unknown", "cats": "unknown"}  # fmt: skip
    sources = plant.get("sources") or []
    vouching = [s["title"] for s in sources if s.get("kind") == "non_toxic_list"]
    not_toxic_per = vouching or [s["title"] for s in sources[:1]]
    return {
        "id": item["id"], "key": item["key"], "name": item["name"],
        "name_en": plant.get("name_en"), "scientific_name": plant.get("scientific_name"),
        "family": plant.get("family"), "aliases": item.get("aliases") or [],
        "toxicity": tox, "worst": worst_level(tox["people"], tox["pets"]),
        "verdict": {"people": VERDICTS[tox["people"]], "pets": VERDICTS[tox["pets"]]},
        "not_toxic_per": not_toxic_per if "none" in (tox["people"], tox["pets"]) else [],
        "toxic_parts": plant.get("toxic_parts", []), "symptoms": plant.get("symptoms", []),
        "pet_symptoms": plant.get("pet_symptoms", []), "first_aid": plant.get("first_aid", []),
        "cautions": plant.get("cautions", []),
        "look_alikes": [_alike(a) for a in plant.get("look_alikes", [])],
        "description": plant.get("description"), "sources": sources,
        "source_note": item.get("source_note"), "probability": probability,
    }  # fmt: skip


class PlantGuard:
    """Identifies plants in photos and says how poisonous they are; see the module doc."""

    def __init__(self, store: CatalogStore, search: CatalogSearch,
                 classifier: ImageClassifier) -> None:
        self.store = store
        self.search = search
        self.classifier = classifier

    def item_for_tag(self, tag: str) -> dict[str, Any] | None:
        """The plant a classifier's tag names (image class, slug, name, best text match)."""
        keys: list[str] = []
        with contextlib.suppress(NotFound):
            keys.append(load_catalog().for_image_class(tag).slug)
        return self.search.item_named(PLANT_KIND, tag, keys)

    def identify(self, image: Image.Image) -> dict[str, Any]:
        """The warning card of one photo (see the module docstring)."""
        help_ = emergency()
        for project in PLANT_PROJECTS:
            found = self.classifier.classify(project, image, _CANDIDATES)
            if found is not None:
                break
        else:
            return {"kind": PLANT_KIND, "status": "unavailable", "model": None, "plant": None,
                    "candidates": [], "worst": "unknown", **help_}
        cards: list[dict[str, Any]] = []
        for tag, p in found.top[:_CANDIDATES]:
            item = self.item_for_tag(tag)
            if item is not None and all(c["id"] != item["id"] for c in cards):
                cards.append({**plant_card(item, round(p, 4)), "tag": tag})
        sure = (found.tag is not None and found.probability >= SURE and bool(cards)
                and cards[0]["tag"] == found.tag)  # fmt: skip
        worst = worst_level(*(c["worst"] for c in cards)) if cards else "unknown"
        if sure:
            return {"kind": PLANT_KIND, "status": "identified", "model": found.model,
                    "plant": cards[0], "candidates": cards[1:], "worst": cards[0]["worst"],
                    **help_}  # fmt: skip
        return {"kind": PLANT_KIND, "status": "unsure", "model": found.model, "plant": None,
                "candidates": cards, "worst": worst, **help_}  # fmt: skip
