"""Edit distances of one query key against many candidate keys, and match quality.

Myers' bit-parallel edit distance runs for all candidates at once, each four ways in the same
pass: on its key and on its folded key (`hangul.fold_key`), each anchored at the text start
(giving the distance to the whole text and to its best prefix) and free to start anywhere (the
best substring). A slip that folding removes (ㅐ/ㅔ, tense/plain) then weighs half: the
weighted distance is the mean of the key and the folded-key distances.

Two kernels give the same distances. Texts of up to 64 units (nearly every name) are the bit
patterns, one uint64 each, and the query is scanned: one numpy step per query unit. Longer
texts are scanned with the query as the pattern: one step per text unit. Either way numpy's
per-call cost, not the arithmetic, is most of the time, so fewer steps is what counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from nunchi.analyzers.text._fuzzy_arrays import I64, U8, ranges
from nunchi.analyzers.text.hangul import KEY_ALPHABET_SIZE, fold_table

__all__ = ["HOW", "MAX_QUERY_UNITS", "Distances", "choseong_quality", "distances", "kmax",
           "literal_quality"]

HOW = ("exact", "prefix", "substring", "choseong", "keyboard", "fuzzy")
"""Names of the match kinds; ``how`` arrays hold indices into this tuple."""
EXACT, PREFIX, SUBSTRING, CHOSEONG, KEYBOARD, FUZZY = range(6)

MAX_QUERY_UNITS = 64
MAX_TEXT_UNITS = 160   # longer texts are matched on their first 160 units
_WORD = 64             # texts of up to this many units are matched one uint64 each
_ONE = np.uint64(1)
U64 = npt.NDArray[np.uint64]
_A = KEY_ALPHABET_SIZE
_FOLD = np.frombuffer(fold_table(), dtype=np.uint8)
F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Distances:
    """Edit distances per candidate: ``whole`` text, best ``prefix``, best ``substring``.

    The ``*_raw`` arrays are on the keys as they are, the others the weighted mean with the
    folded keys (so a folded-away slip counts 0.5). ``lens`` are the candidates' key lengths.
    """

    whole_raw: I64
    prefix_raw: I64
    substring_raw: I64
    whole: F32
    prefix: F32
    substring: F32
    whole_fold: I64
    prefix_fold: I64
    substring_fold: I64
    lens: I64


def kmax(n: int) -> float:
    """The most weighted edits a fuzzy match of a query of ``n`` key units may have."""
    if n <= 3:
        return 0.5
    if n <= 5:
        return 1.0
    if n <= 8:
        return 1.5
    if n <= 12:
        return 2.0
    return 2.5 if n <= 20 else 3.0


def distances(query: bytes, keys: U8, off: I64, rows: I64) -> Distances:
    """Distances of ``query`` (its first 64 units) to rows ``rows`` of the ragged ``keys``."""
    q = np.frombuffer(query[:MAX_QUERY_UNITS], dtype=np.uint8)
    n = len(q)
    count = len(rows)
    lens = (off[rows + 1] - off[rows]).astype(np.int64)
    if n == 0 or count == 0:
        worst = np.full(count, n, dtype=np.int64)
        return _finish(worst, worst, worst, worst, worst, worst, lens)
    short = lens <= _WORD
    if short.all():
        return _scan_query(q, keys, off, rows, lens)
    if not short.any():
        return _scan_texts(q, keys, off, rows, lens)
    # Mostly short texts and a few long ones: each part its own way, then back in order.
    parts = [(np.flatnonzero(short), _scan_query), (np.flatnonzero(~short), _scan_texts)]
    raw = np.zeros((6, count), dtype=np.int64)
    for where, scan in parts:
        d = scan(q, keys, off, rows[where], lens[where])
        for k, a in enumerate((d.whole_raw, d.prefix_raw, d.substring_raw, d.whole_fold,
                               d.prefix_fold, d.substring_fold)):
            raw[k, where] = a
    return _finish(raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], lens)


def _finish(whole_raw: I64, prefix_raw: I64, sub_raw: I64, whole_fold: I64, prefix_fold: I64,
            sub_fold: I64, lens: I64) -> Distances:
    def mean(a: I64, b: I64) -> F32:
        return ((a + b) / 2).astype(np.float32)

    return Distances(whole_raw, prefix_raw, sub_raw, mean(whole_raw, whole_fold),
                     mean(prefix_raw, prefix_fold), mean(sub_raw, sub_fold),
                     whole_fold, prefix_fold, sub_fold, lens)


def _step(eq: U64, pv: U64, mv: U64) -> None:
    """One column of Myers' algorithm in place (``pv`` / ``mv``: the vertical deltas), the
    horizontal delta into the top row +1 (the scanned string is matched whole)."""
    xv = eq | mv
    xh = (((eq & pv) + pv) ^ pv) | eq
    ph = mv | ~(xh | pv)
    mh = pv & xh
    ph = (ph << _ONE) | _ONE
    mh = mh << _ONE
    np.bitwise_or(mh, ~(xv | ph), out=pv)
    np.bitwise_and(ph, xv, out=mv)


def _scan_query(q: U8, keys: U8, off: I64, rows: I64, lens: I64) -> Distances:
    """Texts of at most 64 units: the text is the bit-parallel pattern (one uint64 per text)
    and the query is scanned, so a search costs one numpy step per query unit (a short query
    against long names: a few steps instead of one per text unit). Edit distance is
    symmetric; what is free or anchored is set by the first column: text positions anchored
    (``D[i][0] = i``) for the whole text and its prefixes, free (``D[i][0] = 0``) for its
    substrings. The last column holds the distance of the query to every prefix of the text
    (anchored) or to the best substring ending there (free), read out by a prefix sum."""
    count = len(rows)
    n = len(q)
    units = keys[ranges(off[rows], lens)]
    pos = ranges(np.zeros(count, dtype=np.int64), lens)
    row = np.repeat(np.arange(count), lens)
    low, high = _LOW_BIT[pos], _HIGH_BIT[pos]
    # The match masks, one uint64 per (distinct query unit, text): the text positions that
    # hold that unit, summed by bincount as two exact 32-bit halves (a text unit that is not
    # in the query goes to a last slot, dropped).
    masks = []
    for text, query in ((units, q), (_FOLD[units], _FOLD[q])):
        distinct, slot = np.unique(query, return_inverse=True)
        lookup = np.full(256, len(distinct), dtype=np.int64)
        lookup[distinct] = np.arange(len(distinct))
        flat = lookup[text] * count + row
        size = (len(distinct) + 1) * count
        mask = np.bincount(flat, low, size).astype(np.uint64) | (
            np.bincount(flat, high, size).astype(np.uint64) << np.uint64(32))
        masks.append(mask[: len(distinct) * count].reshape(len(distinct), count)[slot])
    # Lanes: key anchored, folded anchored, key free, folded free.
    eqs = np.concatenate([masks[0], masks[1], masks[0], masks[1]], axis=1)
    pv = np.zeros(4 * count, dtype=np.uint64)
    pv[: 2 * count] = np.iinfo(np.uint64).max
    mv = np.zeros(4 * count, dtype=np.uint64)
    for j in range(n):
        _step(eqs[j], pv, mv)
    # Past a text's end every step is made +1, so no position there is the minimum; the
    # column is then read a byte at a time (the sum and lowest prefix sum of each byte pair).
    ends = np.tile(lens, 4)
    inside = np.where(ends >= _WORD, np.iinfo(np.uint64).max,
                      (_ONE << np.minimum(ends, _WORD - 1).astype(np.uint64)) - _ONE)
    pv = (pv & inside) | ~inside
    mv &= inside
    pair = (pv.view(np.uint8).reshape(-1, 8).astype(np.int32) << 8) | mv.view(
        np.uint8).reshape(-1, 8)
    sums, lows = _BYTE_SUM[pair], _BYTE_LOW[pair]
    run = np.zeros(4 * count, dtype=np.int64)
    lowest = np.zeros(4 * count, dtype=np.int64)
    for k in range(8):
        np.minimum(lowest, run + lows[:, k], out=lowest)
        run += sums[:, k]
    best = lowest + n
    whole = (run - (_WORD - ends) + n)[: 2 * count]
    c = count
    return _finish(whole[:c], best[:c], best[2 * c:3 * c], whole[c:], best[c:2 * c],
                   best[3 * c:], lens)


def _byte_tables() -> tuple[npt.NDArray[np.int16], npt.NDArray[np.int16]]:
    """For every (up byte << 8 | down byte): the sum of its eight vertical steps and the
    lowest prefix sum (0 or less)."""
    value = np.arange(256)
    bits = ((value[:, None] >> np.arange(8)) & 1).astype(np.int16)
    prefix = np.cumsum(bits[:, None, :] - bits[None, :, :], axis=2)
    return (prefix[:, :, -1].ravel().astype(np.int16),
            np.minimum(prefix.min(axis=2), 0).ravel().astype(np.int16))


_BYTE_SUM, _BYTE_LOW = _byte_tables()
_LOW_BIT = np.array([2.0**p if p < 32 else 0.0 for p in range(_WORD)])
_HIGH_BIT = np.array([2.0 ** (p - 32) if p >= 32 else 0.0 for p in range(_WORD)])


def _scan_texts(q: U8, keys: U8, off: I64, rows: I64, lens: I64) -> Distances:
    """Any text (up to ``MAX_TEXT_UNITS`` of it): the query is the bit-parallel pattern and
    every text is scanned, all texts at once, one numpy step per text unit."""
    n = len(q)
    count = len(rows)
    peq = np.zeros(2 * _A, dtype=np.uint64)
    bits = np.left_shift(np.uint64(1), np.arange(n, dtype=np.uint64))
    np.bitwise_or.at(peq, q.astype(np.int64), bits)
    np.bitwise_or.at(peq, _FOLD[q].astype(np.int64) + _A, bits)

    used = np.minimum(lens, MAX_TEXT_UNITS)
    order = np.argsort(-used, kind="stable")
    used_sorted = used[order]
    width = int(used_sorted[0])
    matrix = np.zeros((width, count), dtype=np.uint8)   # column c: candidate c, position-major
    rows_sorted = rows[order]
    cols = np.repeat(np.arange(count), used_sorted)
    pos = np.arange(len(cols)) - np.repeat(np.cumsum(used_sorted) - used_sorted, used_sorted)
    matrix[pos, cols] = keys[ranges(off[rows_sorted], used_sorted)]
    folded = _FOLD[matrix] + np.uint8(_A)
    # Four lanes per candidate: key anchored, folded anchored, key free, folded free.
    lanes = np.empty((width, 4 * count), dtype=np.uint8)
    lanes[:, 0::4] = matrix
    lanes[:, 1::4] = folded
    lanes[:, 2::4] = matrix
    lanes[:, 3::4] = folded
    carry = np.tile(np.array([1, 1, 0, 0], dtype=np.uint64), count)
    active = 4 * np.searchsorted(-used_sorted, -np.arange(width), side="left")

    pv = np.full(4 * count, np.iinfo(np.uint64).max, dtype=np.uint64)
    mv = np.zeros(4 * count, dtype=np.uint64)
    score = np.full(4 * count, n, dtype=np.uint64)
    best = score.copy()
    top = np.uint64(n - 1)
    one = np.uint64(1)
    for j in range(width):
        r = int(active[j])
        eq = peq[lanes[j, :r]]
        p, m = pv[:r], mv[:r]
        xv = eq | m
        xh = (((eq & p) + p) ^ p) | eq
        ph = m | ~(xh | p)
        mh = p & xh
        s = score[:r]
        s += (ph >> top) & one
        s -= (mh >> top) & one
        ph = (ph << one) | carry[:r]
        mh = mh << one
        pv[:r] = mh | ~(xv | ph)
        mv[:r] = ph & xv
        np.minimum(best[:r], s, out=best[:r])

    back = np.empty(count, dtype=np.int64)
    back[order] = np.arange(count)
    sc = score.astype(np.int64).reshape(count, 4)[back]
    be = best.astype(np.int64).reshape(count, 4)[back]
    whole_raw, whole_fold = sc[:, 0], sc[:, 1]
    prefix_raw, prefix_fold = be[:, 0], be[:, 1]
    sub_raw, sub_fold = be[:, 2], be[:, 3]
    if (lens > MAX_TEXT_UNITS).any():  # the end of a truncated text was never reached
        cut = lens > MAX_TEXT_UNITS
        whole_raw = np.where(cut, n + lens, whole_raw)
        whole_fold = np.where(cut, n + lens, whole_fold)
    return _finish(whole_raw, prefix_raw, sub_raw, whole_fold, prefix_fold, sub_fold, lens)


def literal_quality(d: Distances, n: int, *, exact_ok: bool = True) -> tuple[F32, U8]:
    """Quality in [0, 1] and match kind of each candidate for a query of ``n`` key units.

    exact 1.0; prefix 0.90-0.98 and substring 0.78-0.86 (more for covering more of the text);
    fuzzy up to about 0.78, less per weighted edit, best of whole text, prefix and substring
    (half an edit fewer allowed inside a text, and in a prefix for queries of 5 units or less).
    0 means no match (more edits than `kmax` allows). ``exact_ok=False`` (a truncated query)
    reports whole-text matches as prefixes.
    """
    cov = (n / np.maximum(d.lens, n)).astype(np.float32)
    limit = kmax(n)
    q = np.zeros(len(d.lens), dtype=np.float32)
    how = np.full(len(d.lens), FUZZY, dtype=np.uint8)

    def fuzzy(dist: F32, base: float, most: float) -> F32:
        value = base * (1 - dist / (n + 1)) + 0.04 * cov
        return np.where(dist <= most, value, 0).astype(np.float32)

    # Inside a text, and at the start of a longer one for a short query, fewer edits: a
    # two-syllable word is one edit from many syllable pairs of long names.
    tighter = max(0.5, limit - 0.5)
    q = np.maximum(fuzzy(d.whole, 0.74, limit), np.maximum(
        fuzzy(d.prefix, 0.70, tighter if n <= 5 else limit), fuzzy(d.substring, 0.62, tighter)))
    for kind, hit, value in (
            (SUBSTRING, d.substring_raw == 0, 0.78 + 0.08 * cov),
            (PREFIX, d.prefix_raw == 0, 0.90 + 0.08 * cov),
            (EXACT if exact_ok else PREFIX, d.whole_raw == 0, 1.0 if exact_ok else 0.98)):
        q = np.where(hit, value, q).astype(np.float32)
        how = np.where(hit, kind, how).astype(np.uint8)
    return q, how


def choseong_quality(d: Distances, n: int) -> F32:
    """Quality of candidates' initial consonants against a choseong query of ``n`` consonants.

    Only matches without edits once tense consonants are folded (ㄱㅊㅈㄱ may find 김치찌개),
    0.05 less per tense consonant that differs: exact 0.86, prefix 0.80-0.85, substring
    0.70-0.75 (a single consonant matches as a prefix or whole text only).
    """
    cov = (n / np.maximum(d.lens, n)).astype(np.float32)
    q = np.zeros(len(d.lens), dtype=np.float32)
    for hit, value, raw in (
            (d.substring_fold == 0 if n > 1 else np.zeros(len(q), bool), 0.70 + 0.05 * cov,
             d.substring_raw),
            (d.prefix_fold == 0, 0.80 + 0.05 * cov, d.prefix_raw),
            (d.whole_fold == 0, np.float32(0.86), d.whole_raw)):
        q = np.where(hit, np.maximum(q, value - 0.05 * raw), q).astype(np.float32)
    return q
