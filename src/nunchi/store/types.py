"""Column types shared by every model: UTC timestamps, JSON documents, 64-bit serial ids."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Integer
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = ["BigSerial", "JSONDocument", "UTCDateTime", "utcnow"]

BigSerial: TypeEngine[int] = BigInteger().with_variant(Integer(), "sqlite")
"""64-bit auto-increment primary key (SQLite only auto-increments ``INTEGER PRIMARY KEY``)."""

JSONDocument: TypeEngine[Any] = JSON(none_as_null=True).with_variant(
    JSONB(none_as_null=True), "postgresql"
)
"""A JSON document: ``JSONB`` on PostgreSQL, ``JSON`` (text) elsewhere; Python None is SQL NULL."""


_UNSET = object()


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back as an aware UTC datetime.

    SQLite keeps no zone, so values are normalised to UTC on the way in and tagged UTC on
    the way out; naive datetimes are rejected because their zone is ambiguous."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Normalise to UTC (dropping the zone on SQLite, which stores text)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware (UTC) datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any]:
        """The bind processor, remembering its last conversion: a bulk insert that stamps
        thousands of rows with the same time converts it once."""
        inner = super().bind_processor(dialect)
        last: list[tuple[Any, Any]] = [(_UNSET, None)]  # one (value, out) pair, swapped whole

        def process(value: Any) -> Any:
            seen, out = last[0]
            if value is seen:
                return out
            out = inner(value) if inner is not None else value
            last[0] = (value, out)
            return out

        return process

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
