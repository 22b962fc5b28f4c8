"""CatalogSearch: one search API for every catalog, on SQLite and PostgreSQL alike.

- Text (``q``): the kind's in-memory fuzzy index (:mod:`nunchi.apps.catalog.index`) finds the
  matches as typed, by initial consonants, typed on an English keyboard and with typos; in
  relevance order the pages walk its ranked sequence (no ceiling: a cursor is a position in
  it), and the filters are applied in SQL to each stretch of it.
- Filters, ranges and sorts: SQL over ``catalog_items`` and the ``catalog_numbers`` index
  ``(kind, attr, value, item_id)``; pages follow a keyset cursor (the last row's sort value
  and id), so page 500 costs what page 1 does.
- Text with another sort (``q=피자&sort=energy_kcal``): the best :data:`SORTED_MATCHES` text
  matches, sorted in SQL; the page says ``truncated`` when there were more.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.sql import FromClause, Select

from nunchi.apps.catalog.index import DEFAULT_CHUNK, KindIndex
from nunchi.apps.catalog.models import identifications_table, items_table, numbers_table
from nunchi.apps.catalog.query import Range, SearchQuery, decode_cursor, encode_cursor
from nunchi.apps.catalog.store import CatalogStore
from nunchi.errors import InvalidInput
from nunchi.store.types import utcnow

__all__ = ["MAX_SCAN", "SORTED_MATCHES", "CatalogSearch", "SearchPage", "public_item"]

SORTED_MATCHES = 5000
"""Text matches sorted by another order than relevance (the best ones, by relevance)."""
MAX_SCAN = 2000
"""Ranked matches one filtered page looks at; past that it ends early with a cursor."""

_I, _N, _ID = items_table, numbers_table, identifications_table


@dataclass
class SearchPage:
    """One page of results, best (or first by the sort) first."""

    items: list[dict[str, Any]]
    next_cursor: str | None
    sort: str
    truncated: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The page as the API answers it."""
        return {"items": self.items, "next_cursor": self.next_cursor, "sort": self.sort,
                "truncated": self.truncated}  # fmt: skip


def public_item(item: dict[str, Any], score: float | None = None,
                how: str | None = None) -> dict[str, Any]:
    """An item as a result row: identity, names, numbers and texts, identifications."""
    attrs = item.get("attrs") or {}
    out = {"id": item["id"], "kind": item["kind"], "key": item["key"], "name": item["name"],
           "maker": item["maker"], "category": item["category"],
           "aliases": item.get("aliases") or [], "numbers": attrs.get("numbers", {}),
           "texts": attrs.get("texts", {}), "identified": item["identified"]}  # fmt: skip
    if score is not None:
        out["score"] = score
        out["how_matched"] = how
    return out


def _in_range(column: Any, r: Range) -> list[ColumnElement[bool]]:
    conds = []
    if r.low is not None:
        conds.append(column >= r.low)
    if r.high is not None:
        conds.append(column <= r.high)
    return conds


def _conditions(query: SearchQuery, skip: str | None = None) -> list[ColumnElement[bool]]:
    """The SQL filters of ``query`` (every range but ``skip``'s)."""
    conds: list[ColumnElement[bool]] = [_I.c.kind == query.kind, _I.c.active]
    if query.category:
        conds.append(_I.c.category == query.category)
    for r in query.ranges:
        if r.attr == skip:
            continue
        n = _N.alias()
        conds.append(exists(select(n.c.item_id).where(
            n.c.item_id == _I.c.id, n.c.kind == query.kind, n.c.attr == r.attr,
            *_in_range(n.c.value, r))))
    return conds


_SPELLED = ("exact", "prefix", "substring", "fuzzy")
"""How a text hit may have matched for a classifier tag to name its item."""


