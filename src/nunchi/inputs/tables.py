"""Data files from outside (CSV, TSV, JSON lines, JSON arrays, Excel) read into one table shape.

:func:`read_table` judges the format from the content (the file name only breaks a tie between
delimiters): a zip that is an Excel workbook (.xlsx/.xlsm; .xls, .xlsb and .ods are refused
with a hint to save as .xlsx or CSV), a JSON array of objects (or one object holding such an
array, as data.go.kr's APIs answer), JSON lines (one object per line), else delimited text whose
delimiter (tab, comma, semicolon, pipe) is the one that splits the first lines most
consistently. Text is decoded by its byte-order mark, else as strict UTF-8, else as CP949 (which
covers EUC-KR); ``encoding=`` overrides that.

The first row (the first object's keys for JSON) names the columns. Empty names become
``column_<n>`` and repeated names ``<name>_2``, ``<name>_3``; each rename is reported. Rows with
fewer cells than the header are padded with None (exporters drop trailing empty cells) and
reported; rows with more cells are refused with their line number unless the extra cells are
empty (trailing delimiters), since a value there means an unquoted delimiter shifted the row or
the header lacks a name: guessing would misalign data silently. A bad JSON line is refused with
its line number for the same reason. Cells are ``str`` or None (empty); numbers, booleans and
dates are given as text (``"3"``, ``"0.1"``, ``"true"``, ``"2024-01-05"``).

Formula cells of a workbook read as the value Excel saved. Cells beginning with ``= + - @`` are
data here and never evaluated; whoever writes them back out to CSV or Excel must neutralise them
(prefix a ``'``) against CSV injection.

Memory: the bytes are decoded as they are parsed (delimited text and JSON lines are never held
as one decoded string); a JSON array is parsed whole.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from nunchi import strictjson
from nunchi.errors import InvalidInput, PayloadTooLarge
from nunchi.inputs._delimited import iter_delimited, sniff_delimiter
from nunchi.inputs._encoding import Encoding, detect_encoding
from nunchi.inputs._excel import open_sheet
from nunchi.inputs.errors import UnsupportedMediaType
from nunchi.inputs.sniff import HEAD_BYTES, sniff

__all__ = [
    "DEFAULT_MAX_CELL_CHARS",
    "DEFAULT_MAX_COLUMNS",
    "DEFAULT_MAX_ROWS",
    "DEFAULT_MAX_TABLE_BYTES",
    "Renamed",
    "Table",
    "read_table",
]

DEFAULT_MAX_TABLE_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_ROWS = 1_000_000
"""Excel's own sheet limit is 1,048,576 rows."""
DEFAULT_MAX_COLUMNS = 1_000
DEFAULT_MAX_CELL_CHARS = 32_767
"""Excel's own limit for one cell; also below :mod:`csv`'s default field limit (131,072)."""

_TEXT_KINDS = {"text", "json", "xml", "html", "binary"}
"""Kinds that may still be text in some encoding (UTF-16 looks binary to the sniffer)."""
_SAMPLE_CHARS = 64 * 1024
_LISTED_LINES = 10
_JSON_KINDS = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}
_ACCEPTED = "CSV or TSV (UTF-8 or CP949), JSON lines, a JSON array of objects, or Excel .xlsx"


@dataclass(frozen=True)
class Renamed:
    """A column whose name in the file (``original``, possibly empty) was changed to ``name``;
    ``position`` counts from 1."""

    position: int
    original: str
    name: str


