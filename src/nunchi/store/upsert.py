"""Inserts that meet existing rows, the same SQL on SQLite and PostgreSQL: count into
aggregate rows (``upsert_add``) and insert only what is new (``insert_new``).

Both are one statement for many rows, inside the caller's transaction, so a batch's
aggregates move together with the rows they count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from nunchi.errors import InvalidInput

__all__ = ["insert_new", "upsert_add"]


def _insert(session: Session, table: Table) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise InvalidInput(f"unsupported database {dialect!r}")  # pragma: no cover


def upsert_add(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    keys: Sequence[str],
    add: Sequence[str],
    replace: Sequence[str] = (),
) -> None:
    """Insert ``rows``; where a row with the same ``keys`` exists, add the ``add`` columns to
    it and overwrite the ``replace`` ones (e.g. the latest name or time)."""
    if not rows:
        return
    statement = _insert(session, table)
    values = {name: table.c[name] + statement.excluded[name] for name in add}
    values.update({name: statement.excluded[name] for name in replace})
    session.execute(statement.on_conflict_do_update(index_elements=list(keys), set_=values), rows)


def insert_new(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    keys: Sequence[str],
    returning: Sequence[str],
) -> list[Row[Any]]:
    """Insert the ``rows`` whose ``keys`` are not stored yet; returns the ``returning``
    columns of those really inserted (a redelivered row inserts nothing)."""
    if not rows:
        return []
    statement = (
        _insert(session, table)
        .on_conflict_do_nothing(index_elements=list(keys))
        .returning(*(table.c[name] for name in returning))
    )
    return list(session.execute(statement, list(rows)))