class CatalogSearch:
    """Searches over the catalogs of one store; one :class:`KindIndex` per kind."""

    def __init__(self, store: CatalogStore, *, sync_interval: float = 1.0,
                 chunk: int = DEFAULT_CHUNK) -> None:
        self.store = store
        self.sync_interval = sync_interval
        self.chunk = chunk
        self._indexes: dict[str, KindIndex] = {}
        self._lock = threading.Lock()

    def item_named(self, kind: str, name: str, keys: Sequence[str] = ()) -> dict[str, Any] | None:
        """The item a classifier's tag ``name`` stands for: the first of ``keys`` (then the
        name itself) that is an item key, else the item of that exact name, else the best
        text match, if it matched by spelling (exact, prefix, substring or a typo). Initial
        consonants and keyboard-layout readings are left out: an English tag read as
        Korean keys would name an unrelated item."""
        tried = [*keys, name]
        found = self.store.by_key(kind, tried)
        for key in tried:
            if key in found:
                return found[key]
        named = self.store.by_name(kind, name)
        if named is not None:
            return named
        hits = self.index(kind).search(name, 1)
        if not hits or hits[0].how_matched not in _SPELLED:
            return None
        return self.store.items([hits[0].item_id]).get(hits[0].item_id)

    def index(self, kind: str) -> KindIndex:
        """The search index of ``kind`` (built on first use)."""
        with self._lock:
            found = self._indexes.get(kind)
            if found is None:
                found = self._indexes[kind] = KindIndex(
                    self.store, kind, sync_interval=self.sync_interval, chunk=self.chunk)
        return found

    def refresh(self, kind: str) -> None:
        """Bring an already built index up to date now (after a write of this process)."""
        with self._lock:
            found = self._indexes.get(kind)
        if found is not None and found.ready:
            found.refresh()

    def search(self, query: SearchQuery) -> SearchPage:
        """The page of ``query``; :class:`InvalidInput` for a bad cursor."""
        if query.q is None:
            return self._sql_page(query, None)
        if query.order == "relevance":
            return self._relevance_page(query)
        ranked = self.index(query.kind).ranked(query.q, SORTED_MATCHES + 1)
        page = self._sql_page(query, ranked.ids[:SORTED_MATCHES])
        page.truncated = len(ranked.ids) > SORTED_MATCHES
        return page

    # -- text in relevance order ---------------------------------------------------------

    def _passing(self, query: SearchQuery, ids: list[int]) -> set[int]:
        with self.store.sessions() as s:
            rows = s.execute(select(_I.c.id).where(_I.c.id.in_(ids), *_conditions(query)))
            return {int(r.id) for r in rows}

    def _relevance_page(self, query: SearchQuery) -> SearchPage:
        assert query.q is not None
        at = decode_cursor(query) or {}
        position = at.get("p", 0)
        if isinstance(position, bool) or not isinstance(position, int) or position < 0:
            raise InvalidInput("the cursor is damaged; start again without a cursor")
        index = self.index(query.kind)
        filtered = bool(query.ranges or query.category)
        picked: list[tuple[int, float, str]] = []
        start, scanned, cursor_at = position, 0, None
        while scanned < MAX_SCAN:
            ranked = index.ranked(query.q, start + index.chunk)
            window = ranked.window(start, index.chunk)
            if not window:
                break
            ok = self._passing(query, [w[0] for w in window]) if filtered else None
            for offset, hit in enumerate(window):
                if ok is not None and hit[0] not in ok:
                    continue
                if len(picked) == query.limit:
                    cursor_at = start + offset
                    break
                picked.append(hit)
            if cursor_at is not None:
                break
            start += len(window)
            scanned += len(window)
        else:
            cursor_at = start  # looked far enough for one page: go on from here next time
        rows = self.store.items([p[0] for p in picked])
        items = [public_item(rows[i], score, how) for i, score, how in picked
                 if i in rows and rows[i]["active"] and rows[i]["kind"] == query.kind]
        cursor = encode_cursor(query, {"p": cursor_at}) if cursor_at is not None else None
        return SearchPage(items, cursor, "relevance")

    # -- SQL orders ----------------------------------------------------------------------

    def _order(self, query: SearchQuery) -> tuple[Any, bool, FromClause, Range | None]:
        """The sort column, descending or not, the FROM clause and the range folded into it."""
        order = query.order
        desc = order.startswith("-")
        name = order.removeprefix("-")
        source: FromClause = _I
        if name == "name":
            return _I.c.name, desc, source, None
        if name == "popular":
            return _I.c.identified, True, source, None
        if name == "popular_hour":
            since = utcnow() - timedelta(hours=1)
            hour = (select(_ID.c.item_id, func.count(_ID.c.id).label("n"))
                    .where(_ID.c.kind == query.kind, _ID.c.at >= since)
                    .group_by(_ID.c.item_id).subquery())  # fmt: skip
            source = _I.outerjoin(hour, hour.c.item_id == _I.c.id)
            return func.coalesce(hour.c.n, 0), True, source, None
        n = _N.alias("sort_value")
        folded = next((r for r in query.ranges if r.attr == name), None)
        on = and_(n.c.item_id == _I.c.id, n.c.kind == query.kind, n.c.attr == name,
                  *(_in_range(n.c.value, folded) if folded else []))  # fmt: skip
        return n.c.value, desc, _I.join(n, on), folded

    def _sql_page(self, query: SearchQuery, restrict: list[int] | None) -> SearchPage:
        column, desc, source, folded = self._order(query)
        stmt: Select[Any] = (select(_I.c.id, column.label("v")).select_from(source)
                             .where(*_conditions(query, folded.attr if folded else None)))
        if restrict is not None:
            if not restrict:
                return SearchPage([], None, query.order)
            stmt = stmt.where(_I.c.id.in_(restrict))
        at = decode_cursor(query)
        if at is not None:
            value, last = at.get("v"), at.get("i")
            if not isinstance(last, int) or isinstance(value, bool) or not isinstance(
                    value, str | int | float):
                raise InvalidInput("the cursor is damaged; start again without a cursor")
            beyond = column < value if desc else column > value
            stmt = stmt.where(or_(beyond, and_(column == value, _I.c.id > last)))
        stmt = stmt.order_by(column.desc() if desc else column.asc(), _I.c.id.asc())
        with self.store.sessions() as s:
            rows = s.execute(stmt.limit(query.limit + 1)).all()
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        found = self.store.items([int(r.id) for r in rows])
        items = [public_item(found[int(r.id)]) for r in rows if int(r.id) in found]
        cursor = None
        if more and rows:
            last_row = rows[-1]
            cursor = encode_cursor(query, {"v": last_row.v, "i": int(last_row.id)})
        return SearchPage(items, cursor, query.order)
