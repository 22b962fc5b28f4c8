"""CatalogStore: the catalog tables' transactions (imports, items, identifications, rankings).

Writes of items are upserts by ``(kind, key)`` in batches, each one transaction that first
bumps the kind's ``catalog_state.version`` (a row lock on PostgreSQL, the write lock on
SQLite): writers of one kind take turns, and every row a batch writes carries that version as
its ``revision``, so another process brings its search index up to date by reading the rows
with a newer revision (:meth:`CatalogStore.changed_since`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, bindparam, delete, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from nunchi.apps.catalog.models import (
    identifications_table,
    items_table,
    numbers_table,
    sources_table,
    state_table,
)
from nunchi.apps.catalog.records import ItemRecord, check_kind
from nunchi.errors import NotFound
from nunchi.store.bulk import bulk_insert
from nunchi.store.types import utcnow

__all__ = ["BATCH_ROWS", "CatalogStore", "KindState", "Written"]

BATCH_ROWS = 2000
"""Items per write transaction: short enough that other writers of a SQLite file wait little."""

_I, _N, _S, _ID, _ST = (items_table, numbers_table, sources_table, identifications_table,
                        state_table)  # fmt: skip
_ITEM_COLUMNS = (_I.c.id, _I.c.kind, _I.c.key, _I.c.name, _I.c.maker, _I.c.category,
                 _I.c.aliases, _I.c.attrs, _I.c.source_id, _I.c.source_note,
                 _I.c.identified, _I.c.active, _I.c.updated_at)  # fmt: skip


@dataclass(frozen=True)
class KindState:
    """A catalog's write version, active items and identifications so far."""

    kind: str
    version: int
    items: int
    identified: int


@dataclass
class Written:
    """What a write did: new and changed items."""

    inserted: int = 0
    updated: int = 0


def _item(row: Any) -> dict[str, Any]:
    item = dict(row._mapping)
    item["updated_at"] = item["updated_at"].isoformat()
    return item


