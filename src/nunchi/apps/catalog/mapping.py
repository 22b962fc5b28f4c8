"""Column mappings: which column of an imported table becomes which part of an item.

A mapping is a list of ``column=target`` pairs (one column may feed several targets), given
as ``--map '식품명=name,업체명=maker,에너지(kcal)=energy_kcal'`` or as a file (a JSON object
``{"column": "target" | ["target", ...]}``, or ``column=target`` lines with ``#`` comments).

Targets: ``key`` (the source's id of the row; default ``name|maker``), ``name`` (required),
``maker``, ``category``, ``alias`` and ``search`` (more texts to match), ``serving`` (a serving
size such as ``600g``: the number ``serving_g`` or ``serving_ml`` and the text ``serving``),
``basis`` (what the numbers are per, e.g. ``100g``), ``number:<attr>`` and ``text:<attr>``, or
a bare ``<attr>``, which is a number when every filled cell of the column reads as one and a
text otherwise. Cells equal to a null value (by default only empty ones; the MFDS table uses
``해당없음``) count as empty.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nunchi.apps.catalog.records import (
    ItemRecord,
    check_attr,
    parse_number,
    parse_serving,
)
from nunchi.errors import InvalidInput
from nunchi.inputs.tables import Table

__all__ = ["ROLES", "ColumnMapping", "MappedTable", "Target"]

ROLES = ("key", "name", "maker", "category", "alias", "search", "serving", "basis")
_MAX_ERRORS = 5


@dataclass(frozen=True)
class Target:
    """One ``column=target`` pair: ``role`` is one of :data:`ROLES`, or ``number``,
    ``text`` or ``auto`` with the attribute's name in ``attr``."""

    column: str
    role: str
    attr: str | None = None

    @classmethod
    def parse(cls, column: str, target: str) -> Target:
        """A pair from its two halves; :class:`InvalidInput` saying what targets exist."""
        column, target = column.strip(), target.strip()
        if not column or not target:
            raise InvalidInput(f"bad mapping {column}={target}: write column=target")
        if target in ROLES:
            return cls(column, target)
        kind, _, attr = target.rpartition(":")
        if kind in ("number", "text"):
            return cls(column, kind, check_attr(attr))
        if kind:
            raise InvalidInput(f"bad mapping target {target!r}: use number:<attr> or text:<attr>")
        if not re.match(r"^[a-z]", target):
            raise InvalidInput(
                f"bad mapping target {target!r}: use one of {', '.join(ROLES)}, "
                "number:<attr>, text:<attr> or an attribute name such as energy_kcal"
            )
        return cls(column, "auto", check_attr(target))


