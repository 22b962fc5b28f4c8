"""Rows into columns: unique column names, the ragged-row rule, the row, column and cell limits.

Shared by every table format: :func:`positional` for rows of cells in column order (delimited
text, Excel), :func:`keyed` for rows of named values (JSON). See :mod:`nunchi.inputs.tables`
for the rules as users meet them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from nunchi.errors import InvalidInput, PayloadTooLarge

__all__ = ["Limits", "Renamed", "keyed", "positional"]

_LISTED_LINES = 10
_JSON_KINDS = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


@dataclass(frozen=True)
class Renamed:
    """A column whose name in the file (``original``, possibly empty) was changed to ``name``;
    ``position`` counts from 1."""

    position: int
    original: str
    name: str


@dataclass(frozen=True)
class Limits:
    """The row, column and cell-length limits of one read."""

    max_rows: int
    max_columns: int
    max_cell_chars: int


def _lines(numbers: list[int], total: int) -> str:
    shown = ", ".join(map(str, numbers[:_LISTED_LINES]))
    return shown + (f" and {total - _LISTED_LINES} more" if total > _LISTED_LINES else "")


def _rows(n: int) -> str:
    return "1 row had" if n == 1 else f"{n:,} rows had"


def _renamed_note(what: str, r: Renamed) -> str:
    if not r.original.strip():
        return f"{what} {r.position} had no name; it is called {r.name!r}"
    return f"{what} {r.position} repeats the name {r.original.strip()!r}; it is called {r.name!r}"


def _unique_names(raw: list[str | None]) -> tuple[list[str], list[Renamed]]:
    """Names with surrounding spaces stripped, empty ones made ``column_<n>`` and repeats
    ``<name>_<k>``; the renames (not the stripping) are returned too."""
    wanted = [(r or "").strip() for r in raw]
    given = {w for w in wanted if w}
    names: list[str] = []
    renamed: list[Renamed] = []
    used: set[str] = set()
    for position, (original, base) in enumerate(zip(raw, wanted, strict=True), start=1):
        name = base or f"column_{position}"
        if name in used or (not base and name in given):
            k = 2
            while f"{name}_{k}" in used or f"{name}_{k}" in given:
                k += 1
            name = f"{name}_{k}"
        used.add(name)
        names.append(name)
        if name != base:
            renamed.append(Renamed(position, original or "", name))
    return names, renamed


def _check_cells(cells: list[str | None], line: int, columns: list[str], limits: Limits) -> None:
    if max(map(len, filter(None, cells)), default=0) <= limits.max_cell_chars:
        return
    for column, value in zip(columns, cells, strict=False):
        if value is not None and len(value) > limits.max_cell_chars:
            raise PayloadTooLarge(
                f"line {line}, column {column!r}: a cell of {len(value):,} characters is over "
                f"the limit of {limits.max_cell_chars:,}; shorten it"
            )


def positional(
    rows: Iterable[tuple[int, list[str | None]]], *, header: bool, limits: Limits
) -> tuple[list[str], list[Renamed], list[list[str | None]], list[str]]:
    """Columns, renames, rows and notes from rows of cells in column order."""
    it = iter(rows)
    first = next(it, None)
    if first is None:
        raise InvalidInput("the file holds no rows; send a file with a header row and data")
    first_line, first_cells = first
    while first_cells and first_cells[-1] is None:
        first_cells = first_cells[:-1]  # trailing delimiters after the last name
    if not first_cells:  # delimiters only (",,"): no column to read
        raise InvalidInput(
            f"line {first_line} holds only empty cells; start the file with "
            + ("the header row (the column names)" if header else "a row of values")
        )
    if len(first_cells) > limits.max_columns:
        raise PayloadTooLarge(
            f"line {first_line} has {len(first_cells):,} cells; at most "
            f"{limits.max_columns:,} columns are accepted"
        )
    if header:
        columns, renamed = _unique_names(first_cells)
        pending: Iterator[tuple[int, list[str | None]]] = it
    else:
        columns, renamed = [f"column_{i}" for i in range(1, len(first_cells) + 1)], []
        pending = _chain(first, it)
    width = len(columns)
    out: list[list[str | None]] = []
    padded: list[int] = []
    padded_count = trimmed_count = 0
    for line, cells in pending:
        if len(cells) > width:
            extra = cells[width:]
            position = next((i for i, c in enumerate(extra) if c is not None and c.strip()), None)
            if position is not None:
                value = str(extra[position])
                raise InvalidInput(
                    f"line {line} has {len(cells)} cells but the header names {width} columns "
                    f"(cell {width + position + 1} holds {value[:40]!r}): quote values that "
                    "contain the delimiter, or add a name for that column to the header row"
                )
            cells = cells[:width]
            trimmed_count += 1
        elif len(cells) < width:
            if len(padded) < _LISTED_LINES:
                padded.append(line)
            padded_count += 1
            cells = cells + [None] * (width - len(cells))
        _check_cells(cells, line, columns, limits)
        if len(out) >= limits.max_rows:
            raise PayloadTooLarge(
                f"the file has more than {limits.max_rows:,} data rows (line {line}); split it "
                "into smaller files"
            )
        out.append(cells)
    notes = [_renamed_note("column", r) for r in renamed]
    if padded_count:
        notes.append(
            f"{_rows(padded_count)} fewer cells than the header and were padded with empty "
            f"cells (lines {_lines(padded, padded_count)})"
        )
    if trimmed_count:
        notes.append(f"{_rows(trimmed_count)} empty cells past the last column; they were dropped")
    return columns, renamed, out, notes


def _chain(
    first: tuple[int, list[str | None]], rest: Iterator[tuple[int, list[str | None]]]
) -> Iterator[tuple[int, list[str | None]]]:
    yield first
    yield from rest


def _json_value(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def keyed(
    objects: Iterable[tuple[int, Any]], limits: Limits, what: str
) -> tuple[list[str], list[Renamed], list[list[str | None]], list[str]]:
    """Columns (keys in order of first appearance), renames, rows and notes from objects."""
    index: dict[str, int] = {}
    out: list[list[str | None]] = []
    for line, obj in objects:
        if not isinstance(obj, dict):
            kind = _JSON_KINDS.get(type(obj), "value")
            raise InvalidInput(
                f"{what} {line} is a JSON {kind}, not an object; each row must be an object {{...}}"
            )
        if len(out) >= limits.max_rows:
            raise PayloadTooLarge(
                f"the file has more than {limits.max_rows:,} rows ({what} {line}); split it"
            )
        row: list[str | None] = [None] * len(index)
        for key, value in obj.items():
            position = index.get(key)
            if position is None:
                if len(index) >= limits.max_columns:
                    raise PayloadTooLarge(
                        f"{what} {line} brings the number of different keys past "
                        f"{limits.max_columns:,} columns; use fewer keys"
                    )
                position = index[key] = len(index)
                row.append(None)
            row[position] = _json_value(value)
        _check_cells(row, line, list(index), limits)
        out.append(row)
    if not index:
        raise InvalidInput('the file holds no rows with keys; send objects like {"name": ...}')
    width = len(index)
    for row in out:
        if len(row) < width:
            row.extend([None] * (width - len(row)))
    columns, renamed = _unique_names(list(index))
    notes = [_renamed_note("key", r) for r in renamed]
    return columns, renamed, out, notes
