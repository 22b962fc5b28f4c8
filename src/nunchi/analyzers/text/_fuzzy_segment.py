"""One immutable generation of the fuzzy index: texts, entries and items in numpy arrays.

* texts: each distinct search key once (a maker or category shared by 10,000 items is one
  text), with its choseong key;
* entries: (item, text, field weight), grouped by item;
* items: external ids, sorted, with an ``alive`` flag (the only array that changes: a removal
  clears it in place, so readers never see a half-made state);
* candidates: an inverted index from each folded key trigram to the texts that contain it
  (CSR: sorted gram codes, offsets, text ids); choseong queries scan the folded choseong keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from nunchi.analyzers.text._fuzzy_arrays import I64, U8, concat_ragged, dedupe, gather, ranges
from nunchi.analyzers.text.hangul import KEY_ALPHABET_SIZE, fold_table

__all__ = ["CANDIDATE_CAP", "POSTING_BUDGET", "Segment", "SegmentInput"]

_A = KEY_ALPHABET_SIZE
_FOLD = np.frombuffer(fold_table(), dtype=np.uint8)
CANDIDATE_CAP = 20_000
"""At most this many texts leave candidate generation (the ones sharing most grams)."""
POSTING_BUDGET = 300_000
"""Postings one candidate generation reads before it skips the query's most common grams."""
F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class SegmentInput:
    """What a segment is built from: items with their entries, and the entries' texts."""

    item_ext: I64
    item_ent_off: I64
    ent_tid: I64
    ent_w: F32
    keys: U8
    key_off: I64
    cho: U8
    cho_off: I64

    @staticmethod
    def concat(parts: Sequence[SegmentInput]) -> SegmentInput:
        """Several inputs as one (their items must be distinct)."""
        tid_base = np.cumsum([0] + [len(p.key_off) - 1 for p in parts])
        keys, key_off = concat_ragged([(p.keys, p.key_off) for p in parts])
        cho, cho_off = concat_ragged([(p.cho, p.cho_off) for p in parts])
        ent_counts = [np.diff(p.item_ent_off) for p in parts]
        item_ent_off = np.zeros(sum(len(c) for c in ent_counts) + 1, dtype=np.int64)
        if len(item_ent_off) > 1:
            np.cumsum(np.concatenate(ent_counts), out=item_ent_off[1:])
        return SegmentInput(
            np.concatenate([p.item_ext for p in parts]).astype(np.int64), item_ent_off,
            np.concatenate([p.ent_tid + b for p, b in zip(parts, tid_base, strict=False)]),
            np.concatenate([p.ent_w for p in parts]).astype(np.float32),
            keys, key_off, cho, cho_off)


