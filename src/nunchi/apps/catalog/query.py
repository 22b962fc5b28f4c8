"""A catalog search as data (:class:`SearchQuery`), read from query parameters
(``q``, ``<attr>_min`` / ``<attr>_max``, ``category``, ``sort``, ``cursor``, ``limit``), and
the opaque cursors of its pages.

Sorts: ``relevance`` (the default with ``q``), ``name`` (the default without), ``popular``
(most identified of all time first), ``popular_hour`` (most identified in the last hour
first), or any numeric attribute, ascending (``energy_kcal``) or descending with a leading
``-`` (``-protein_g``); ``-name`` is names backwards. Sorting by an attribute lists the items
that have it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nunchi.apps.catalog.records import check_attr, check_kind, check_text
from nunchi.errors import InvalidInput

__all__ = [
    "MAX_LIMIT",
    "MAX_QUERY_CHARS",
    "SPECIAL_SORTS",
    "Range",
    "SearchQuery",
    "decode_cursor",
    "encode_cursor",
]

MAX_LIMIT = 100
"""Most items on one page."""
MAX_QUERY_CHARS = 200
SPECIAL_SORTS = ("relevance", "name", "-name", "popular", "popular_hour")
_MAX_RANGES = 10
_MAX_CURSOR = 600
_RESERVED = {"q", "sort", "cursor", "limit", "category", "lang"}


@dataclass(frozen=True)
class Range:
    """``low <= attr <= high`` (either bound may be open)."""

    attr: str
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class SearchQuery:
    """One search of one catalog: text, ranges, a category, a sort, a page."""

    kind: str
    q: str | None = None
    ranges: tuple[Range, ...] = ()
    category: str | None = None
    sort: str | None = None
    cursor: str | None = None
    limit: int = 20

    def __post_init__(self) -> None:
        check_kind(self.kind)
        for what, text in (("q", self.q), ("category", self.category), ("sort", self.sort)):
            if text is not None:
                check_text(text, what)
        q = " ".join((self.q or "").split()) or None
        if q is not None and len(q) > MAX_QUERY_CHARS:
            raise InvalidInput(f"q is {len(q)} characters; at most {MAX_QUERY_CHARS}")
        object.__setattr__(self, "q", q)
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or not (
                1 <= self.limit <= MAX_LIMIT):
            raise InvalidInput(f"limit must be within 1..{MAX_LIMIT}, got {self.limit!r}")
        if len(self.ranges) > _MAX_RANGES:
            raise InvalidInput(f"at most {_MAX_RANGES} ranges in one search")
        for r in self.ranges:
            check_attr(r.attr)
            for bound in (r.low, r.high):
                if bound is not None and not math.isfinite(bound):
                    raise InvalidInput(f"the bounds of {r.attr} must be finite numbers")
            if r.low is not None and r.high is not None and r.low > r.high:
                raise InvalidInput(f"{r.attr}_min ({r.low:g}) is above {r.attr}_max ({r.high:g})")
        sort = self.sort or ("relevance" if q else "name")
        if sort not in SPECIAL_SORTS:
            check_attr(sort.removeprefix("-"))
        if sort == "relevance" and q is None:
            raise InvalidInput("sort=relevance needs a query (q)")
        object.__setattr__(self, "sort", sort)

    @property
    def order(self) -> str:
        """The sort in effect (never None after construction)."""
        return self.sort or "name"

    def fingerprint(self) -> str:
        """What a cursor of this search must match: the query, filters and sort."""
        doc = [self.kind, self.q, self.order, self.category,
               [(r.attr, r.low, r.high) for r in self.ranges]]  # fmt: skip
        raw = json.dumps(doc, ensure_ascii=False, sort_keys=True).encode()
        return hashlib.sha256(raw).hexdigest()[:12]

    @classmethod
    def from_params(cls, kind: str, params: Mapping[str, str]) -> SearchQuery:
        """A search from query parameters: ``q``, ``category``, ``sort``, ``cursor``,
        ``limit`` and ``<attr>_min`` / ``<attr>_max`` for any numeric attribute; empty
        values are ignored; anything else is refused naming the parameter."""
        bounds: dict[str, dict[str, float]] = {}
        for name, value in params.items():
            if name in _RESERVED or value in ("", None):
                continue
            attr, _, side = name.rpartition("_")
            if side not in ("min", "max") or not attr:
                raise InvalidInput(
                    f"unknown parameter {name!r}: use q, category, sort, cursor, limit or "
                    "<attribute>_min / <attribute>_max"
                )
            check_attr(attr)
            try:
                number = float(value)
            except ValueError:
                raise InvalidInput(f"{name} must be a number, got {value!r}") from None
            bounds.setdefault(attr, {})[side] = number
        ranges = tuple(Range(a, b.get("min"), b.get("max")) for a, b in sorted(bounds.items()))
        raw_limit = params.get("limit") or "20"
        try:
            limit = int(raw_limit)
        except ValueError:
            raise InvalidInput(f"limit must be an integer, got {raw_limit!r}") from None
        return cls(kind=kind, q=params.get("q") or None, ranges=ranges,
                   category=params.get("category") or None, sort=params.get("sort") or None,
                   cursor=params.get("cursor") or None, limit=limit)  # fmt: skip


def encode_cursor(query: SearchQuery, position: Mapping[str, Any]) -> str:
    """An opaque cursor for the page after ``position`` of ``query``."""
    doc = {"f": query.fingerprint(), **position}
    raw = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(query: SearchQuery) -> dict[str, Any] | None:
    """The position ``query.cursor`` stands for (None without one); :class:`InvalidInput`
    for a damaged cursor or one of another search."""
    token = query.cursor
    if token is None:
        return None
    if len(token) > _MAX_CURSOR:
        raise InvalidInput("the cursor is too long; pass the next_cursor of a page as it is")
    try:
        doc = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidInput("the cursor is damaged; pass the next_cursor of a page as it is") \
            from None
    if not isinstance(doc, dict) or doc.get("f") != query.fingerprint():
        raise InvalidInput("the cursor belongs to another search (q, filters or sort changed); "
                           "start again without a cursor")
    if not all(_fits(value) for value in doc.values()):
        raise InvalidInput("the cursor is damaged; pass the next_cursor of a page as it is")
    return doc


def _fits(value: object) -> bool:
    """Whether a cursor value can be bound on both databases (64-bit, finite, no NUL)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str) and len(value) <= 300 and "\x00" not in value
