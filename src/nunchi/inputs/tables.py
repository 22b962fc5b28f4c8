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
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from nunchi import strictjson
from nunchi.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from nunchi.inputs._delimited import iter_delimited, sniff_delimiter
from nunchi.inputs._encoding import Encoding, detect_encoding
from nunchi.inputs._excel import open_sheet
from nunchi.inputs._rows import Limits, Renamed, keyed, positional
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

_TEXT_KINDS = {"text", "json", "binary"}
"""Kinds that may still be text in some encoding (UTF-16 looks binary to the sniffer)."""
_SAMPLE_CHARS = 64 * 1024
_ACCEPTED = "CSV or TSV (UTF-8 or CP949), JSON lines, a JSON array of objects, or Excel .xlsx"


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


def _text_cells(rows: Iterator[tuple[int, list[str]]]) -> Iterator[tuple[int, list[str | None]]]:
    for line, cells in rows:
        yield line, [c if c != "" else None for c in cells]


def _json_document(text: str | bytes, limits: Limits) -> tuple[Any, list[str]]:
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
    if kind == "html":
        raise UnsupportedMediaType(
            f"{what} is an HTML page, not a table file (some sites save a web table under an "
            ".xls name); open it in Excel and save it as .xlsx or as CSV UTF-8"
        )
    if kind not in _TEXT_KINDS:
        raise UnsupportedMediaType(f"{what} is {label}, not a table; send {_ACCEPTED}")


def _read_workbook(
    data: bytes, sheet: str | int | None, what: str, header: bool, limits: Limits
) -> Table:
    book = open_sheet(data, sheet, what)
    try:
        columns, renamed, rows, notes = positional(book.rows, header=header, limits=limits)
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
    limits = Limits(max_rows, max_columns, max_cell_chars)
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
        columns, renamed, rows, notes = keyed(numbered, limits, "array element")
        return Table(tuple(columns), rows, "json", encoding=enc.name,
                     renamed=tuple(renamed), notes=tuple(doc_notes + notes))  # fmt: skip
    stream.detach()
    stream = _text_stream(data, enc)
    try:
        if start == "{":
            columns, renamed, rows, notes = keyed(_json_lines(stream), limits, "line")
            return Table(tuple(columns), rows, "jsonl", encoding=enc.name,
                         renamed=tuple(renamed), notes=tuple(notes))  # fmt: skip
        delimiter = sniff_delimiter(sample, complete=len(sample) < _SAMPLE_CHARS, name=name)
        cells = _text_cells(iter_delimited(stream, delimiter, max_cell_chars=max_cell_chars))
        columns, renamed, rows, notes = positional(cells, header=header, limits=limits)
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
