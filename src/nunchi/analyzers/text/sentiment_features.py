"""Vectorised hashed n-gram features for the sentiment models (pure numpy, no per-n-gram loop).

A batch of texts is normalised (lower case, whitespace folded, runs of one character cut to two),
joined into one array of code points with ``\\n`` between texts, and every character n-gram and
word n-gram is hashed at once with polynomial hashes over that array. The result is a list of
``(row, bucket)`` pairs that a linear model sums over (``np.bincount``) or that training turns into
a sparse matrix. The same code runs at training and at scoring time, so features cannot drift.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nunchi.errors import InvalidInput

__all__ = ["HashedNgrams", "joined_codes", "normalize_for_sentiment"]

_SEP = 10  # "\n": marks the edges of each text inside the joined array
_SPACE = 32
_B = np.uint64(0x100000001B3)  # odd, so invertible modulo 2**64
_B_INV = np.uint64(pow(0x100000001B3, -1, 2**64))
_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)
_GOLD = np.uint64(0x9E3779B97F4A7C15)

U64 = NDArray[np.uint64]
I64 = NDArray[np.int64]


def normalize_for_sentiment(text: str) -> str:
    """Lower-case ``text`` and fold every run of whitespace into one space (no repeat cutting)."""
    return " ".join(text.lower().split())


def _fmix(h: U64) -> U64:
    """MurmurHash3's 64-bit finaliser: spreads every input bit over the output, in place."""
    h ^= h >> _S33
    h *= _M1
    h ^= h >> _S33
    h *= _M2
    h ^= h >> _S33
    return h


def joined_codes(texts: Sequence[str], max_chars: int = 500) -> U64:
    """Normalised texts as one uint64 code-point array ``\\n t0 \\n t1 ... \\n``.

    Each text is normalised (:func:`normalize_for_sentiment`), cut to ``max_chars`` characters,
    and every run of one character is cut to two ("ㅋㅋㅋㅋㅋ" reads as "ㅋㅋ"), so the length
    of a laugh or of "!!!!!!" does not make a new feature each time.
    """
    cut = max_chars
    joined = "\n" + "\n".join(normalize_for_sentiment(t[: cut * 2])[:cut] for t in texts) + "\n"
    # errors="replace": a lone surrogate (broken emoji from a bad decoder) becomes "?".
    codes = np.frombuffer(joined.encode("utf-32-le", errors="replace"), dtype=np.uint32)
    if codes.size > 2:
        keep = np.ones(codes.size, dtype=bool)
        keep[2:] = ~((codes[2:] == codes[1:-1]) & (codes[1:-1] == codes[:-2]))
        codes = codes[keep]
    return codes.astype(np.uint64)


