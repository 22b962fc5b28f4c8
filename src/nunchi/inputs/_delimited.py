"""Delimited text (CSV, TSV, semicolon- or pipe-separated): which delimiter, then the rows."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator
from typing import TextIO

from nunchi.errors import InvalidInput, PayloadTooLarge

__all__ = ["CANDIDATES", "iter_delimited", "sniff_delimiter"]

CANDIDATES = ("\t", ",", ";", "|")
"""Delimiters recognised, in the order preferred when the sample cannot tell them apart."""
_SAMPLE_RECORDS = 50


def _records(sample: str, complete: bool) -> list[str]:
    """Split ``sample`` into records at newlines outside double quotes."""
    records: list[str] = []
    quoted = False
    start = 0
    for i, ch in enumerate(sample):
        if ch == '"':
            quoted = not quoted
        elif ch == "\n" and not quoted:
            records.append(sample[start:i])
            start = i + 1
            if len(records) >= _SAMPLE_RECORDS:
                return [r for r in records if r.strip()]
    if complete and sample[start:].strip():
        records.append(sample[start:])
    return [r for r in records if r.strip()]


def _count_outside_quotes(record: str, delimiter: str) -> int:
    count = 0
    quoted = False
    for ch in record:
        if ch == '"':
            quoted = not quoted
        elif ch == delimiter and not quoted:
            count += 1
    return count


def sniff_delimiter(sample: str, *, complete: bool, name: str | None = None) -> str:
    """The delimiter that splits the records of ``sample`` most consistently (the same number
    of cells on most lines); ``","`` when none splits anything (a one-column file).
    ``complete`` says whether ``sample`` is the whole text (else its last line may be cut).
    A ``.tsv`` name only breaks ties in favour of tabs."""
    records = _records(sample, complete) or [sample]
    best: tuple[float, int, int] | None = None
    chosen = ","
    for rank, delimiter in enumerate(CANDIDATES):
        counts = [_count_outside_quotes(r, delimiter) for r in records]
        mode, hits = Counter(counts).most_common(1)[0]
        if mode == 0:
            continue
        tsv_hint = 1 if delimiter == "\t" and (name or "").lower().endswith(".tsv") else 0
        score = (hits / len(records), tsv_hint, -rank)
        if best is None or score > best:
            best, chosen = score, delimiter
    return chosen


def iter_delimited(
    stream: TextIO, delimiter: str, *, max_cell_chars: int
) -> Iterator[tuple[int, list[str]]]:
    """``(line number where the row starts, cells)`` for each non-blank row of ``stream``
    (opened with ``newline=""``). Quoted cells may hold delimiters and newlines."""
    reader = csv.reader(stream, delimiter=delimiter, quotechar='"', doublequote=True, strict=False)
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            text = str(e)
            if "field larger than field limit" in text:
                raise PayloadTooLarge(
                    f"line {start}: a cell is longer than the limit of {max_cell_chars} "
                    "characters (often a quote character '\"' that is never closed); "
                    "close the quote or shorten the cell"
                ) from e
            raise InvalidInput(
                f"line {start}: {text}; fix that line (a stray NUL character or quote?)"
            ) from e
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        yield start, row
