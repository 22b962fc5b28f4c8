"""The plant catalog of Plant guard: curated entries (toxicity, look-alikes, first aid, sources)."""

from nunchi.apps.catalog.plant_data import (
    IMAGE_CLASSES,
    TOXICITY_LEVELS,
    PlantCatalog,
    PlantEntry,
    load_catalog,
    load_starter_plants,
    parse_catalog,
)

__all__ = [
    "IMAGE_CLASSES",
    "TOXICITY_LEVELS",
    "PlantCatalog",
    "PlantEntry",
    "load_catalog",
    "load_starter_plants",
    "parse_catalog",
]