@dataclass(frozen=True)
class HashedNgrams:
    """Feature settings: which n-grams are hashed, into how many buckets.

    ``char_ngrams`` is an inclusive range over characters (spaces and text edges included),
    ``word_ngrams`` one over whitespace tokens (at most bigrams; ``(0, 0)`` turns a kind off);
    ``log2_buckets`` sets the table size (``2**log2_buckets`` weights); ``max_chars`` cuts very
    long texts.
    """

    log2_buckets: int = 20
    char_ngrams: tuple[int, int] = (1, 4)
    word_ngrams: tuple[int, int] = (1, 2)
    max_chars: int = 500

    def __post_init__(self) -> None:
        if not 8 <= self.log2_buckets <= 30:
            raise InvalidInput("log2_buckets must be between 8 and 30")
        if not 1 <= self.char_ngrams[0] <= self.char_ngrams[1] <= 8 and self.char_ngrams != (0, 0):
            raise InvalidInput("char_ngrams must be (lo, hi) with 1 <= lo <= hi <= 8, or (0, 0)")
        if not 1 <= self.word_ngrams[0] <= self.word_ngrams[1] <= 2 and self.word_ngrams != (0, 0):
            raise InvalidInput("word_ngrams must be (1, 1), (1, 2), (2, 2) or (0, 0)")
        if self.max_chars < 1:
            raise InvalidInput("max_chars must be at least 1")

    @property
    def n_buckets(self) -> int:
        """Number of hash buckets (the model's weight-vector length)."""
        return 1 << self.log2_buckets

    def to_dict(self) -> dict[str, Any]:
        """Settings as plain JSON-able values (stored beside the weights)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HashedNgrams:
        """Rebuild settings saved by :meth:`to_dict`."""
        return cls(
            log2_buckets=int(data["log2_buckets"]),
            char_ngrams=(int(data["char_ngrams"][0]), int(data["char_ngrams"][1])),
            word_ngrams=(int(data["word_ngrams"][0]), int(data["word_ngrams"][1])),
            max_chars=int(data["max_chars"]),
        )

    # -- features -----------------------------------------------------------------------------

    def pairs(self, texts: Sequence[str]) -> tuple[I64, I64]:
        """Every hashed feature of ``texts`` as ``(row, bucket)`` arrays (repeats kept)."""
        if len(texts) == 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        c = joined_codes(texts, self.max_chars)
        is_sep = c == _SEP
        # doc[i]: the text that position i belongs to; a separator belongs to the text after it.
        doc = np.cumsum(is_sep, dtype=np.int64) - 1
        rows: list[I64] = []
        hashes: list[U64] = []
        self._char_features(c, is_sep, doc, rows, hashes)
        self._word_features(c, is_sep, doc, rows, hashes)
        h = _fmix(np.concatenate(hashes))
        mask = np.uint64(self.n_buckets - 1)
        return np.concatenate(rows), (h & mask).astype(np.int64)

    def _char_features(
        self, c: U64, is_sep: NDArray[np.bool_], doc: I64, rows: list[I64], hashes: list[U64]
    ) -> None:
        lo, hi = self.char_ngrams
        if hi < 1:
            return
        seps = np.concatenate(([0], np.cumsum(is_sep, dtype=np.int64)))
        size = c.size
        h = np.zeros(size, dtype=np.uint64)
        for n in range(1, hi + 1):
            count = size - n + 1
            if count <= 0:
                break
            h = h[:count] * _B + c[n - 1 : n - 1 + count]
            if n < lo:
                continue
            if n == 1:
                valid = ~is_sep
            else:
                # No separator strictly inside the n-gram; edges may touch one.
                inner = seps[n - 1 : n - 1 + count] - seps[1 : 1 + count]
                valid = inner == 0
                if n == 2:
                    valid &= ~(is_sep[:count] & is_sep[1 : 1 + count])
            idx = np.flatnonzero(valid)
            rows.append(doc[idx])
            hashes.append(h[idx] ^ np.uint64(n * 0x5BD1E995))

    def _word_features(
        self, c: U64, is_sep: NDArray[np.bool_], doc: I64, rows: list[I64], hashes: list[U64]
    ) -> None:
        lo, hi = self.word_ngrams
        if hi < 1:
            return
        is_gap = is_sep | (c == _SPACE)
        # Word spans [start, end): a non-gap character after a gap starts one.
        start_mask = ~is_gap
        start_mask[1:] &= is_gap[:-1]
        end_mask = ~is_gap
        end_mask[:-1] &= is_gap[1:]
        starts = np.flatnonzero(start_mask)
        ends = np.flatnonzero(end_mask) + 1
        if starts.size == 0:
            return
        size = c.size
        inv_pow = np.full(size, _B_INV, dtype=np.uint64)
        inv_pow[0] = 1
        inv_pow = np.cumprod(inv_pow, dtype=np.uint64)
        fwd_pow = np.full(size, _B, dtype=np.uint64)
        fwd_pow[0] = 1
        fwd_pow = np.cumprod(fwd_pow, dtype=np.uint64)
        prefix = np.concatenate(([np.uint64(0)], np.cumsum(c * inv_pow, dtype=np.uint64)))
        # sum_{j<end} c_j B^-j minus the same up to start, shifted back by B^start: a hash of the
        # word's characters that does not depend on where the word sits.
        wh = _fmix((prefix[ends] - prefix[starts]) * fwd_pow[starts] + np.uint64(0x2545F491))
        wdoc = doc[starts]
        if lo <= 1:
            rows.append(wdoc)
            hashes.append(wh ^ np.uint64(0x1B873593))
        if hi >= 2:
            # Bigrams include the text edges ("<s> w0", "wN </s>") as a zero word hash.
            first = np.ones(wdoc.size, dtype=bool)
            first[1:] = wdoc[1:] != wdoc[:-1]
            last = np.ones(wdoc.size, dtype=bool)
            last[:-1] = wdoc[:-1] != wdoc[1:]
            prev = np.zeros(wdoc.size, dtype=np.uint64)
            prev[1:] = wh[:-1]
            prev[first] = 0
            rows.append(wdoc)
            hashes.append(prev * _GOLD + wh + np.uint64(0xCC9E2D51))
            idx = np.flatnonzero(last)
            rows.append(wdoc[idx])
            hashes.append(wh[idx] * _GOLD + np.uint64(0xE6546B64))