class Segment:
    """Arrays of one generation; see the module docstring."""

    def __init__(self, src: SegmentInput) -> None:
        # Items sorted by external id, so a lookup is a binary search.
        order = np.argsort(src.item_ext, kind="stable")
        counts = np.diff(src.item_ent_off)[order]
        ent = ranges(src.item_ent_off[:-1][order], counts)
        self.item_ext: I64 = src.item_ext[order]
        self.item_ent_off: I64 = np.zeros(len(order) + 1, dtype=np.int64)
        np.cumsum(counts, out=self.item_ent_off[1:])
        self.item_alive = np.ones(len(order), dtype=bool)
        self.ent_item = np.repeat(np.arange(len(order), dtype=np.int32), counts)
        self.ent_w: F32 = src.ent_w[ent]
        # Texts: one per distinct key, only those some entry uses.
        rep = dedupe(src.keys, src.key_off)
        used = np.unique(rep[src.ent_tid[ent]])
        remap = np.full(len(rep), -1, dtype=np.int64)
        remap[used] = np.arange(len(used))
        self.ent_tid = remap[rep[src.ent_tid[ent]]].astype(np.int32)
        self.keys, self.key_off = gather(src.keys, src.key_off, used)
        self.cho, self.cho_off = gather(src.cho, src.cho_off, used)
        self.cho_fold: U8 = _FOLD[self.cho]
        by_tid = np.argsort(self.ent_tid, kind="stable")
        self.tid_ents = by_tid.astype(np.int32)
        self.tid_ent_off = np.zeros(len(used) + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.ent_tid, minlength=len(used)), out=self.tid_ent_off[1:])
        self._build_grams()

    def _build_grams(self) -> None:
        n_texts = len(self.key_off) - 1
        lens = np.diff(self.key_off)
        self.key_len = np.minimum(lens, 65535).astype(np.uint16)
        self.cho_len = np.minimum(np.diff(self.cho_off), 65535).astype(np.uint16)
        folded = _FOLD[self.keys].astype(np.int32)
        first = np.zeros(n_texts, dtype=np.int32)
        has1, has2 = lens >= 1, lens >= 2
        first[has1] = folded[self.key_off[:-1][has1]] * _A
        first[has2] += folded[self.key_off[:-1][has2] + 1]
        self.first2 = first.astype(np.uint16)
        self.cho_first = np.zeros(n_texts, dtype=np.uint8)
        self.cho_second = np.zeros(n_texts, dtype=np.uint8)
        cho_has = self.cho_len > 0
        self.cho_first[cho_has] = self.cho_fold[self.cho_off[:-1][cho_has]]
        cho_has2 = self.cho_len > 1
        self.cho_second[cho_has2] = self.cho_fold[self.cho_off[:-1][cho_has2] + 1]
        starts = self.key_off[:-1][lens >= 3]
        n_grams = lens[lens >= 3] - 2
        pos = ranges(starts, n_grams)
        tid = np.repeat(np.flatnonzero(lens >= 3), n_grams)
        codes = (folded[pos] * _A + folded[pos + 1]) * _A + folded[pos + 2]
        pairs = np.unique((codes.astype(np.int64) << 32) | tid)
        gram = (pairs >> 32).astype(np.int32)
        self.post_tid = (pairs & 0xFFFFFFFF).astype(np.int32)
        heads = np.flatnonzero(np.concatenate([[True], gram[1:] != gram[:-1]])) if len(gram) \
            else np.zeros(0, dtype=np.int64)
        self.gram_codes = gram[heads]
        self.gram_off = np.concatenate([heads, [len(gram)]]).astype(np.int64)

    # --- sizes and lookups ---------------------------------------------------------------

    @property
    def n_items(self) -> int:
        """Items in this generation, removed ones included."""
        return len(self.item_ext)

    @property
    def n_texts(self) -> int:
        """Distinct texts (search keys)."""
        return len(self.key_off) - 1

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays."""
        return sum(int(a.nbytes) for a in vars(self).values() if isinstance(a, np.ndarray))

    def find(self, item_id: int) -> int:
        """Position of a live item with external id ``item_id``, or -1."""
        i = int(np.searchsorted(self.item_ext, item_id))
        if i < len(self.item_ext) and self.item_ext[i] == item_id and self.item_alive[i]:
            return i
        return -1

    def item_positions(self, item_ids: I64) -> I64:
        """Positions of the live items among ``item_ids`` (others are left out)."""
        i = np.searchsorted(self.item_ext, item_ids)
        i = i[i < len(self.item_ext)]
        found = i[np.isin(self.item_ext[i], item_ids)]
        return np.unique(found[self.item_alive[found]])

    def entries_of_items(self, items: I64) -> I64:
        """Entry indices of the items at positions ``items``."""
        return ranges(self.item_ent_off[items], self.item_ent_off[items + 1] -
                      self.item_ent_off[items])

    def entries_of_texts(self, tids: I64) -> tuple[I64, I64]:
        """Live entries using texts ``tids``, and for each the position in ``tids``."""
        lens = self.tid_ent_off[tids + 1] - self.tid_ent_off[tids]
        ents = self.tid_ents[ranges(self.tid_ent_off[tids], lens)].astype(np.int64)
        owner = np.repeat(np.arange(len(tids)), lens)
        alive = self.item_alive[self.ent_item[ents]]
        return ents[alive], owner[alive]

    def live(self) -> SegmentInput:
        """The live items as the input of a new segment (for compaction)."""
        items = np.flatnonzero(self.item_alive)
        ents = self.entries_of_items(items)
        used, ent_tid = np.unique(self.ent_tid[ents], return_inverse=True)
        tids = used.astype(np.int64)
        keys, key_off = gather(self.keys, self.key_off, tids)
        cho, cho_off = gather(self.cho, self.cho_off, tids)
        off = np.zeros(len(items) + 1, dtype=np.int64)
        np.cumsum(self.item_ent_off[items + 1] - self.item_ent_off[items], out=off[1:])
        return SegmentInput(self.item_ext[items], off, ent_tid.astype(np.int64),
                            self.ent_w[ents], keys, key_off, cho, cho_off)

    # --- candidates ----------------------------------------------------------------------

    def gram_frequency(self, folded_key: bytes) -> int:
        """Median number of texts holding each indexed trigram of ``folded_key`` (0: none);
        a cheap guess of how many candidates the key would bring (a typo's trigrams, often
        in no text, are left out: they say nothing of the rest)."""
        at, _ = self._grams(folded_key)
        if len(at) == 0:
            return 0
        return int(np.median(self.gram_off[at + 1] - self.gram_off[at]))

    def _grams(self, folded_key: bytes) -> tuple[I64, int]:
        f = np.frombuffer(folded_key, dtype=np.uint8).astype(np.int32)
        grams = np.unique((f[:-2] * _A + f[1:-1]) * _A + f[2:])
        at = np.searchsorted(self.gram_codes, grams)
        at = at[at < len(self.gram_codes)]
        return at[np.isin(self.gram_codes[at], grams)], len(grams)

    def literal_candidates(self, folded_key: bytes, edits: int) -> tuple[I64, F32]:
        """Texts that may be within ``edits`` folded edits of ``folded_key``, with an estimate
        of how well each matches (share of the query's trigrams it has, length closeness).
        Keys under three units find the texts they start."""
        n = len(folded_key)
        if n < 3:
            q = list(folded_key)
            if n == 2:
                tids = np.flatnonzero(self.first2 == q[0] * _A + q[1])
            else:
                tids = np.flatnonzero(self.first2 // _A == q[0])
            return _capped(tids, _closeness(self.key_len[tids], n))
        at, n_grams = self._grams(folded_key)
        df = self.gram_off[at + 1] - self.gram_off[at]
        # The most common trigrams cost the most and tell the least: past POSTING_BUDGET
        # postings they are skipped (at most half of them), and the bound lowered to match.
        dropped = 0
        if int(df.sum()) > POSTING_BUDGET and len(at) > 1:
            order = np.argsort(df)
            keep = max((len(at) + 1) // 2, int(np.searchsorted(np.cumsum(df[order]),
                                                                POSTING_BUDGET)))
            dropped = len(at) - keep
            at, df = at[order[:keep]], df[order[:keep]]
        posting = self.post_tid[ranges(self.gram_off[at], df)]
        if len(posting) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        counts = np.bincount(posting, minlength=self.n_texts)
        low = max(1, n_grams - 3 * edits - dropped)
        n_grams -= dropped
        tids = np.flatnonzero(counts >= low)
        if len(tids) > CANDIDATE_CAP:
            hist = np.bincount(counts[tids])
            above = np.cumsum(hist[::-1])[::-1]   # above[c]: texts with at least c grams
            fits = np.flatnonzero(above <= CANDIDATE_CAP)
            low = int(fits[0]) if len(fits) else len(hist) - 1
            tids = tids[counts[tids] >= low]
        share = counts[tids] / n_grams
        est = 0.8 * share + 0.2 * _closeness(self.key_len[tids], n)
        return _capped(tids, est.astype(np.float32))

    def choseong_candidates(self, folded_cho: bytes) -> tuple[I64, F32]:
        """Texts whose folded initial consonants start with ``folded_cho``, and when fewer
        than CANDIDATE_CAP do, those that contain it (one consonant: prefixes only), with an
        estimate favouring prefixes and short texts."""
        m = len(folded_cho)
        first = self.cho_first == folded_cho[0]
        if m > 1:
            first &= self.cho_second == folded_cho[1]
        tids = np.flatnonzero(first)
        if m > 2 and len(tids):
            ok = self.cho_len[tids] >= m
            tids = tids[ok]
            for k in range(2, m):
                tids = tids[self.cho_fold[self.cho_off[tids] + k] == folded_cho[k]]
        est = _closeness(self.cho_len[tids], m)
        if m == 1 or len(tids) >= CANDIDATE_CAP:
            return _capped(tids, est)
        c = self.cho_fold
        hits = np.flatnonzero((c[:-1] == folded_cho[0]) & (c[1:] == folded_cho[1]))
        for k in range(2, m):
            hits = hits[hits + k < len(c)]
            hits = hits[c[hits + k] == folded_cho[k]]
        tid = np.searchsorted(self.cho_off, hits, side="right") - 1
        inside = (hits + m <= self.cho_off[tid + 1]) & (hits > self.cho_off[tid])
        inner = np.setdiff1d(tid[inside], tids)
        return _capped(np.concatenate([tids, inner]), np.concatenate(
            [est, 0.8 * _closeness(self.cho_len[inner], m)]).astype(np.float32))


def _capped(tids: I64, est: F32) -> tuple[I64, F32]:
    if len(tids) > CANDIDATE_CAP:
        keep = np.argpartition(-est, CANDIDATE_CAP)[:CANDIDATE_CAP]
        return tids[keep], est[keep]
    return tids, est


def _closeness(lens: npt.NDArray[np.uint16], n: int) -> F32:
    wide = lens.astype(np.float32)
    return (1 - np.abs(wide - n) / (wide + n + 1)).astype(np.float32)
