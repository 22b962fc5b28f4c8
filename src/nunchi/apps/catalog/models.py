"""Tables of the catalog app: items of any kind with typed attributes, their numeric
attributes for range queries, the imports they came from, identifications (for rankings) and
a per-kind state row (the version other processes watch to keep their search index in sync).

- ``catalog_items``: one row per item, unique by ``(kind, key)`` (``key`` is the source's
  own id: the MFDS 식품코드, a plant's slug, a mapped column or ``name|maker``). ``attrs``
  holds the typed attributes as JSON (``numbers``, ``texts`` and a kind's structured fields,
  e.g. ``plant``); ``texts`` the weighted texts the search index matches; ``revision`` the
  kind's version when the row was last written; ``active`` is False for an item its source
  no longer lists (kept, so identifications keep their item).
- ``catalog_numbers``: ``(item, attr, value)`` for every numeric attribute, with the kind
  repeated so that one index ``(kind, attr, value, item_id)`` answers ranges and sorts on
  SQLite and PostgreSQL alike.
- ``catalog_identifications``: one row per identification job that named an item
  (``job_id`` unique: a retried job counts once); ``catalog_items.identified`` is the
  all-time count, the rows give the last hour.
- ``catalog_state``: per kind, ``version`` (bumped by every write of items), ``items``
  (active items) and ``identified`` (all identifications), read cheaply by other processes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeEngine

from nunchi.store.base import Base
from nunchi.store.types import BigSerial, JSONDocument, UTCDateTime, utcnow

__all__ = [
    "CatalogIdentification",
    "CatalogItem",
    "CatalogNumber",
    "CatalogSource",
    "CatalogState",
    "NameText",
    "identifications_table",
    "items_table",
    "numbers_table",
    "sources_table",
    "state_table",
]

NameText: TypeEngine[str] = String(300).with_variant(String(300, collation="C"), "postgresql")
"""A name: compared byte-wise on PostgreSQL too, so sorting by name (and its cursor) gives the
same order on both databases (SQLite compares bytes)."""


class CatalogSource(Base):
    """One import: what was read, from whom, under which terms."""

    __tablename__ = "catalog_sources"

    id: Mapped[int] = mapped_column(BigSerial, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(300))
    """Who published the data and what it is (shown as the attribution)."""
    file: Mapped[str | None] = mapped_column(String(300))
    url: Mapped[str | None] = mapped_column(String(2048))
    licence: Mapped[str | None] = mapped_column(String(500))
    data_version: Mapped[str | None] = mapped_column(String(80))
    """For shipped data: the sha256 of the packaged file (a re-import happens when it changes)."""
    rows: Mapped[int] = mapped_column(Integer, default=0)
    started_version: Mapped[int] = mapped_column(Integer, default=0)
    """The kind's version when the import began: what it retires must be older."""
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_catalog_sources_kind_name", "kind", "name"),)


class CatalogItem(Base):
    """One catalog item (a dish, a plant, anything imported)."""

    __tablename__ = "catalog_items"

    id: Mapped[int] = mapped_column(BigSerial, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(NameText)
    maker: Mapped[str | None] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(200))
    aliases: Mapped[Any] = mapped_column(JSONDocument)
    attrs: Mapped[Any] = mapped_column(JSONDocument)
    texts: Mapped[Any] = mapped_column(JSONDocument)
    source_id: Mapped[int | None] = mapped_column(
        BigSerial, ForeignKey("catalog_sources.id", ondelete="SET NULL")
    )
    source_note: Mapped[str | None] = mapped_column(Text)
    """The item's own attribution (e.g. the MFDS 출처명 of the row)."""
    identified: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    revision: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("kind", "key", name="uq_catalog_items_kind_key"),
        Index("ix_catalog_items_kind_name", "kind", "name", "id"),
        Index("ix_catalog_items_kind_revision", "kind", "revision"),
        Index("ix_catalog_items_kind_identified", "kind", "identified", "id"),
    )


class CatalogNumber(Base):
    """A numeric attribute of an item (per 100 g / 100 ml for nutrients)."""

    __tablename__ = "catalog_numbers"

    item_id: Mapped[int] = mapped_column(
        BigSerial, ForeignKey("catalog_items.id", ondelete="CASCADE"), primary_key=True
    )
    attr: Mapped[str] = mapped_column(String(60), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    value: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        Index("ix_catalog_numbers_kind_attr_value", "kind", "attr", "value", "item_id"),
    )


class CatalogIdentification(Base):
    """An identification job that named an item."""

    __tablename__ = "catalog_identifications"

    id: Mapped[int] = mapped_column(BigSerial, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40))
    item_id: Mapped[int] = mapped_column(
        BigSerial, ForeignKey("catalog_items.id", ondelete="CASCADE")
    )
    job_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_catalog_identifications_kind_at", "kind", "at"),
        Index("ix_catalog_identifications_item_at", "item_id", "at"),
    )


class CatalogState(Base):
    """Per kind: the write version, active items and identifications (cheap to poll)."""

    __tablename__ = "catalog_state"

    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    items: Mapped[int] = mapped_column(Integer, default=0)
    identified: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


sources_table = cast(Table, CatalogSource.__table__)
items_table = cast(Table, CatalogItem.__table__)
numbers_table = cast(Table, CatalogNumber.__table__)
identifications_table = cast(Table, CatalogIdentification.__table__)
state_table = cast(Table, CatalogState.__table__)
