"""Array side of the fuzzy index: texts to search keys in bulk, and ragged-array helpers.

A batch of texts becomes two ragged arrays of uint8 units: the search keys (`hangul.search_key`)
and the choseong keys (`hangul.choseong_key`), each stored as one concatenated array plus
offsets (``off[i]:off[i + 1]`` is text ``i``). The per-character units come from lookup tables
built once from the scalar functions, so the bulk path and the scalar path agree by
construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from nunchi.analyzers.text.hangul import char_key, choseong, normalize_text

__all__ = ["Encoded", "concat_ragged", "dedupe", "encode", "gather", "ranges"]

U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]

_CHUNK = 100_000
_KEY_WIDTH = 5   # the most units one character gives (뷁: ㅂ ㅜ ㅔ ㄹ ㄱ)
_CHO_WIDTH = 2   # a compound consonant (ㄳ) gives two


@dataclass(frozen=True)
class Encoded:
    """Search keys and choseong keys of a batch of texts, as ragged arrays."""

    keys: U8
    key_off: I64
    cho: U8
    cho_off: I64

    def __len__(self) -> int:
        return len(self.key_off) - 1


@lru_cache(maxsize=1)
def _tables() -> tuple[U8, U8, U8, U8]:
    key_units = np.zeros((0x10000, _KEY_WIDTH), dtype=np.uint8)
    key_len = np.zeros(0x10000, dtype=np.uint8)
    cho_units = np.zeros((0x10000, _CHO_WIDTH), dtype=np.uint8)
    cho_len = np.zeros(0x10000, dtype=np.uint8)
    for cp in range(0x10000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        units = char_key(ch)
        key_units[cp, :len(units)] = list(units)
        key_len[cp] = len(units)
        cho = b"".join(char_key(c) for c in choseong(ch))
        cho_units[cp, :len(cho)] = list(cho)
        cho_len[cp] = len(cho)
    return key_units, key_len, cho_units, cho_len


def ranges(starts: I64, lens: I64) -> I64:
    """The concatenated index ranges ``starts[i] : starts[i] + lens[i]``."""
    lens = lens.astype(np.int64, copy=False)
    total = int(lens.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    heads = np.cumsum(lens) - lens
    return np.repeat(starts.astype(np.int64, copy=False) - heads, lens) + np.arange(total)


def gather(values: U8, off: I64, ids: I64) -> tuple[U8, I64]:
    """Rows ``ids`` of a ragged array, as a new ragged array."""
    lens = off[ids + 1] - off[ids]
    new_off = np.zeros(len(ids) + 1, dtype=np.int64)
    np.cumsum(lens, out=new_off[1:])
    return values[ranges(off[ids], lens)], new_off


def concat_ragged(parts: Sequence[tuple[U8, I64]]) -> tuple[U8, I64]:
    """Several ragged arrays, one after the other."""
    values = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.uint8)
    offs = [np.zeros(1, dtype=np.int64)]
    base = 0
    for _, off in parts:
        offs.append(off[1:] + base)
        base += int(off[-1])
    return values.astype(np.uint8, copy=False), np.concatenate(offs)


def _units(cps: npt.NDArray[np.int64], char_off: I64, table: U8, width_len: U8) -> tuple[U8, I64]:
    n_units = width_len[cps].astype(np.int64)
    cumulative = np.concatenate([[0], np.cumsum(n_units)])
    off = cumulative[char_off]
    rows = np.repeat(cps, n_units)
    cols = np.arange(len(rows)) - np.repeat(np.cumsum(n_units) - n_units, n_units)
    return table[rows, cols], off


def encode(texts: Sequence[str]) -> Encoded:
    """Search keys and choseong keys of ``texts`` (equal to the scalar functions, in bulk)."""
    key_units, key_len, cho_units, cho_len = _tables()
    key_parts: list[tuple[U8, I64]] = []
    cho_parts: list[tuple[U8, I64]] = []
    for start in range(0, len(texts), _CHUNK):
        norm = [normalize_text(t) for t in texts[start:start + _CHUNK]]
        cps = np.frombuffer("".join(norm).encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        cps[cps > 0xFFFF] = 0  # beyond the BMP: emoji and symbols, no units
        char_off = np.zeros(len(norm) + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, norm), dtype=np.int64, count=len(norm)),
                  out=char_off[1:])
        key_parts.append(_units(cps, char_off, key_units, key_len))
        cho_parts.append(_units(cps, char_off, cho_units, cho_len))
    keys, key_off = concat_ragged(key_parts)
    cho, cho_off = concat_ragged(cho_parts)
    return Encoded(keys, key_off, cho, cho_off)


def dedupe(keys: U8, off: I64) -> I64:
    """For each row of a ragged array, the first row with exactly the same units."""
    n = len(off) - 1
    lens = off[1:] - off[:-1]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    # Polynomial hash of each row (wrapping uint64), then rows grouped by (hash, length).
    pos = np.arange(len(keys)) - np.repeat(off[:-1], lens)
    powers = np.cumprod(np.full(max(int(lens.max()), 1), 0x100000001B3, dtype=np.uint64))
    terms = (keys.astype(np.uint64) + np.uint64(1)) * powers[pos]
    cumulative = np.concatenate([np.zeros(1, dtype=np.uint64), np.cumsum(terms, dtype=np.uint64)])
    hashes = cumulative[off[1:]] - cumulative[off[:-1]]  # sums modulo 2**64
    order = np.lexsort((np.arange(n), lens, hashes))
    hs, ls = hashes[order], lens[order]
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = (hs[1:] != hs[:-1]) | (ls[1:] != ls[:-1])
    first = order[np.flatnonzero(new_group)]
    rep = np.empty(n, dtype=np.int64)
    rep[order] = first[np.cumsum(new_group) - 1]
    # A hash collision must not merge different rows: compare the units of every merged row.
    merged = np.flatnonzero(rep != np.arange(n))
    if len(merged):
        a = keys[ranges(off[merged], lens[merged])]
        b = keys[ranges(off[rep[merged]], lens[merged])]
        bad_unit = np.flatnonzero(a != b)
        if len(bad_unit):
            row_of = np.repeat(np.arange(len(merged)), lens[merged])
            rep[merged[np.unique(row_of[bad_unit])]] = merged[np.unique(row_of[bad_unit])]
    return rep