@dataclass(frozen=True)
class Table:
    """A table read from a file. ``format`` is ``"csv"`` (any delimiter but tab), ``"tsv"``,
    ``"jsonl"``, ``"json"`` or ``"xlsx"``; ``encoding`` and ``delimiter`` are set for text,
    ``sheet`` and ``sheets`` for workbooks. ``notes`` say, in words, what was adjusted."""

    columns: tuple[str, ...]
    rows: list[list[str | None]] = field(repr=False)
    format: str
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    sheets: tuple[str, ...] = ()
    renamed: tuple[Renamed, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Limits:
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


def _check_cells(cells: list[str | None], line: int, columns: list[str], limits: _Limits) -> None:
    if max(map(len, filter(None, cells)), default=0) <= limits.max_cell_chars:
        return
    for column, value in zip(columns, cells, strict=False):
        if value is not None and len(value) > limits.max_cell_chars:
            raise PayloadTooLarge(
                f"line {line}, column {column!r}: a cell of {len(value):,} characters is over "
                f"the limit of {limits.max_cell_chars:,}; shorten it"
            )


def _positional(
    rows: Iterable[tuple[int, list[str | None]]], *, header: bool, limits: _Limits
) -> tuple[list[str], list[Renamed], list[list[str | None]], list[str]]:
    """Columns, renames, rows and notes from rows of cells in column order."""
    it = iter(rows)
    first = next(it, None)
    if first is None:
        raise InvalidInput("the file holds no rows; send a file with a header row and data")
    first_line, first_cells = first
    while first_cells and first_cells[-1] is None:
        first_cells = first_cells[:-1]  # trailing delimiters after the last name
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


def _text_cells(rows: Iterator[tuple[int, list[str]]]) -> Iterator[tuple[int, list[str | None]]]:
    for line, cells in rows:
        yield line, [c if c != "" else None for c in cells]


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


def _keyed(
    objects: Iterable[tuple[int, Any]], limits: _Limits, what: str
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


def _json_document(text: str | bytes, limits: _Limits) -> tuple[Any, list[str]]:
    try:
        doc = strictjson.loads(text)
    except ValueError as e:
        if isinstance(e, InvalidInput):
            raise
        raise InvalidInput(f"the file is not valid JSON ({e}); fix it or send CSV") from e
    notes: list[str] = []
    if isinstance(doc, dict):
        arrays = [k for k, v in doc.items() if isinstance(v, list) and v and isinstance(v[0], dict)]
        if len(arrays) != 1:
            return [doc], notes  # one object: a table of one row, as in JSON lines
        # An answer like data.go.kr's {"page": 1, ..., "data": [{...}, ...]}.
        notes.append(f"rows read from the {arrays[0]!r} array of the JSON object")
        doc = doc[arrays[0]]
    if not isinstance(doc, list):
        raise InvalidInput("the JSON file holds a single value; send an array of objects")
    return doc, notes


def _json_lines(stream: io.TextIOBase) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(stream, start=1):
        text = line.strip()
        if not text:
            continue
        try:
            yield number, strictjson.loads(text)
        except ValueError as e:
            raise InvalidInput(
                f"line {number} is not valid JSON ({e}); fix or remove that line"
            ) from e


def _text_stream(data: bytes, enc: Encoding) -> io.TextIOWrapper:
    buffer = io.BytesIO(data)  # shares ``data`` until written to: no copy
    buffer.seek(enc.skip)
    return io.TextIOWrapper(buffer, encoding=enc.codec, errors="strict", newline="")


def _refuse_binary(kind: str, label: str, what: str) -> None:
    if kind == "empty":
        raise InvalidInput(f"{what} is empty; send a file with a header row and data")
    if kind == "ole2":
        raise UnsupportedMediaType(
            f"{what} is {label}: old Excel .xls files are not read; open it in Excel (or "
            "LibreOffice) and save it as .xlsx or as CSV UTF-8"
        )
    if kind not in _TEXT_KINDS:
        raise UnsupportedMediaType(f"{what} is {label}, not a table; send {_ACCEPTED}")


def _read_workbook(
    data: bytes, sheet: str | int | None, what: str, header: bool, limits: _Limits
) -> Table:
    book = open_sheet(data, sheet, what)
    try:
        columns, renamed, rows, notes = _positional(book.rows, header=header, limits=limits)
    finally:
        book.close()
    if book.uncomputed:
        some = f"{book.uncomputed:,} formula cells have"
        notes.append(
            f"{'1 formula cell has' if book.uncomputed == 1 else some} no saved value and read "
            "as empty (the file was written by a program that does not compute formulas); open "
            "it in Excel or LibreOffice and save it to fill them in"
        )
    return Table(tuple(columns), rows, "xlsx", sheet=book.name, sheets=book.names,
                 renamed=tuple(renamed), notes=tuple(notes))  # fmt: skip


def read_table(
    data: bytes,
    *,
    name: str | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
    max_bytes: int = DEFAULT_MAX_TABLE_BYTES,
    encoding: str | None = None,
    sheet: str | int | None = None,
    header: bool = True,
    max_columns: int = DEFAULT_MAX_COLUMNS,
    max_cell_chars: int = DEFAULT_MAX_CELL_CHARS,
) -> Table:
    """Read ``data`` (a whole file) as a :class:`Table`, or refuse it with PayloadTooLarge
    (413: over a limit), UnsupportedMediaType (415: not a table format) or InvalidInput (422:
    which line to fix). ``sheet`` picks a workbook sheet by name or 0-based index (default the
    first); ``header=False`` names the columns ``column_1...`` and keeps the first row."""
    what = f"{name!r}" if name else "the file"
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"{what} is {len(data) / 1048576:.1f} MiB; the limit is "
            f"{max_bytes / 1048576:.1f} MiB. Split it into smaller files"
        )
    if max_cell_chars > 131_072:
        raise InvalidInput("max_cell_chars may be at most 131072 (the csv module's field limit)")
    limits = _Limits(max_rows, max_columns, max_cell_chars)
    found = sniff(bytes(data[:HEAD_BYTES]))
    if found.kind == "zip":
        return _read_workbook(data, sheet, what, header, limits)
    _refuse_binary(found.kind, found.label, what)
    enc = detect_encoding(data, encoding)
    stream = _text_stream(data, enc)
    sample = stream.read(_SAMPLE_CHARS)
    start = sample.lstrip()[:1]
    if start == "[" or (start == "{" and _one_document(sample, len(sample) < _SAMPLE_CHARS)):
        raw: str | bytes = (
            data if enc.codec == "utf-8" and enc.skip == 0 else sample + stream.read()
        )
        stream.detach()
        doc, doc_notes = _json_document(raw, limits)
        del raw
        numbered = ((i, obj) for i, obj in enumerate(doc, start=1))
        columns, renamed, rows, notes = _keyed(numbered, limits, "array element")
        return Table(tuple(columns), rows, "json", encoding=enc.name,
                     renamed=tuple(renamed), notes=tuple(doc_notes + notes))  # fmt: skip
    stream.detach()
    stream = _text_stream(data, enc)
    try:
        if start == "{":
            columns, renamed, rows, notes = _keyed(_json_lines(stream), limits, "line")
            return Table(tuple(columns), rows, "jsonl", encoding=enc.name,
                         renamed=tuple(renamed), notes=tuple(notes))  # fmt: skip
        delimiter = sniff_delimiter(sample, complete=len(sample) < _SAMPLE_CHARS, name=name)
        cells = _text_cells(iter_delimited(stream, delimiter, max_cell_chars=max_cell_chars))
        columns, renamed, rows, notes = _positional(cells, header=header, limits=limits)
    finally:
        stream.detach()
    return Table(tuple(columns), rows, "tsv" if delimiter == "\t" else "csv", encoding=enc.name,
                 delimiter=delimiter, renamed=tuple(renamed), notes=tuple(notes))  # fmt: skip


def _one_document(sample: str, complete: bool) -> bool:
    """Whether text starting with ``{`` is one JSON document rather than JSON lines: its
    first line is not a whole JSON value, or it is the only line."""
    first, _, rest = sample.lstrip().partition("\n")
    try:
        json.loads(first)
    except ValueError:
        return True
    return complete and not rest.strip()
