"""The starter plant catalog of Plant guard: the entry model, its rules and the packaged data.

The catalog is one JSON file, ``nunchi/apps/catalog/data/plants.json`` (how it was made and
checked: ``data/PLANTS-SOURCES.md``). It tells people whether a plant can poison them or their
pet, so the model is strict: a pet level of ``none`` needs a non-toxic list among the sources,
the pet level is the worse of the dog and cat levels, every look-alike pair is listed from both
sides, and each of the five labels of the demo flower classifier maps to exactly one entry.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from nunchi.errors import InvalidInput, NotFound

__all__ = [
    "IMAGE_CLASSES",
    "TOXICITY_LEVELS",
    "Category",
    "Emergency",
    "EmergencyNumber",
    "EmergencyText",
    "ImageClass",
    "LocalizedText",
    "LookAlike",
    "PlantCatalog",
    "PlantEntry",
    "Source",
    "SourceKind",
    "Toxicity",
    "ToxicityLevel",
    "load_catalog",
    "load_starter_plants",
    "parse_catalog",
    "worst_level",
]

ToxicityLevel = Literal["none", "mild", "severe", "unknown"]
ImageClass = Literal["daisy", "dandelion", "roses", "sunflowers", "tulips"]
SourceKind = Literal[
    "government", "poison_centre", "veterinary", "non_toxic_list", "journal", "news", "reference"
]
Category = Literal["wild_herb", "tree_shrub", "garden_flower", "houseplant"]

TOXICITY_LEVELS: tuple[ToxicityLevel, ...] = ("none", "mild", "severe", "unknown")
IMAGE_CLASSES: tuple[ImageClass, ...] = ("daisy", "dandelion", "roses", "sunflowers", "tulips")

_SLUG = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"
_HANGUL = re.compile("[가-힣]")
_VET = ("동물병원", "수의사")
_MAX_ERRORS_SHOWN = 5


def worst_level(*levels: ToxicityLevel) -> ToxicityLevel:
    """The level to show for several animals: severe over mild over unknown over none."""
    for level in ("severe", "mild", "unknown"):
        if level in levels:
            return level
    return "none"


def _require_hangul(text: str, what: str) -> str:
    if not _HANGUL.search(text):
        raise ValueError(f"{what} must be Korean text, got {text!r}")
    return text


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class LocalizedText(_Frozen):
    """A text in Korean (shown first) and English."""

    ko: str = Field(min_length=1)
    en: str = Field(min_length=1)

    @field_validator("ko")
    @classmethod
    def _ko_is_korean(cls, value: str) -> str:
        return _require_hangul(value, "ko")


class Source(_Frozen):
    """Where an entry's facts come from: publisher and title, and a URL only when it is stable."""

    title: str = Field(min_length=1)
    publisher: str = Field(min_length=1)
    url: str | None = None
    kind: SourceKind

    @field_validator("url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://"):
            raise ValueError(f"a source url must start with https://, got {value!r}")
        return value


class Toxicity(_Frozen):
    """How poisonous a plant is to people and to pets; ``pets`` is the worse of dogs and cats."""

    people: ToxicityLevel
    pets: ToxicityLevel
    dogs: ToxicityLevel
    cats: ToxicityLevel

    @model_validator(mode="after")
    def _pets_is_worst(self) -> Self:
        expected = worst_level(self.dogs, self.cats)
        if self.pets != expected:
            raise ValueError(
                f"pets is {self.pets!r} but dogs={self.dogs!r} and cats={self.cats!r} "
                f"give {expected!r}; set pets to the worse of the two"
            )
        return self


class LookAlike(_Frozen):
    """A plant this one is mistaken for: another entry (``slug``) or a plain Korean ``name``."""

    slug: str | None = Field(default=None, pattern=_SLUG)
    name: str | None = None
    how_to_tell: str = Field(min_length=1)

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if (self.slug is None) == (self.name is None):
            raise ValueError("a look-alike needs exactly one of slug (an entry) or name (plain)")
        if self.name is not None:
            _require_hangul(self.name, "look-alike name")
        _require_hangul(self.how_to_tell, "how_to_tell")
        return self


