"""CRC-32 of every character n-gram of many texts at once, with numpy.

The profanity model hashes each n-gram's UTF-8 bytes with ``zlib.crc32``. Cutting ~60 n-gram
strings a message and hashing them one by one is most of the featurizer's time; CRC-32 is
affine over GF(2), so the CRC of an n-gram follows from the CRC of the (n-1)-gram and of the
next character: ``crc(A + B) = M_len(B)(crc(A)) ^ crc(B)``, where ``M_k`` is the linear map
that ``k`` more bytes apply to the register. ``M_k`` for k = 1..4 (the lengths of one
character in UTF-8) is held as four 256-entry tables a byte of the register, read off
``zlib.crc32`` itself, so the figures are ``zlib.crc32(gram.encode())`` exactly.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

__all__ = ["char_gram_crcs"]

U32 = NDArray[np.uint32]
I64 = NDArray[np.int64]


def _shift_tables() -> NDArray[np.uint32]:
    """``T[k, j, x] = M_k(x << 8j)`` for k = 0..4 bytes (k = 0 unused)."""
    tables = np.zeros((5, 4, 256), dtype=np.uint32)
    for k in range(1, 5):
        zeros = bytes(k)
        base = zlib.crc32(zeros, 0)
        for j in range(4):
            for x in range(256):
                tables[k, j, x] = zlib.crc32(zeros, x << (8 * j)) ^ base
    return tables


_SHIFT = _shift_tables()
_BMP_LOCK = threading.Lock()
_BMP: tuple[U32, NDArray[np.uint8]] | None = None
_ASTRAL: dict[int, tuple[int, int]] = {}


def _utf8(cp: int) -> bytes:
    return chr(cp).encode("utf-8", "surrogatepass")


def _bmp() -> tuple[U32, NDArray[np.uint8]]:
    """CRC and UTF-8 length of every code point below U+10000 (built once, ~0.1 s)."""
    global _BMP
    with _BMP_LOCK:
        if _BMP is None:
            encoded = [_utf8(cp) for cp in range(0x10000)]
            crcs = np.fromiter(map(zlib.crc32, encoded), np.uint32, 0x10000)
            lengths = np.fromiter(map(len, encoded), np.uint8, 0x10000)
            _BMP = (crcs, lengths)
        return _BMP


def _char_crcs(cps: U32) -> tuple[U32, NDArray[np.uint8]]:
    crcs, lengths = _bmp()
    small = np.minimum(cps, 0xFFFF)
    crc, size = crcs[small], lengths[small]
    astral = np.flatnonzero(cps > 0xFFFF)
    for i in astral:
        cp = int(cps[i])
        found = _ASTRAL.get(cp)
        if found is None:
            raw = _utf8(cp)
            found = _ASTRAL[cp] = (zlib.crc32(raw), len(raw))
        crc[i], size[i] = found
    return crc, size


def _shift(values: U32, by: NDArray[np.uint8]) -> U32:
    """``M_by[i](values[i])`` for every i."""
    out: U32 = (
        _SHIFT[by, 0, values & 0xFF]
        ^ _SHIFT[by, 1, (values >> 8) & 0xFF]
        ^ _SHIFT[by, 2, (values >> 16) & 0xFF]
        ^ _SHIFT[by, 3, values >> 24]
    )
    return out


def char_gram_crcs(
    texts: Sequence[str], min_size: int, max_size: int, skip: str | None = None
) -> tuple[I64, U32]:
    """``(row, crc)`` of every character n-gram, ``min_size <= n <= max_size``, of each
    text (``crc == zlib.crc32(gram.encode())``) but the one-character grams equal to
    ``skip``. Grams are listed by size, then text, then position."""
    lengths = np.fromiter(map(len, texts), np.int64, len(texts))
    joined = "".join(texts)
    cps = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    owner = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
    crc, size = _char_crcs(cps)
    rows: list[I64] = []
    out: list[U32] = []
    current = crc
    for n in range(1, max_size + 1):
        if n > 1:
            if len(current) <= 1:
                break
            current = _shift(current[:-1], size[n - 1 :]) ^ crc[n - 1 :]
        if n < min_size:
            continue
        keep = owner[: len(current)] == owner[n - 1 :]
        if n == 1 and skip is not None:
            keep &= cps != ord(skip)
        rows.append(owner[: len(current)][keep])
        out.append(current[keep])
    if not out:
        return np.zeros(0, np.int64), np.zeros(0, np.uint32)
    return np.concatenate(rows), np.concatenate(out)
