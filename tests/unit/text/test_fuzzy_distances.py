"""The bit-parallel edit distances of the fuzzy index against a plain dynamic programme.

`distances` runs two kernels: texts of up to 64 units as the bit pattern (the query scanned),
longer ones with the query as the pattern (the texts scanned), and a mix of both split and
merged back in order. Each of its six distances must equal the textbook one.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from nunchi.analyzers.text import _fuzzy_match as fm
from nunchi.analyzers.text.hangul import KEY_ALPHABET_SIZE, fold_table

_FOLD = fold_table()


def _reference(q: bytes, t: bytes, *, free_start: bool) -> tuple[int, int]:
    """(distance to the whole text, best over the text's prefixes), or with ``free_start``
    (_, best over its substrings)."""
    previous = [0 if free_start else j for j in range(len(t) + 1)]
    for i, qc in enumerate(q, 1):
        row = [i] + [0] * len(t)
        for j, tc in enumerate(t, 1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (qc != tc))
        previous = row
    return previous[-1], min(previous)


def _expected(q: bytes, t: bytes) -> tuple[int, ...]:
    q = q[: fm.MAX_QUERY_UNITS]
    fq, ft = bytes(_FOLD[c] for c in q), bytes(_FOLD[c] for c in t)
    whole, prefix = _reference(q, t, free_start=False)
    _, sub = _reference(q, t, free_start=True)
    whole_f, prefix_f = _reference(fq, ft, free_start=False)
    _, sub_f = _reference(fq, ft, free_start=True)
    return whole, prefix, sub, whole_f, prefix_f, sub_f


# A small alphabet (so texts share units and matches happen): pairs that fold together
# (ㄲ -> ㄱ and the like) and a few that do not.
_FOLDING = [u for u in range(1, KEY_ALPHABET_SIZE) if _FOLD[u] != u][:3]
_UNITS = st.sampled_from(sorted({*_FOLDING, *(_FOLD[u] for u in _FOLDING), 30, 50, 77}))
_KEYS = st.lists(_UNITS, max_size=100).map(bytes)


@settings(max_examples=150, deadline=None)
@given(
    query=st.lists(_UNITS, min_size=1, max_size=70).map(bytes),
    texts=st.lists(_KEYS, min_size=1, max_size=12),
)
def test_every_distance_is_the_textbook_one(query: bytes, texts: list[bytes]) -> None:
    keys = np.frombuffer(b"".join(texts), dtype=np.uint8)
    off = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum([len(t) for t in texts], out=off[1:])
    rows = np.arange(len(texts), dtype=np.int64)[::-1].copy()  # not in storage order
    d = fm.distances(query, keys, off, rows)
    got = np.stack(
        [d.whole_raw, d.prefix_raw, d.substring_raw, d.whole_fold, d.prefix_fold, d.substring_fold],
        axis=1,
    )
    for k, r in enumerate(rows):
        assert tuple(int(v) for v in got[k]) == _expected(query, texts[r]), (k, texts[r])
    np.testing.assert_array_equal(d.whole, (got[:, 0] + got[:, 3]) / 2)
    np.testing.assert_array_equal(d.lens, [len(texts[r]) for r in rows])


def test_texts_at_the_word_boundary_and_empty() -> None:
    texts = [bytes([5] * 63), bytes([5] * 64), bytes([5] * 65), b"", bytes([5, 4] * 40)]
    keys = np.frombuffer(b"".join(texts), dtype=np.uint8)
    off = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum([len(t) for t in texts], out=off[1:])
    query = bytes([5] * 64)
    d = fm.distances(query, keys, off, np.arange(len(texts), dtype=np.int64))
    for k, t in enumerate(texts):
        assert (
            int(d.whole_raw[k]),
            int(d.prefix_raw[k]),
            int(d.substring_raw[k]),
            int(d.whole_fold[k]),
            int(d.prefix_fold[k]),
            int(d.substring_fold[k]),
        ) == _expected(query, t)