@dataclass(frozen=True)
class MappedTable:
    """Records read from a table, and what was left out."""

    records: list[ItemRecord]
    skipped: int
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ColumnMapping:
    """How columns become items; see the module docstring."""

    targets: tuple[Target, ...]
    null_values: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not any(t.role == "name" for t in self.targets):
            raise InvalidInput("the mapping needs a name: add <column>=name")
        for role in ("key", "name", "maker", "category", "serving", "basis"):
            if sum(t.role == role for t in self.targets) > 1:
                raise InvalidInput(f"the mapping names two columns as {role}; keep one")

    @classmethod
    def parse(cls, spec: str, null_values: Iterable[str] = ()) -> ColumnMapping:
        """A mapping from ``column=target,column=target``."""
        pairs = [part for part in spec.split(",") if part.strip()]
        targets = []
        for part in pairs:
            column, eq, target = part.rpartition("=")
            if not eq:
                raise InvalidInput(f"bad mapping {part!r}: write column=target")
            targets.append(Target.parse(column, target))
        return cls(tuple(targets), frozenset(null_values))

    @classmethod
    def from_file(cls, path: Path, null_values: Iterable[str] = ()) -> ColumnMapping:
        """A mapping from a JSON object or ``column=target`` lines."""
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise InvalidInput(f"cannot read the mapping file {path}: {e}") from e
        if text.lstrip().startswith("{"):
            try:
                doc = json.loads(text)
            except ValueError as e:
                raise InvalidInput(f"the mapping file {path} is not valid JSON: {e}") from e
            targets = []
            for column, value in doc.items():
                for target in [value] if isinstance(value, str) else value:
                    targets.append(Target.parse(str(column), str(target)))
            return cls(tuple(targets), frozenset(null_values))
        lines = [ln.strip() for ln in text.splitlines()]
        return cls.parse(",".join(ln for ln in lines if ln and not ln.startswith("#")),
                         null_values)  # fmt: skip

    def read(self, kind: str, table: Table, *, source_note: str | None = None) -> MappedTable:
        """The table's rows as records (rows without a name are skipped and counted);
        :class:`InvalidInput` naming the rows whose numbers do not read."""
        index = {name: i for i, name in enumerate(table.columns)}
        missing = [t.column for t in self.targets if t.column not in index]
        if missing:
            raise InvalidInput(
                f"the table has no column {', '.join(map(repr, missing))}; its columns are "
                + ", ".join(table.columns)
            )
        roles = [self._resolve(t, table.rows, index[t.column]) for t in self.targets]
        records: list[ItemRecord] = []
        errors: list[str] = []
        skipped = 0
        for line, row in enumerate(table.rows, start=2):
            try:
                record = self._record(kind, row, index, roles, source_note)
            except InvalidInput as e:
                errors.append(f"row {line}: {e}")
                if len(errors) >= _MAX_ERRORS:
                    break
                continue
            if record is None:
                skipped += 1
            else:
                records.append(record)
        if errors:
            raise InvalidInput("some rows cannot be read: " + "; ".join(errors)
                               + " (fix them, or map those columns as text:<attr>)")
        return MappedTable(records, skipped, table.notes)

    def _cell(self, row: Sequence[str | None], at: int) -> str | None:
        value = row[at] if at < len(row) else None
        if value is None:
            return None
        value = value.strip()
        return None if not value or value in self.null_values else value

    def _resolve(self, target: Target, rows: Sequence[Sequence[str | None]], at: int) -> Target:
        """An ``auto`` target as ``number`` or ``text``, judged from the column's cells."""
        if target.role != "auto":
            return target
        for row in rows:
            cell = self._cell(row, at)
            if cell is None:
                continue
            try:
                parse_number(cell)
            except InvalidInput:
                return Target(target.column, "text", target.attr)
        return Target(target.column, "number", target.attr)

    def _record(self, kind: str, row: Sequence[str | None], index: dict[str, int],
                targets: Sequence[Target], source_note: str | None) -> ItemRecord | None:
        fields: dict[str, str] = {}
        aliases: list[str] = []
        search: list[str] = []
        numbers: dict[str, float] = {}
        texts: dict[str, str] = {}
        for t in targets:
            cell = self._cell(row, index[t.column])
            if cell is None:
                continue
            if t.role == "alias":
                aliases.append(cell)
            elif t.role == "search":
                search.append(cell)
            elif t.role == "serving":
                texts["serving"] = cell
                serving = parse_serving(cell)
                if serving is not None:
                    numbers[f"serving_{serving.unit}"] = serving.value
            elif t.role == "basis":
                texts["basis"] = cell
            elif t.role == "number":
                try:
                    value = parse_number(cell)
                except InvalidInput as e:
                    raise InvalidInput(f"{t.column}: {e}") from None
                if value is not None and t.attr is not None:
                    numbers[t.attr] = value
            elif t.role == "text" and t.attr is not None:
                texts[t.attr] = cell
            else:
                fields[t.role] = cell
        name = fields.get("name")
        if not name:
            return None
        key = fields.get("key") or f"{name}|{fields.get('maker') or ''}"
        return ItemRecord(kind=kind, key=key, name=name, maker=fields.get("maker"),
                          category=fields.get("category"), aliases=aliases, numbers=numbers,
                          texts=texts, search=search, source_note=source_note)  # fmt: skip