class PlantEntry(_Frozen):
    """One plant of the catalog, with Korean texts for the app and sources for every entry."""

    slug: str = Field(pattern=_SLUG, max_length=40)
    name: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    scientific_name: str = Field(min_length=1)
    family: str = Field(min_length=1)
    category: Category
    aliases: tuple[str, ...] = ()
    toxicity: Toxicity
    toxic_parts: tuple[str, ...] = ()
    toxic_compounds: tuple[str, ...] = ()
    symptoms: tuple[str, ...] = ()
    pet_symptoms: tuple[str, ...] = ()
    first_aid: tuple[str, ...] = Field(min_length=1)
    cautions: tuple[str, ...] = ()
    look_alikes: tuple[LookAlike, ...] = ()
    description: str = Field(min_length=1)
    season: str | None = None
    habitat: str | None = None
    edible: bool | None = None
    images_class: ImageClass | None = None
    sources: tuple[Source, ...] = Field(min_length=1)

    @field_validator("name", "description")
    @classmethod
    def _korean(cls, value: str) -> str:
        return _require_hangul(value, "name and description")

    @field_validator("aliases", "toxic_parts", "symptoms", "pet_symptoms", "first_aid", "cautions")
    @classmethod
    def _korean_items(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            _require_hangul(value, "each item")
        if len(set(values)) != len(values):
            raise ValueError(f"items repeat: {values!r}")
        return values

    @model_validator(mode="after")
    def _rules(self) -> Self:
        where = f"entry {self.slug!r}"
        if self.name in self.aliases:
            raise ValueError(f"{where}: the name {self.name!r} is also listed as an alias")
        if not any("119" in step for step in self.first_aid):
            raise ValueError(f"{where}: first_aid must tell people to call 119")
        if not any(word in step for step in self.first_aid for word in _VET):
            raise ValueError(f"{where}: first_aid must tell pet owners to call a vet (동물병원)")
        if self.toxicity.pets == "none" and not any(
            source.kind == "non_toxic_list" for source in self.sources
        ):
            raise ValueError(
                f"{where}: pets 'none' needs a source of kind 'non_toxic_list' "
                "(e.g. the ASPCA non-toxic list); otherwise use 'unknown'"
            )
        if any(alike.slug == self.slug for alike in self.look_alikes):
            raise ValueError(f"{where}: lists itself as a look-alike")
        return self

    @property
    def names(self) -> tuple[str, ...]:
        """The Korean names this entry answers to: its name, then its aliases."""
        return (self.name, *self.aliases)


class EmergencyText(_Frozen):
    """What to do in an emergency, in one language."""

    people: str = Field(min_length=1)
    pets: str = Field(min_length=1)
    bring: str = Field(min_length=1)
    poison_centre: str = Field(min_length=1)


class EmergencyNumber(_Frozen):
    """A phone number the app may show, with what it is for."""

    number: str = Field(pattern=r"^[0-9]{3,4}$")
    label: LocalizedText


class Emergency(_Frozen):
    """Where to get help: 119 and the nearest emergency room for people, a vet for pets."""

    ko: EmergencyText
    en: EmergencyText
    numbers: tuple[EmergencyNumber, ...] = Field(min_length=1)
    sources: tuple[Source, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _texts(self) -> Self:
        for text in (self.ko.people, self.ko.pets, self.ko.bring, self.ko.poison_centre):
            _require_hangul(text, "emergency ko text")
        if "119" not in self.ko.people or "119" not in self.en.people:
            raise ValueError("the emergency text for people must name 119")
        if not any(word in self.ko.pets for word in _VET):
            raise ValueError("the Korean emergency text for pets must name a vet (동물병원)")
        return self


class PlantCatalog(_Frozen):
    """The whole catalog: disclaimer, level legend, emergency help and the plant entries."""

    version: int = Field(ge=1)
    disclaimer: LocalizedText
    levels: dict[ToxicityLevel, LocalizedText]
    emergency: Emergency
    plants: tuple[PlantEntry, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        missing_levels = set(TOXICITY_LEVELS) - set(self.levels)
        if missing_levels:
            raise ValueError(f"levels must explain every level; missing {sorted(missing_levels)}")
        by_slug: dict[str, PlantEntry] = {}
        for entry in self.plants:
            if entry.slug in by_slug:
                raise ValueError(f"slug {entry.slug!r} is used by more than one entry")
            by_slug[entry.slug] = entry
        owner: dict[str, str] = {}
        for entry in self.plants:
            for name in entry.names:
                if name in owner and owner[name] != entry.slug:
                    raise ValueError(f"name {name!r} is used by {owner[name]!r} and {entry.slug!r}")
                owner[name] = entry.slug
        for entry in self.plants:
            for alike in entry.look_alikes:
                if alike.slug is None:
                    continue
                other = by_slug.get(alike.slug)
                if other is None:
                    raise ValueError(f"{entry.slug!r} lists unknown look-alike {alike.slug!r}")
                if not any(back.slug == entry.slug for back in other.look_alikes):
                    raise ValueError(
                        f"{entry.slug!r} lists {alike.slug!r} as a look-alike but not back; "
                        f"add {entry.slug!r} to the look_alikes of {alike.slug!r}"
                    )
        labels = [entry.images_class for entry in self.plants if entry.images_class is not None]
        if sorted(labels) != sorted(IMAGE_CLASSES):
            raise ValueError(
                f"each image class {IMAGE_CLASSES} needs exactly one entry; got {sorted(labels)}"
            )
        return self

    def by_slug(self, slug: str) -> PlantEntry:
        """The entry with ``slug``; raises NotFound when there is none."""
        for entry in self.plants:
            if entry.slug == slug:
                return entry
        raise NotFound(f"no plant with slug {slug!r} in the catalog")

    def for_image_class(self, label: str) -> PlantEntry:
        """The entry a flower-classifier label (``daisy``, ``roses``, ...) stands for."""
        for entry in self.plants:
            if entry.images_class == label:
                return entry
        raise NotFound(f"no plant for image class {label!r}; known: {', '.join(IMAGE_CLASSES)}")

    def find_by_name(self, name: str) -> PlantEntry | None:
        """The entry whose Korean name or alias is ``name`` (spaces ignored), if any."""
        wanted = "".join(name.split())
        for entry in self.plants:
            if any("".join(known.split()) == wanted for known in entry.names):
                return entry
        return None


def parse_catalog(text: str) -> PlantCatalog:
    """Parse and validate catalog JSON; raises InvalidInput saying what to fix."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"the plant catalog is not valid JSON: {exc}") from exc
    try:
        return PlantCatalog.model_validate(raw)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(part) for part in err['loc']) or '(catalog)'}: {err['msg']}"
            for err in exc.errors()[:_MAX_ERRORS_SHOWN]
        ]
        more = exc.error_count() - len(problems)
        suffix = f" (and {more} more)" if more > 0 else ""
        raise InvalidInput("the plant catalog is invalid: " + "; ".join(problems) + suffix) from exc


@lru_cache(maxsize=1)
def load_catalog() -> PlantCatalog:
    """The packaged catalog, read once and validated."""
    text = resources.files("nunchi.apps.catalog").joinpath("data", "plants.json").read_text("utf-8")
    return parse_catalog(text)


def load_starter_plants() -> list[PlantEntry]:
    """The entries of the packaged catalog, in file order."""
    return list(load_catalog().plants)
