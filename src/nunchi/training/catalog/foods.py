"""Build the packaged food table of the catalog app from the shared MFDS nutrition data.

``python -m nunchi.training.catalog.foods [--source CSV] [--out FILE]``

Reads ``../shared/data/nutrition/mfds_dishes_2023-12-27.csv`` (UTF-8, 12,242 dishes, Korean
public data of the Ministry of Food and Drug Safety, 식품의약품안전처) and writes it unchanged,
gzip-compressed with no file name or time stamp in the header (the same input gives the same
bytes, so the app's version check re-imports only when the data really changed), to
``src/nunchi/apps/catalog/data/foods-mfds-2023-12-27.csv.gz``. Checks the header names the
51 columns of ``COLUMNS.txt`` and prints one JSON line: rows, sizes and the sha256.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
from collections.abc import Sequence
from pathlib import Path

from nunchi.errors import InvalidInput

__all__ = ["DEFAULT_OUT", "DEFAULT_SOURCE", "build"]

DEFAULT_SOURCE = Path("../shared/data/nutrition/mfds_dishes_2023-12-27.csv")
DEFAULT_OUT = (
    Path(__file__).resolve().parents[2] / "apps" / "catalog" / "data"
    / "foods-mfds-2023-12-27.csv.gz"
)  # fmt: skip
_REQUIRED = ("식품코드", "식품명", "업체명", "식품대분류명", "대표식품명", "영양성분함량기준량",
             "에너지(kcal)", "단백질(g)", "식품중량", "출처명")  # fmt: skip


def build(source: Path = DEFAULT_SOURCE, out: Path = DEFAULT_OUT) -> dict[str, object]:
    """Compress ``source`` into ``out`` (reproducibly); the figures of the result."""
    raw = source.read_bytes()
    text = raw.decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    missing = [c for c in _REQUIRED if c not in header]
    if missing or len(header) != 51:
        raise InvalidInput(f"{source} is not the MFDS dishes table (columns {len(header)}, "
                           f"missing {missing})")
    rows = sum(1 for _ in reader)
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        gz.write(raw)
    packed = buffer.getvalue()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(packed)
    return {"out": str(out), "rows": rows, "csv_bytes": len(raw), "gz_bytes": len(packed),
            "sha256": hashlib.sha256(packed).hexdigest()}


def main(argv: Sequence[str] | None = None) -> None:
    """Build the file and print its figures as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    print(json.dumps(build(args.source, args.out), ensure_ascii=False))


if __name__ == "__main__":
    main()
