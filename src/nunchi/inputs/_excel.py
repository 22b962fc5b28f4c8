"""Excel workbooks (.xlsx/.xlsm) read with openpyxl in read-only mode, values only.

Formulas give the value Excel saved with the file (``data_only``); a workbook written by a
program that never computed them (openpyxl itself, some exporters) has no saved value, and the
cell reads as empty. Macros are never run (openpyxl cannot run them). The zip is checked for
bombs before openpyxl sees it.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from nunchi.errors import InvalidInput, UnsupportedMediaType
from nunchi.inputs.archives import open_zip

__all__ = ["Sheet", "open_sheet", "spreadsheet_kind"]

_CONTENT_TYPES = "[Content_Types].xml"
_XLSX = (
    b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    b"application/vnd.ms-excel.sheet.macroEnabled.main+xml",
    b"application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml",
)
_OTHER = (
    (
        b"application/vnd.ms-excel.sheet.binary.macroEnabled.main",
        "an Excel binary workbook (.xlsb)",
    ),
    (b"wordprocessingml", "a Word document (.docx)"),
    (b"presentationml", "a PowerPoint presentation (.pptx)"),
)
_P = rb"(?:\w+:)?"  # an optional namespace prefix (x:c, x:f)
_FORMULA_WITHOUT_VALUE = re.compile(
    rb"(?:<" + _P + rb"f\b[^>]*/>|</" + _P + rb"f>)\s*"
    rb"(?:<" + _P + rb"v\s*/>|<" + _P + rb"v>\s*</" + _P + rb"v>)?\s*</" + _P + rb"c>"
)
_SCAN_CHUNK = 1 << 20
_SCAN_OVERLAP = 512
_MAX_ENTRIES = 10_000
_MAX_CONTENT_TYPES = 1 << 20
_UNPACK_FACTOR = 16
"""A workbook may unpack to this many times its size (sheet XML compresses 10-30x)."""


def spreadsheet_kind(archive: zipfile.ZipFile) -> str | None:
    """``None`` when ``archive`` is an Excel workbook, else what it is instead (a label)."""
    names = set(archive.namelist())
    if "mimetype" in names:
        mimetype = archive.read("mimetype")[:200]
        if b"opendocument.spreadsheet" in mimetype:
            return "an OpenDocument spreadsheet (.ods)"
        if b"opendocument" in mimetype:
            return "an OpenDocument file"
    if _CONTENT_TYPES not in names:
        return "a zip archive"
    info = archive.getinfo(_CONTENT_TYPES)
    if info.file_size > _MAX_CONTENT_TYPES:
        return "a zip archive with an oversized content-type list"
    types = archive.read(info)
    if any(t in types for t in _XLSX):
        return None
    for marker, label in _OTHER:
        if marker in types:
            return label
    return "an Office file that is not a workbook"


@dataclass
class Sheet:
    """The sheet chosen, the workbook's sheet names, and its rows (``(row number, values)``)."""

    name: str
    names: tuple[str, ...]
    rows: Iterator[tuple[int, list[str | None]]]
    close: Callable[[], None]
    uncomputed: int = 0
    """Formula cells with no saved value (they read as empty)."""


def _count_uncomputed(data: bytes, member: str | None) -> int:
    """Formula cells of the sheet XML ``member`` with no saved value, counted in one streamed
    pass (0 when the member is unknown)."""
    if not member:
        return 0
    count = 0
    tail = b""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive, archive.open(member.lstrip("/")) as f:
            while chunk := f.read(_SCAN_CHUNK):
                buffer = tail + chunk
                count += sum(
                    1 for m in _FORMULA_WITHOUT_VALUE.finditer(buffer) if m.end() > len(tail)
                )
                tail = buffer[-_SCAN_OVERLAP:]
    except (KeyError, zipfile.BadZipFile, OSError):
        return 0
    return count


def _cell(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value if value != "" else None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def open_sheet(data: bytes, sheet: str | int | None, what: str) -> Sheet:
    """The chosen sheet of the workbook ``data`` (the first when ``sheet`` is None; a name or a
    0-based index otherwise). Raises UnsupportedMediaType when ``data`` is another zip-based
    format, InvalidInput when it is damaged or the sheet does not exist."""
    import openpyxl  # imported here: only table imports need it
    from openpyxl.utils.exceptions import InvalidFileException

    with open_zip(
        data,
        max_entries=_MAX_ENTRIES,
        max_total_bytes=max(_UNPACK_FACTOR * len(data), 64 << 20),
        what=what,
    ) as archive:
        other = spreadsheet_kind(archive)
    if other is not None:
        raise UnsupportedMediaType(
            f"{what} is {other}, not an Excel workbook; save it as .xlsx or CSV"
        )
    try:
        book = openpyxl.load_workbook(
            io.BytesIO(data), read_only=True, data_only=True, keep_links=False
        )
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as e:
        raise InvalidInput(
            f"{what} looks like an Excel workbook but cannot be read ({e}); open it in Excel "
            "and save it again as .xlsx"
        ) from e
    except Exception as e:  # XML parse errors of several kinds, from inside openpyxl
        raise InvalidInput(
            f"{what} is a damaged Excel workbook ({type(e).__name__}: {e}); save it again"
        ) from e
    names = tuple(book.sheetnames)
    worksheets = list(book.worksheets)
    if not worksheets:
        book.close()
        raise InvalidInput(f"{what} has no worksheet (only charts?); add a sheet with the data")
    if sheet is None:
        ws = worksheets[0]
    elif isinstance(sheet, int):
        if not 0 <= sheet < len(worksheets):
            book.close()
            raise InvalidInput(
                f"{what} has {len(worksheets)} sheets, so there is no sheet number {sheet} "
                f"(counted from 0); its sheets are {', '.join(map(repr, names))}"
            )
        ws = worksheets[sheet]
    else:
        match = [w for w in worksheets if w.title == sheet]
        if not match:
            book.close()
            raise InvalidInput(
                f"{what} has no sheet {sheet!r}; its sheets are {', '.join(map(repr, names))}"
            )
        ws = match[0]
    ws.reset_dimensions()  # a declared dimension may be huge or wrong: read what is there

    def rows() -> Iterator[tuple[int, list[str | None]]]:
        try:
            for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
                cells = [_cell(v) for v in values]
                if any(c is not None for c in cells):
                    yield number, cells
        except InvalidInput:
            raise
        except Exception as e:  # damaged sheet XML surfaces while iterating
            raise InvalidInput(
                f"{what}: sheet {ws.title!r} is damaged ({type(e).__name__}: {e}); save it again"
            ) from e

    uncomputed = _count_uncomputed(data, getattr(ws, "_worksheet_path", None))
    return Sheet(str(ws.title), names, rows(), book.close, uncomputed)
