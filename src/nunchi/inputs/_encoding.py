"""Which text encoding a table file is in: a BOM, else strict UTF-8, else CP949 (EUC-KR)."""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from nunchi.errors import InvalidInput

__all__ = ["Encoding", "detect_encoding"]

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_CHUNK = 1 << 20
_SAMPLE = 4096


@dataclass(frozen=True)
class Encoding:
    """``codec`` decodes the bytes after the first ``skip`` (a byte-order mark);
    ``name`` is what to report (``"utf-8-sig"``, ``"cp949"``)."""

    codec: str
    skip: int
    name: str


def _first_error(data: bytes, start: int, codec: str) -> UnicodeDecodeError | None:
    """The first decoding error of ``data[start:]`` in ``codec``, checked in chunks so no full
    decoded copy is held."""
    decoder = codecs.getincrementaldecoder(codec)("strict")
    view = memoryview(data)
    pos = start
    base = pos
    try:
        while pos < len(data):
            end = min(pos + _CHUNK, len(data))
            # The error's offsets count from the bytes the decoder held back, then the chunk.
            base = pos - len(decoder.getstate()[0])
            decoder.decode(view[pos:end], final=end == len(data))
            pos = end
        if pos == start:
            decoder.decode(b"", final=True)
    except UnicodeDecodeError as e:
        return UnicodeDecodeError(e.encoding, data, e.start + base, e.end + base, e.reason)
    return None


def _utf16_without_bom(data: bytes) -> str | None:
    sample = data[:_SAMPLE]
    if len(sample) < 4:
        return None
    even = sample[0::2].count(0) / len(sample[0::2])
    odd = sample[1::2].count(0) / len(sample[1::2])
    # ASCII characters in UTF-16 have a zero byte; text in one-byte encodings has none.
    if odd >= 0.25 and even <= odd / 4:
        return "utf-16-le"
    if even >= 0.25 and odd <= even / 4:
        return "utf-16-be"
    return None


def _where(error: UnicodeDecodeError, data: bytes) -> str:
    line = data.count(b"\n", 0, error.start) + 1
    bad = data[error.start : error.start + 2].hex(" ")
    return f"byte {error.start} (line {line}: {bad})"


def detect_encoding(data: bytes, override: str | None = None) -> Encoding:
    """The encoding ``data`` decodes in without error: ``override`` when given, else by BOM,
    else strict UTF-8, else CP949 (which covers EUC-KR). Raises :class:`InvalidInput` naming
    what was tried when nothing fits."""
    if override is not None:
        try:
            codec = codecs.lookup(override).name
        except LookupError as e:
            raise InvalidInput(
                f"unknown text encoding {override!r}: use e.g. 'utf-8', 'cp949' or 'utf-16'"
            ) from e
        skip = 3 if codec == "utf-8" and data.startswith(codecs.BOM_UTF8) else 0
        error = _first_error(data, skip, codec)
        if error is not None:
            raise InvalidInput(
                f"the file is not valid {override} text: {error.reason} at {_where(error, data)}; "
                "choose the encoding the file was saved in, or leave it out to detect it"
            )
        return Encoding(codec, skip, codec)
    for bom, codec in _BOMS:
        if data.startswith(bom):
            error = _first_error(data, len(bom), codec)
            if error is not None:
                raise InvalidInput(
                    f"the file starts with a {codec} byte-order mark but is not valid {codec} "
                    f"text ({error.reason} at {_where(error, data)}); save it again as UTF-8"
                )
            name = "utf-8-sig" if codec == "utf-8" else codec
            return Encoding(codec, len(bom), name)
    guessed = _utf16_without_bom(data)
    if guessed is not None and _first_error(data, 0, guessed) is None:
        return Encoding(guessed, 0, guessed)
    utf8 = _first_error(data, 0, "utf-8")
    if utf8 is None:
        return Encoding("utf-8", 0, "utf-8")
    cp949 = _first_error(data, 0, "cp949")
    if cp949 is None:
        return Encoding("cp949", 0, "cp949")
    raise InvalidInput(
        "could not tell the text encoding of the file: it is not UTF-8 "
        f"({utf8.reason} at {_where(utf8, data)}) nor CP949/EUC-KR "
        f"({cp949.reason} at {_where(cp949, data)}), and it has no byte-order mark. "
        "Save it as 'CSV UTF-8', or give the encoding it was saved in"
    )
