"""Lists of image URLs to import: a CSV of ``url,tag`` (header optional) or one URL per line.

Read with :func:`nunchi.inputs.tables.read_table`, so the same encodings and formats work
(UTF-8, CP949, TSV, Excel, JSON lines with ``url``/``tag`` keys). The URL column is the one named
``url`` (or ``image_url``, ``image``, ``link``, ``주소``, ``링크``, ``이미지``), the tag column
``tag`` (or ``label``, ``class``, ``태그``, ``라벨``, ``분류``); without a header the first
column is the URL and the second the tag. Rows without a usable URL are reported by row
number and left out; the URLs themselves are checked when fetched.
"""

from __future__ import annotations

from dataclasses import dataclass

from nunchi.errors import InvalidInput
from nunchi.inputs.tables import read_table

__all__ = ["DEFAULT_MAX_URLS", "UrlItem", "UrlList", "read_url_list"]

DEFAULT_MAX_URLS = 10_000
_MAX_BYTES = 8 * 1024 * 1024
_URL_NAMES = ("url", "image_url", "imageurl", "image", "link", "주소", "링크", "이미지")
_TAG_NAMES = ("tag", "label", "class", "category", "태그", "라벨", "분류", "레이블")
_MAX_URL = 2048


@dataclass(frozen=True)
class UrlItem:
    """One URL to fetch; ``row`` counts data rows from 1."""

    row: int
    url: str
    tag: str | None


@dataclass(frozen=True)
class UrlList:
    """The usable rows and, in words, the rows left out."""

    items: tuple[UrlItem, ...]
    errors: tuple[str, ...]


def _column(header: list[str | None], names: tuple[str, ...]) -> int | None:
    lowered = [(c or "").strip().lower() for c in header]
    for wanted in names:
        if wanted in lowered:
            return lowered.index(wanted)
    return None


def _looks_like_url(text: str | None) -> bool:
    return bool(text) and str(text).strip().lower().startswith(("http://", "https://"))


def read_url_list(
    data: bytes,
    *,
    name: str | None = None,
    max_urls: int = DEFAULT_MAX_URLS,
    max_bytes: int = _MAX_BYTES,
) -> UrlList:
    """The URLs (and tags) listed in ``data``. Raises the errors of
    :func:`~nunchi.inputs.tables.read_table`, and InvalidInput when no URL column is found."""
    table = read_table(data, name=name, max_rows=max_urls, max_bytes=max_bytes, header=False)
    if not table.rows:
        raise InvalidInput("the URL list is empty; give one image URL per line")
    rows = table.rows
    url_col: int = 0
    tag_col: int | None = 1 if len(table.columns) > 1 else None
    if not _looks_like_url(rows[0][0]):
        found, tag_col = _column(rows[0], _URL_NAMES), _column(rows[0], _TAG_NAMES)
        if found is None:
            raise InvalidInput(
                "the URL list has no 'url' column: name the columns url,tag in the first row, "
                "or start the file with the first URL"
            )
        url_col, rows = found, rows[1:]
    items: list[UrlItem] = []
    errors: list[str] = []
    for number, row in enumerate(rows, start=1):
        url = (row[url_col] or "").strip()
        tag = ((row[tag_col] or "").strip() or None) if tag_col is not None else None
        if not url:
            errors.append(f"row {number}: no URL")
        elif not _looks_like_url(url):
            errors.append(f"row {number}: {url[:60]!r} is not an http:// or https:// URL")
        elif len(url) > _MAX_URL:
            errors.append(f"row {number}: the URL is longer than {_MAX_URL} characters")
        else:
            items.append(UrlItem(number, url, tag))
    return UrlList(tuple(items), tuple(errors))