class CatalogStore:
    """The catalog's tables; owns its transactions; thread-safe."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    # -- state ---------------------------------------------------------------------------

    def _ensure_state(self, s: Session, kind: str) -> None:
        values = {"kind": kind, "version": 0, "items": 0, "identified": 0, "updated_at": utcnow()}
        dialect = s.get_bind().dialect.name
        if dialect == "postgresql":
            s.execute(postgresql.insert(_ST).values(values).on_conflict_do_nothing())
        else:
            s.execute(sqlite.insert(_ST).values(values).on_conflict_do_nothing())

    def _bump(self, s: Session, kind: str) -> int:
        """Take the kind's write turn; the new version."""
        self._ensure_state(s, kind)
        s.execute(update(_ST).where(_ST.c.kind == kind)
                  .values(version=_ST.c.version + 1, updated_at=utcnow()))  # fmt: skip
        return int(s.execute(select(_ST.c.version).where(_ST.c.kind == kind)).scalar_one())

    def state(self, kind: str) -> KindState | None:
        """The kind's state row, or None before anything was written to it."""
        with self.sessions() as s:
            row = s.execute(select(_ST).where(_ST.c.kind == kind)).first()
        return KindState(row.kind, row.version, row.items, row.identified) if row else None

    def kinds(self) -> list[KindState]:
        """Every catalog written so far, by name."""
        with self.sessions() as s:
            rows = s.execute(select(_ST).order_by(_ST.c.kind)).all()
        return [KindState(r.kind, r.version, r.items, r.identified) for r in rows]

    # -- sources -------------------------------------------------------------------------

    def add_source(self, kind: str, name: str, *, file: str | None = None,
                   url: str | None = None, licence: str | None = None,
                   data_version: str | None = None) -> int:
        """Record an import that is starting; its id (items written with it point to it)."""
        check_kind(kind)
        with self.sessions.begin() as s:
            started = s.execute(select(_ST.c.version).where(_ST.c.kind == kind)).scalar()
            row = {"kind": kind, "name": name[:300], "file": file and file[:300], "url": url,
                   "licence": licence and licence[:500], "data_version": data_version,
                   "rows": 0, "started_version": int(started or 0), "complete": False,
                   "imported_at": utcnow()}  # fmt: skip
            return int(s.execute(insert(_S).values(row).returning(_S.c.id)).scalar_one())

    def finish_source(self, source_id: int, rows: int, *, retire_older: bool = False) -> int:
        """Mark an import complete with its row count. With ``retire_older``, items of other
        imports of the same source name that nobody wrote since this import began (so it did
        not list them) become inactive; returns how many. Two imports of the same data at
        once (two processes starting together) leave every item active, whichever order
        their batches and their ends come in."""
        with self.sessions.begin() as s:
            src = s.execute(select(_S).where(_S.c.id == source_id)).one()
            s.execute(update(_S).where(_S.c.id == source_id).values(rows=rows, complete=True))
            if not retire_older:
                return 0
            others = select(_S.c.id).where(_S.c.kind == src.kind, _S.c.name == src.name,
                                           _S.c.id != source_id)  # fmt: skip
            version = self._bump(s, src.kind)
            done = s.execute(
                update(_I).where(_I.c.kind == src.kind, _I.c.active, _I.c.source_id.in_(others),
                                 _I.c.revision <= src.started_version)
                .values(active=False, revision=version, updated_at=utcnow())
            )  # fmt: skip
            gone = done.rowcount if isinstance(done, CursorResult) else 0
            s.execute(update(_ST).where(_ST.c.kind == src.kind)
                      .values(items=_ST.c["items"] - gone))  # fmt: skip
            return int(gone)

    def analyze(self) -> None:
        """Refresh the planner's statistics of the catalog tables (after a large import: a
        fresh PostgreSQL table otherwise gets plans that scan it for a selective range)."""
        with self.sessions.begin() as s:
            if s.get_bind().dialect.name == "postgresql":
                s.execute(text("ANALYZE catalog_items, catalog_numbers"))
            else:
                s.execute(text("ANALYZE catalog_items"))
                s.execute(text("ANALYZE catalog_numbers"))

    def shipped_version(self, kind: str, name: str) -> str | None:
        """The data version of the newest complete import of ``name`` into ``kind``."""
        with self.sessions() as s:
            return s.execute(
                select(_S.c.data_version).where(_S.c.kind == kind, _S.c.name == name,
                                                _S.c.complete)
                .order_by(_S.c.id.desc()).limit(1)
            ).scalar()  # fmt: skip

    def sources(self, kind: str) -> list[dict[str, Any]]:
        """The complete imports of ``kind``, newest first."""
        with self.sessions() as s:
            rows = s.execute(select(_S).where(_S.c.kind == kind, _S.c.complete)
                             .order_by(_S.c.id.desc())).all()  # fmt: skip
        return [{**r._mapping, "imported_at": r.imported_at.isoformat()} for r in rows]

    # -- items ---------------------------------------------------------------------------

    def write(self, kind: str, records: Sequence[ItemRecord],
              source_id: int | None = None) -> Written:
        """Insert or update ``records`` (by key) in batches of :data:`BATCH_ROWS`."""
        check_kind(kind)
        done = Written()
        for start in range(0, len(records), BATCH_ROWS):
            self._write_batch(kind, records[start : start + BATCH_ROWS], source_id, done)
        return done

    def _write_batch(self, kind: str, batch: Sequence[ItemRecord], source_id: int | None,
                     done: Written) -> None:
        unique = list({r.key: r for r in batch}.values())
        now = utcnow()
        with self.sessions.begin() as s:
            version = self._bump(s, kind)
            keys = [r.key for r in unique]
            known = {row.key: (row.id, row.active) for row in s.execute(
                select(_I.c.key, _I.c.id, _I.c.active).where(_I.c.kind == kind,
                                                             _I.c.key.in_(keys)))}  # fmt: skip

            def values(r: ItemRecord) -> dict[str, Any]:
                return {"name": r.name, "maker": r.maker, "category": r.category,
                        "aliases": r.aliases, "attrs": r.attrs(), "texts": r.search_texts(),
                        "source_id": source_id, "source_note": r.source_note, "active": True,
                        "revision": version, "updated_at": now}  # fmt: skip

            fresh = [r for r in unique if r.key not in known]
            ids: dict[str, int] = {k: v[0] for k, v in known.items()}
            if fresh:
                rows = [{"kind": kind, "key": r.key, "identified": 0, **values(r)}
                        for r in fresh]  # fmt: skip
                for row in s.execute(insert(_I).returning(_I.c.id, _I.c.key), rows):
                    ids[row.key] = row.id
            old = [r for r in unique if r.key in known]
            if old:
                s.execute(update(_I).where(_I.c.id == bindparam("_id")),
                          [{"_id": known[r.key][0], **values(r)} for r in old])
                s.execute(delete(_N).where(_N.c.item_id.in_([known[r.key][0] for r in old])))
            numbers = [{"item_id": ids[r.key], "attr": attr, "kind": kind, "value": float(v)}
                       for r in unique for attr, v in r.numbers.items()]  # fmt: skip
            bulk_insert(s, _N, numbers)
            revived = sum(1 for r in old if not known[r.key][1])
            s.execute(update(_ST).where(_ST.c.kind == kind)
                      .values(items=_ST.c["items"] + len(fresh) + revived))  # fmt: skip
        done.inserted += len(fresh)
        done.updated += len(old)

    def changed_since(self, kind: str, revision: int) -> list[tuple[int, Any, bool]]:
        """``(id, texts, active)`` of the items written after ``revision``."""
        with self.sessions() as s:
            rows = s.execute(select(_I.c.id, _I.c.texts, _I.c.active)
                             .where(_I.c.kind == kind, _I.c.revision > revision)).all()
        return [(int(r.id), r.texts, bool(r.active)) for r in rows]

    def all_texts(self, kind: str, chunk: int = 50_000) -> Iterator[tuple[int, Any]]:
        """``(id, texts)`` of every active item of ``kind``, read in chunks by id."""
        after = -1
        while True:
            with self.sessions() as s:
                rows = s.execute(select(_I.c.id, _I.c.texts)
                                 .where(_I.c.kind == kind, _I.c.active, _I.c.id > after)
                                 .order_by(_I.c.id).limit(chunk)).all()  # fmt: skip
            if not rows:
                return
            for r in rows:
                yield int(r.id), r.texts
            after = int(rows[-1].id)

    def popularity(self, kind: str) -> dict[int, int]:
        """All-time identifications per item (items identified at least once)."""
        with self.sessions() as s:
            rows = s.execute(select(_I.c.id, _I.c.identified)
                             .where(_I.c.kind == kind, _I.c.identified > 0)).all()
        return {int(r.id): int(r.identified) for r in rows}

    def items(self, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """The items with these ids (any kind), by id."""
        if not ids:
            return {}
        with self.sessions() as s:
            rows = s.execute(select(*_ITEM_COLUMNS).where(_I.c.id.in_(list(ids)))).all()
        return {int(r.id): _item(r) for r in rows}

    def item(self, kind: str, item_id: int) -> dict[str, Any]:
        """One item with its source; :class:`NotFound` when ``kind`` has no such item."""
        with self.sessions() as s:
            row = s.execute(select(*_ITEM_COLUMNS).where(_I.c.kind == kind,
                                                         _I.c.id == item_id)).first()
            if row is None:
                raise NotFound(f"no item {item_id} in the {kind!r} catalog")
            item = _item(row)
            src = None
            if row.source_id is not None:
                src = s.execute(select(_S.c.name, _S.c.url, _S.c.licence, _S.c.file)
                                .where(_S.c.id == row.source_id)).first()  # fmt: skip
        item["source"] = dict(src._mapping) if src is not None else None
        return item

    def by_key(self, kind: str, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Active items of ``kind`` with these keys, by key."""
        if not keys:
            return {}
        with self.sessions() as s:
            rows = s.execute(select(*_ITEM_COLUMNS).where(
                _I.c.kind == kind, _I.c.active, _I.c.key.in_(list(keys)))).all()
        return {str(r.key): _item(r) for r in rows}

    def by_name(self, kind: str, name: str) -> dict[str, Any] | None:
        """The first active item of ``kind`` called exactly ``name``."""
        with self.sessions() as s:
            row = s.execute(select(*_ITEM_COLUMNS).where(
                _I.c.kind == kind, _I.c.active, _I.c.name == name).order_by(_I.c.id)).first()
        return _item(row) if row is not None else None

    # -- identifications -----------------------------------------------------------------

    def record_identification(self, kind: str, item_id: int, job_id: str | None,
                              at: datetime | None = None) -> bool:
        """Count an identification of ``item_id``; False when ``job_id`` was counted before
        (a retried job counts once)."""
        try:
            with self.sessions.begin() as s:
                if job_id is not None and s.execute(
                        select(_ID.c.id).where(_ID.c.job_id == job_id)).first():
                    return False
                s.execute(insert(_ID).values(kind=kind, item_id=item_id, job_id=job_id,
                                             at=at or utcnow()))  # fmt: skip
                s.execute(update(_I).where(_I.c.id == item_id)
                          .values(identified=_I.c.identified + 1))  # fmt: skip
                self._ensure_state(s, kind)
                s.execute(update(_ST).where(_ST.c.kind == kind)
                          .values(identified=_ST.c.identified + 1))  # fmt: skip
        except IntegrityError:
            return False
        return True

    def rankings(self, kind: str, window: str, limit: int = 10,
                 now: datetime | None = None) -> list[tuple[dict[str, Any], int]]:
        """The most identified items: ``window`` ``"all"`` (all time) or ``"hour"`` (the last
        hour); ``(item, count)`` pairs, most first (ties by id)."""
        with self.sessions() as s:
            if window == "hour":
                since = (now or utcnow()) - timedelta(hours=1)
                count = func.count(_ID.c.id).label("n")
                rows = s.execute(select(_ID.c.item_id, count)
                                 .where(_ID.c.kind == kind, _ID.c.at >= since)
                                 .group_by(_ID.c.item_id)
                                 .order_by(count.desc(), _ID.c.item_id).limit(limit)).all()
                pairs = [(int(r.item_id), int(r.n)) for r in rows]
            else:
                rows = s.execute(select(_I.c.id, _I.c.identified)
                                 .where(_I.c.kind == kind, _I.c.identified > 0)
                                 .order_by(_I.c.identified.desc(), _I.c.id).limit(limit)).all()
                pairs = [(int(r.id), int(r.identified)) for r in rows]
        found = self.items([i for i, _ in pairs])
        return [(found[i], n) for i, n in pairs if i in found]

    def identified_since(self, since: datetime) -> int:
        """Identifications (every kind) since ``since``."""
        with self.sessions() as s:
            return int(s.execute(select(func.count(_ID.c.id))
                                 .where(_ID.c.at >= since)).scalar_one())  # fmt: skip
