"""The catalogs that ship inside the package, imported on first use of a fresh platform.

- ``food``: the MFDS nutrition table, compressed (``data/foods-mfds-2023-12-27.csv.gz``, with
  its attribution in ``data/FOODS-SOURCE.md``);
- ``plant``: the curated plant catalog (``data/plants.json``, ``data/PLANTS-SOURCES.md``).

Each import is recorded as a source whose ``data_version`` is the sha256 of the packaged
file, so :func:`ensure_shipped` costs one small query once the data is in, and imports again
only when the packaged file changes (items the new file no longer lists become inactive).
Imports run in batches of short transactions; an interrupted one simply runs again.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources

from nunchi.apps.catalog.foods import (
    FOOD_FILE,
    FOOD_KIND,
    FOOD_LICENCE,
    FOOD_MAPPING,
    FOOD_SOURCE,
    finish_food_records,
)
from nunchi.apps.catalog.plant_data import PlantCatalog, PlantEntry, parse_catalog
from nunchi.apps.catalog.records import ItemRecord
from nunchi.apps.catalog.store import CatalogStore
from nunchi.inputs.tables import read_table

__all__ = [
    "PLANT_CATEGORIES",
    "PLANT_KIND",
    "SHIPPED",
    "Shipped",
    "ensure_shipped",
    "plant_records",
]

log = logging.getLogger("nunchi.apps.catalog")

PLANT_KIND = "plant"
PLANT_FILE = "plants.json"
PLANT_SOURCE = "nunchi 식물 안전 카탈로그 (plants.json)"
PLANT_LICENCE = "Apache-2.0 (nunchi); each entry names the sources its facts come from"
PLANT_CATEGORIES = {"wild_herb": "야생 풀", "tree_shrub": "나무·관목",
                    "garden_flower": "정원 꽃", "houseplant": "실내 식물"}  # fmt: skip
"""The Korean name of each plant category (searchable as the item's category)."""


def _data(name: str) -> bytes:
    return resources.files("nunchi.apps.catalog").joinpath("data", name).read_bytes()


def _foods(raw: bytes) -> list[ItemRecord]:
    table = read_table(gzip.decompress(raw), name=FOOD_FILE.removesuffix(".gz"))
    return finish_food_records(FOOD_MAPPING.read(FOOD_KIND, table).records)


def _plant_record(entry: PlantEntry) -> ItemRecord:
    tox = entry.toxicity
    note = "; ".join(f"{s.publisher}: {s.title}" for s in entry.sources)
    return ItemRecord(
        kind=PLANT_KIND, key=entry.slug, name=entry.name, category=PLANT_CATEGORIES[
            entry.category], aliases=list(entry.aliases),
        search=[entry.name_en, entry.scientific_name],
        texts={"toxicity_people": tox.people, "toxicity_pets": tox.pets,
               "toxicity_dogs": tox.dogs, "toxicity_cats": tox.cats,
               "scientific_name": entry.scientific_name, "name_en": entry.name_en,
               "family": entry.family, "category_code": entry.category},
        extra={"plant": entry.model_dump(mode="json")},
        source_note=note[:2000],
    )  # fmt: skip


def plant_records(catalog: PlantCatalog) -> list[ItemRecord]:
    """The catalog's entries as items of the ``plant`` catalog."""
    return [_plant_record(e) for e in catalog.plants]


def _plants(raw: bytes) -> list[ItemRecord]:
    return plant_records(parse_catalog(raw.decode("utf-8")))


@dataclass(frozen=True)
class Shipped:
    """A packaged catalog: where it goes, its attribution and how its file reads."""

    kind: str
    source: str
    file: str
    licence: str
    read: Callable[[bytes], list[ItemRecord]]
    data: bytes | None = None
    """The file's bytes when they do not come from the package (tests)."""

    def raw(self) -> bytes:
        """The packaged file's bytes."""
        return self.data if self.data is not None else _data(self.file)


SHIPPED: tuple[Shipped, ...] = (
    Shipped(FOOD_KIND, FOOD_SOURCE, FOOD_FILE, FOOD_LICENCE, _foods),
    Shipped(PLANT_KIND, PLANT_SOURCE, PLANT_FILE, PLANT_LICENCE, _plants),
)

_LOCK = threading.Lock()


def ensure_shipped(store: CatalogStore, kinds: Sequence[str] | None = None,
                   shipped: Sequence[Shipped] = SHIPPED) -> list[str]:
    """Import each packaged catalog (of ``kinds``, default all) that the store lacks or holds
    in an older version; returns the kinds imported now (empty when all were current)."""
    done: list[str] = []
    with _LOCK:
        for each in shipped:
            if kinds is not None and each.kind not in kinds:
                continue
            raw = each.raw()
            version = hashlib.sha256(raw).hexdigest()
            if store.shipped_version(each.kind, each.source) == version:
                continue
            records = each.read(raw)
            source = store.add_source(each.kind, each.source, file=each.file,
                                      licence=each.licence, data_version=version)
            written = store.write(each.kind, records, source)
            retired = store.finish_source(source, len(records), retire_older=True)
            log.info("catalog %s: imported %s (%d new, %d updated, %d retired)", each.kind,
                     each.file, written.inserted, written.updated, retired)
            done.append(each.kind)
        if done:
            store.analyze()
    return done
