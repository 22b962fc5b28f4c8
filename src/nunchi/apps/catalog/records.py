"""What an item is before it is stored (:class:`ItemRecord`), the names a catalog may use
(kinds, attributes) and the parsing of numbers and serving sizes from imported text.

Weights of an item's texts in the search index: the name 1.0, an alias 0.8, the maker 0.6,
other searchable text (e.g. the MFDS 대표식품명, a plant's scientific name) 0.5 and the
category 0.4; so a query that matches the name outranks one that matches only the category.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nunchi.errors import InvalidInput

__all__ = [
    "ATTR_PATTERN",
    "KIND_PATTERN",
    "WEIGHTS",
    "ItemRecord",
    "Serving",
    "check_attr",
    "check_kind",
    "check_text",
    "parse_number",
    "parse_serving",
]

KIND_PATTERN = r"^[a-z][a-z0-9_-]{0,39}$"
"""A catalog's name: ``food``, ``plant``, ``wine``, ``garden-tools`` (lowercase, at most 40)."""
ATTR_PATTERN = r"^[a-z][a-z0-9_]{0,59}$"
"""An attribute's name: ``energy_kcal``, ``protein_g`` (lowercase, digits, ``_``)."""
WEIGHTS: Mapping[str, float] = {
    "name": 1.0, "alias": 0.8, "maker": 0.6, "search": 0.5, "category": 0.4,
}  # fmt: skip
_KIND = re.compile(KIND_PATTERN)
_ATTR = re.compile(ATTR_PATTERN)
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_SERVING = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(g|ml|m|kg|l|mg)?\s*$", re.IGNORECASE)
_UNITS = {"g": ("g", 1.0), "kg": ("g", 1000.0), "mg": ("g", 0.001), "ml": ("ml", 1.0),
          "m": ("ml", 1.0), "l": ("ml", 1000.0)}  # fmt: skip
_MAX_TEXT = 1000
_MAX_ALIASES = 50


def check_kind(kind: str) -> str:
    """``kind`` if it is a valid catalog name, else :class:`InvalidInput` saying the rule."""
    if not isinstance(kind, str) or not _KIND.match(kind):
        raise InvalidInput(
            f"bad catalog kind {kind!r}: use lowercase letters, digits, '_' or '-' "
            "(at most 40, starting with a letter), e.g. food or plant"
        )
    return kind


def check_attr(attr: str) -> str:
    """``attr`` if it is a valid attribute name, else :class:`InvalidInput`."""
    if not isinstance(attr, str) or not _ATTR.match(attr):
        raise InvalidInput(
            f"bad attribute name {attr!r}: use lowercase letters, digits and '_' "
            "(at most 60, starting with a letter), e.g. energy_kcal"
        )
    return attr


def parse_number(text: str | None) -> float | None:
    """A number from imported text (``"12.5"``, ``"1,234"``, ``" 3 "``); None when empty;
    :class:`InvalidInput` for anything else, so a shifted column is noticed."""
    if text is None:
        return None
    cleaned = text.strip().replace(",", "")
    if not cleaned:
        return None
    if not _NUMBER.match(cleaned):
        raise InvalidInput(f"{text!r} is not a number")
    value = float(cleaned)
    if not math.isfinite(value):
        raise InvalidInput(f"{text!r} is not a finite number")
    return value


@dataclass(frozen=True)
class Serving:
    """A serving size: ``value`` in ``unit`` (``g`` or ``ml``)."""

    value: float
    unit: str


def parse_serving(text: str | None) -> Serving | None:
    """A serving size from text such as ``600g``, ``90ml``, ``1.5kg`` or a bare number
    (taken as grams); None for empty or unreadable text (the MFDS table truncates some values
    to five characters, e.g. ``1205.``, which still reads as 1205 g)."""
    if not text:
        return None
    found = _SERVING.match(text)
    if found is None:
        return None
    number, unit = found.group(1), (found.group(2) or "g").lower()
    base, factor = _UNITS[unit]
    value = float(number) * factor
    return Serving(value, base) if value > 0 else None


def check_text(text: str, what: str) -> str:
    """``text`` if both databases can store it (no NUL, no lone surrogate), else
    :class:`InvalidInput`."""
    if "\x00" in text:
        raise InvalidInput(f"{what} holds a NUL character; remove it")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{what} is not valid text (a lone surrogate)") from None
    return text


def _clean(text: str | None, what: str) -> str | None:
    if text is None:
        return None
    value = " ".join(check_text(str(text), what).split())
    if len(value) > _MAX_TEXT:
        raise InvalidInput(f"{what} is {len(value)} characters long; at most {_MAX_TEXT}")
    return value or None


@dataclass
class ItemRecord:
    """An item to store: identity, names, typed attributes and its own attribution."""

    kind: str
    key: str
    name: str
    maker: str | None = None
    category: str | None = None
    aliases: list[str] = field(default_factory=list)
    numbers: dict[str, float] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    """Structured fields of a kind (``{"plant": {...}}``), stored with the attributes."""
    search: list[str] = field(default_factory=list)
    """More texts the search matches (weight ``WEIGHTS["search"]``)."""
    source_note: str | None = None

    def __post_init__(self) -> None:
        check_kind(self.kind)
        key = _clean(self.key, "key")
        name = _clean(self.name, "name")
        if not key or len(key) > 200:
            raise InvalidInput(f"item {self.name!r}: the key must be 1-200 characters")
        if not name or len(name) > 300:
            raise InvalidInput(f"item {self.key!r}: the name must be 1-300 characters")
        self.key, self.name = key, name
        self.maker = _clean(self.maker, "maker")
        self.category = _clean(self.category, "category")
        if len(self.maker or "") > 200 or len(self.category or "") > 200:
            raise InvalidInput(f"item {self.key!r}: maker and category are at most 200 long")
        aliases = [a for a in (_clean(a, "alias") for a in self.aliases) if a and a != name]
        self.aliases = list(dict.fromkeys(aliases))[:_MAX_ALIASES]
        self.search = [s for s in (_clean(s, "text") for s in self.search) if s]
        for attr, value in self.numbers.items():
            check_attr(attr)
            if isinstance(value, bool) or not isinstance(value, int | float) or not (
                math.isfinite(value)
            ):
                raise InvalidInput(f"item {self.key!r}: {attr} must be a finite number")
        for attr, text in self.texts.items():
            check_attr(attr)
            check_text(text, f"{attr} of item {self.key!r}")

    def search_texts(self) -> list[tuple[str, float]]:
        """The weighted texts the search index holds for this item (no repeats)."""
        out: list[tuple[str, float]] = [(self.name, WEIGHTS["name"])]
        out += [(a, WEIGHTS["alias"]) for a in self.aliases]
        if self.maker:
            out.append((self.maker, WEIGHTS["maker"]))
        out += [(s, WEIGHTS["search"]) for s in self.search]
        if self.category:
            out.append((self.category, WEIGHTS["category"]))
        seen: set[str] = set()
        unique = []
        for text, weight in out:
            if text not in seen:
                seen.add(text)
                unique.append((text, weight))
        return unique

    def attrs(self) -> dict[str, Any]:
        """The stored attributes document: numbers, texts and the kind's fields."""
        return {"numbers": dict(self.numbers), "texts": dict(self.texts), **self.extra}
