"""Typo-tolerant Korean search over catalog items, in memory (pure: numpy, no I/O).

`FuzzyIndex` holds items, each with one or more texts (name, aliases, maker, category ...)
and a weight per text, and answers `FuzzyIndex.search` with ranked `SearchHit`\\ s. A query
matches as written (exact, prefix, substring: on the keystroke keys of `hangul.search_key`,
so ``김치ㅉ`` is a prefix of ``김치찌개`` and spacing does not matter), as initial consonants
(``ㄱㅊㅉㄱ``), as Korean typed with the keyboard in English mode (``rlaclWlro``) and with typos
(``김치찌게``, ``떡뽁이``: a bounded edit distance, see `_fuzzy_match`). Several words must each
match some text of the item (``도미노 피자``: maker and name), or match once joined.

How a search runs: candidate texts come from an inverted index of folded key trigrams (texts
sharing enough of the query's trigrams, by the q-gram bound for the allowed edits), or for
initial consonants from a scan of the packed choseong keys; they are ranked by an estimate
(trigram share, length, field weight, popularity), and the best few hundred get the exact
bit-parallel edit distance. The caller's filter (``allowed``) is applied before that cut.

Writes and reads: every write takes one lock; a search takes none. Items live in a large
immutable base segment and a small delta segment for items written since the last
compaction; a search works on the segments it found when it started (a new delta is built
at the first search after writes; a removal clears an alive flag in place and is seen at
once). `compact` folds the delta into a new base (it runs by itself when the delta outgrows
`delta_limit`); searches go on against the old one meanwhile.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from nunchi.analyzers.text import _fuzzy_match as fm
from nunchi.analyzers.text._fuzzy_arrays import I64, encode
from nunchi.analyzers.text._fuzzy_query import (
    Popularity,
    Token,
    Variant,
    allowed_filter,
    allowed_mask,
    plan,
)
from nunchi.analyzers.text._fuzzy_segment import F32, Segment, SegmentInput
from nunchi.analyzers.text.hangul import choseong_key, key_to_text, search_key
from nunchi.errors import Conflict, InvalidInput, NotFound

__all__ = ["HOW_MATCHED", "FuzzyIndex", "SearchHit", "Text"]

HOW_MATCHED = fm.HOW
"""The values of `SearchHit.how_matched`, strongest first."""
Text = str | tuple[str, float]
"""A text of an item: the text alone (weight 1.0) or ``(text, weight)``, weight in (0, 10]."""

_MAX_LIMIT = 1000
_MAX_TEXT_CHARS = 1000
_MULTI_ITEMS = 400       # entries of its rarest word whose items a multi-word query checks
_KEYBOARD_WEIGHT = 0.97
_text_of = functools.lru_cache(maxsize=16_384)(key_to_text)
"""A text from its key, for the mixed-query check (the same names come up query after query)."""


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One result: the item, its score (match quality x field weight + popularity boost) and
    how the query matched (one of `HOW_MATCHED`)."""

    item_id: int
    score: float
    how_matched: str


@dataclass(frozen=True)
class _Scored:
    items: I64          # external ids
    scores: F32         # match part only (no popularity)
    how: npt.NDArray[np.uint8]

    @staticmethod
    def empty() -> _Scored:
        return _Scored(np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0, np.uint8))


def _check_texts(item_id: object, texts: object) -> tuple[int, list[tuple[str, float]]]:
    if isinstance(item_id, bool) or not isinstance(item_id, (int, np.integer)):
        raise InvalidInput(f"item id must be an integer, got {item_id!r}")
    if not -2**63 <= int(item_id) < 2**63:
        raise InvalidInput(f"item id {item_id} does not fit in 64 bits")
    if isinstance(texts, str) or not isinstance(texts, Sequence) or not texts:
        raise InvalidInput(f"item {item_id}: texts must be a non-empty list of str or "
                           "(str, weight)")
    out: list[tuple[str, float]] = []
    for t in texts:
        text, weight = (t, 1.0) if isinstance(t, str) else (t if isinstance(t, tuple) and
                                                             len(t) == 2 else (None, 0.0))
        if not isinstance(text, str) or isinstance(weight, bool) or not isinstance(
                weight, (int, float)) or not (0 < weight <= 10 and math.isfinite(weight)):
            raise InvalidInput(f"item {item_id}: each text must be a str or (str, weight) "
                               f"with 0 < weight <= 10, got {t!r}")
        if len(text) > _MAX_TEXT_CHARS:
            raise InvalidInput(f"item {item_id}: a text is {len(text)} characters long; "
                               f"the most is {_MAX_TEXT_CHARS}")
        out.append((text, float(weight)))
    return int(item_id), out


def _input_from(items: Sequence[tuple[int, list[tuple[str, float]]]]) -> SegmentInput:
    """Encode items in bulk; equal strings are encoded once."""
    distinct: dict[str, int] = {}
    ent_tid: list[int] = []
    ent_w: list[float] = []
    counts: list[int] = []
    for _, texts in items:
        counts.append(len(texts))
        for text, weight in texts:
            ent_tid.append(distinct.setdefault(text, len(distinct)))
            ent_w.append(weight)
    enc = encode(list(distinct))
    off = np.zeros(len(items) + 1, dtype=np.int64)
    np.cumsum(np.array(counts, dtype=np.int64), out=off[1:])
    return SegmentInput(np.array([i for i, _ in items], dtype=np.int64), off,
                        np.array(ent_tid, dtype=np.int64), np.array(ent_w, dtype=np.float32),
                        enc.keys, enc.key_off, enc.cho, enc.cho_off)


def _input_from_keys(pending: Mapping[int, list[tuple[bytes, bytes, float]]]) -> SegmentInput:
    rows = [r for texts in pending.values() for r in texts]
    counts = np.array([len(t) for t in pending.values()], dtype=np.int64)
    off = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=off[1:])

    def ragged(parts: list[bytes]) -> tuple[npt.NDArray[np.uint8], I64]:
        lens = np.array([len(p) for p in parts], dtype=np.int64)
        offsets = np.zeros(len(parts) + 1, dtype=np.int64)
        np.cumsum(lens, out=offsets[1:])
        return np.frombuffer(b"".join(parts), dtype=np.uint8).copy(), offsets

    keys, key_off = ragged([r[0] for r in rows])
    cho, cho_off = ragged([r[1] for r in rows])
    return SegmentInput(np.fromiter(pending.keys(), dtype=np.int64, count=len(pending)), off,
                        np.arange(len(rows), dtype=np.int64),
                        np.array([r[2] for r in rows], dtype=np.float32),
                        keys, key_off, cho, cho_off)


class FuzzyIndex:
    """In-memory typo-tolerant search over items with weighted texts; see the module doc.

    ``delta_limit``: items written since the last compaction before `compact` runs by itself
    (default: 2 % of the base, between 1,000 and 20,000).
    """

    def __init__(self, *, delta_limit: int | None = None) -> None:
        self._lock = threading.Lock()
        self._base: Segment | None = None
        self._pending: dict[int, list[tuple[bytes, bytes, float]]] = {}
        self._delta: Segment | None = None
        self._dirty = False
        self._removed_in_base = 0
        self._delta_limit = delta_limit
        self._segments: tuple[Segment, ...] = ()

    @classmethod
    def build(cls, items: Iterable[tuple[int, Sequence[Text]]], *,
              delta_limit: int | None = None) -> FuzzyIndex:
        """An index of ``items`` (``(item_id, texts)`` pairs), encoded in bulk (fast)."""
        checked = [_check_texts(i, t) for i, t in items]
        ids = [i for i, _ in checked]
        if len(set(ids)) != len(ids):
            raise InvalidInput("item ids must be distinct; an id appears twice")
        index = cls(delta_limit=delta_limit)
        if checked:
            index._base = Segment(_input_from(checked))
            index._segments = (index._base,)
        return index

    # --- writes --------------------------------------------------------------------------

    def add(self, item_id: int, texts: Sequence[Text]) -> None:
        """Add an item; Conflict if an item with that id is already indexed."""
        item, checked = _check_texts(item_id, texts)
        with self._lock:
            if self._has(item):
                raise Conflict(f"item {item} is already indexed; use update to change it")
            self._add_locked(item, checked)

    def update(self, item_id: int, texts: Sequence[Text]) -> None:
        """Replace the texts of an item; NotFound if it is not indexed."""
        item, checked = _check_texts(item_id, texts)
        with self._lock:
            if not self._remove_locked(item):
                raise NotFound(f"item {item} is not indexed; use add for a new item")
            self._add_locked(item, checked)

    def remove(self, item_id: int) -> bool:
        """Remove an item; False if it was not indexed."""
        with self._lock:
            return self._remove_locked(int(item_id))

    def compact(self) -> None:
        """Fold the items written since the last compaction into a new base segment."""
        with self._lock:
            self._compact_locked()

    def _has(self, item: int) -> bool:
        return item in self._pending or (self._base is not None and self._base.find(item) >= 0)

    def _add_locked(self, item: int, texts: list[tuple[str, float]]) -> None:
        self._pending[item] = [(search_key(t), choseong_key(t), w) for t, w in texts]
        self._dirty = True
        base_items = self._base.n_items if self._base is not None else 0
        limit = self._delta_limit or min(20_000, max(1_000, base_items // 50))
        if len(self._pending) > limit:
            self._compact_locked()

    def _remove_locked(self, item: int) -> bool:
        if item in self._pending:
            del self._pending[item]
            if self._delta is not None and (pos := self._delta.find(item)) >= 0:
                self._delta.item_alive[pos] = False
            self._dirty = True
            return True
        if self._base is not None and (pos := self._base.find(item)) >= 0:
            self._base.item_alive[pos] = False
            self._removed_in_base += 1
            if self._removed_in_base > max(1_000, self._base.n_items // 4):
                self._compact_locked()
            return True
        return False

    def _compact_locked(self) -> None:
        parts = [self._base.live()] if self._base is not None else []
        if self._pending:
            parts.append(_input_from_keys(self._pending))
        merged = SegmentInput.concat(parts) if parts else None
        self._base = Segment(merged) if merged is not None and len(merged.item_ext) else None
        self._pending, self._delta, self._dirty, self._removed_in_base = {}, None, False, 0
        self._segments = (self._base,) if self._base is not None else ()

    def _current(self) -> tuple[Segment, ...]:
        if self._dirty:
            with self._lock:
                if self._dirty:
                    self._delta = Segment(_input_from_keys(self._pending)) if self._pending \
                        else None
                    self._segments = tuple(s for s in (self._base, self._delta) if s is not None)
                    self._dirty = False
        return self._segments

    # --- sizes ---------------------------------------------------------------------------

    def __len__(self) -> int:
        """Number of indexed items."""
        with self._lock:
            base = int(self._base.item_alive.sum()) if self._base is not None else 0
            return base + len(self._pending)

    def __contains__(self, item_id: object) -> bool:
        """Whether an item with this id is indexed."""
        if isinstance(item_id, bool) or not isinstance(item_id, (int, np.integer)):
            return False
        with self._lock:
            return self._has(int(item_id))

    @property
    def nbytes(self) -> int:
        """Bytes held by the index arrays (the segments; pending writes not counted)."""
        return sum(s.nbytes for s in self._current())

    # --- search --------------------------------------------------------------------------

    def search(self, query: str, limit: int = 10, *,
               allowed: Collection[int] | npt.NDArray[np.generic] | None = None,
               popularity: Mapping[int, float] | npt.NDArray[np.generic] | None = None,
               popularity_weight: float = 0.15, popularity_ref: float = 100.0
               ) -> list[SearchHit]:
        """The best ``limit`` items for ``query``, best first.

        ``allowed``: only these item ids (a collection of ids, an array of ids, or a bool
        array indexed by id: the caller's SQL filters). ``popularity``: a count per item id
        (mapping, or array indexed by id), added to the match score as a boost of at most
        ``popularity_weight`` (see `_fuzzy_query.Popularity`). InvalidInput for an empty,
        blank or over-long query or a limit outside 1..1000; a query with no letters or digits
        finds nothing.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= _MAX_LIMIT:
            raise InvalidInput(f"limit must be an integer within 1..{_MAX_LIMIT}, got {limit!r}")
        tokens, joined = plan(query)
        boost = Popularity(popularity, popularity_weight, popularity_ref)
        restriction = allowed_filter(allowed)
        if not tokens:
            return []
        found: list[_Scored] = []
        for seg in self._current():
            run = _SegmentSearch(seg, restriction, boost, limit)
            found.append(run.single(tokens[0]) if joined is None else run.multi(tokens, joined))
        return _rank(found, boost, limit)


def _rank(found: list[_Scored], boost: Popularity, limit: int) -> list[SearchHit]:
    if not found:
        return []
    items = np.concatenate([f.items for f in found])
    if len(items) == 0:
        return []
    scores = np.concatenate([f.scores for f in found])
    how = np.concatenate([f.how for f in found])
    # Best per item: sort by (item, -score) and keep each item's first row.
    order = np.lexsort((-scores, items))
    keep = order[np.concatenate([[True], items[order][1:] != items[order][:-1]])]
    items, scores, how = items[keep], scores[keep], how[keep]
    total = scores + boost(items)
    top = np.lexsort((items, -total))[:limit]
    return [SearchHit(int(items[i]), round(float(total[i]), 6), fm.HOW[int(how[i])])
            for i in top]


class _SegmentSearch:
    """One search over one segment."""

    def __init__(self, seg: Segment, restriction: npt.NDArray[np.bool_] | I64 | None,
                 boost: Popularity, limit: int) -> None:
        self.seg = seg
        self.restriction = restriction
        self.boost = boost
        self.budget = min(600, max(150, 12 * limit))

    def _candidates(self, v: Variant) -> tuple[I64, F32]:
        """Live, allowed candidate entries of a variant and their estimated score."""
        seg = self.seg
        if v.choseong:
            tids, est = seg.choseong_candidates(v.folded)
        else:
            tids, est = seg.literal_candidates(v.folded, int(fm.kmax(len(v.key))))
        ents, owner = seg.entries_of_texts(tids)
        if self.restriction is not None:
            ok = allowed_mask(self.restriction, seg.item_ext[seg.ent_item[ents]])
            if ok is not None:
                ents, owner = ents[ok], owner[ok]
        score = est[owner] * seg.ent_w[ents] * v.weight
        return ents, score.astype(np.float32)

    def _verify(self, v: Variant, tids: I64) -> tuple[F32, npt.NDArray[np.uint8]]:
        """Exact quality and kind of each text in ``tids`` for a variant."""
        seg = self.seg
        if v.choseong:
            d = fm.distances(v.key, seg.cho, seg.cho_off, tids)
            q = fm.choseong_quality(d, len(v.key))
            how = np.full(len(tids), fm.CHOSEONG, dtype=np.uint8)
            if v.pattern is not None:
                for i in np.flatnonzero(q > 0):
                    start, end = seg.key_off[tids[i]], seg.key_off[tids[i] + 1]
                    if not v.pattern.search(_text_of(seg.keys[start:end].tobytes())):
                        q[i] = 0
        else:
            d = fm.distances(v.key, seg.keys, seg.key_off, tids)
            q, how = fm.literal_quality(d, len(v.key), exact_ok=v.whole)
        if v.how is not None:
            how = np.full(len(tids), v.how, dtype=np.uint8)
        return (q * v.weight).astype(np.float32), how

    def _score_entries(self, token: Token, ents: I64) -> tuple[F32, npt.NDArray[np.uint8]]:
        """Best score (quality x weight) and kind of each entry over the token's variants."""
        seg = self.seg
        tids, inverse = np.unique(seg.ent_tid[ents], return_inverse=True)
        best = np.zeros(len(tids), dtype=np.float32)
        best_how = np.full(len(tids), fm.FUZZY, dtype=np.uint8)
        for v in token.variants:
            q, how = self._verify(v, tids.astype(np.int64))
            better = q > best
            best = np.where(better, q, best)
            best_how = np.where(better, how, best_how)
        return best[inverse] * seg.ent_w[ents], best_how[inverse]

    def _all_candidates(self, token: Token) -> tuple[I64, F32]:
        parts = [self._candidates(v) for v in token.variants]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def _top_entries(self, ents: I64, est: F32, budget: int) -> I64:
        """The candidate entries worth verifying: the best by estimate plus popularity."""
        if len(ents) == 0:
            return ents
        if self.boost.active:
            est = est + self.boost(self.seg.item_ext[self.seg.ent_item[ents]])
        if len(ents) > budget:
            ents = ents[np.argpartition(-est, budget)[:budget]]
        return np.unique(ents)

    def _by_item(self, ents: I64, scores: F32, how: npt.NDArray[np.uint8]) -> _Scored:
        hit = scores > 0
        ents, scores, how = ents[hit], scores[hit], how[hit]
        return _Scored(self.seg.item_ext[self.seg.ent_item[ents]], scores, how)

    def single(self, token: Token) -> _Scored:
        """Items matching one token."""
        ents = self._top_entries(*self._all_candidates(token), self.budget)
        if len(ents) == 0:
            return _Scored.empty()
        scores, how = self._score_entries(token, ents)
        return self._by_item(ents, scores, how)

    def _rarity(self, token: Token) -> int:
        """How many texts the token's trigrams are typically in (lower: better driver)."""
        grams = [self.seg.gram_frequency(v.folded) for v in token.variants
                 if not v.choseong and len(v.key) >= 3]
        return min(grams) if grams else self.seg.n_texts + 1 - len(token.text)

    def multi(self, tokens: list[Token], joined: Token) -> _Scored:
        """Items where every token matches some text (score: their mean, kind: the weakest),
        or the tokens joined do (spacing varies). Candidates: those of the rarest token (words
        in different fields: 도미노 피자) and of the joined tokens (a typo in a common word;
        the words in another order lose only the trigrams across their boundaries)."""
        seg = self.seg
        driver = min(tokens, key=self._rarity)
        driver_ents = np.concatenate([
            self._top_entries(*self._all_candidates(driver), _MULTI_ITEMS),
            self._top_entries(*self._all_candidates(joined), _MULTI_ITEMS // 2)])
        items = np.unique(seg.ent_item[driver_ents]).astype(np.int64)
        if len(items) == 0:
            return _Scored.empty()
        ents = seg.entries_of_items(items)
        owner = np.searchsorted(items, seg.ent_item[ents])

        def per_item(token: Token, alive: npt.NDArray[np.bool_] | None = None
                     ) -> tuple[F32, npt.NDArray[np.uint8]]:
            """Best score and kind per item (0 for the items not ``alive``: not verified)."""
            mine, whose = (ents, owner) if alive is None else (ents[alive[owner]],
                                                                owner[alive[owner]])
            best = np.zeros(len(items), dtype=np.float32)
            kind = np.full(len(items), fm.FUZZY, dtype=np.uint8)
            if len(mine) == 0:
                return best, kind
            scores, how = self._score_entries(token, mine)
            np.maximum.at(best, whose, scores)
            is_best = (scores >= best[whose]) & (scores > 0)
            kind[whose[is_best]] = how[is_best]
            return best, kind

        # Every token must match: the most selective first, each verified only on the items
        # that matched all before it (an item that missed one scores by the joined tokens).
        total = np.zeros(len(items), dtype=np.float32)
        weakest = np.zeros(len(items), dtype=np.uint8)
        matched = np.ones(len(items), dtype=bool)
        for token in sorted(tokens, key=self._rarity):
            best, kind = per_item(token, None if matched.all() else matched)
            matched &= best > 0
            total += best
            weakest = np.maximum(weakest, kind)
            if not matched.any():
                break
        score = np.where(matched, 0.97 * total / len(tokens), 0).astype(np.float32)
        joined_best, joined_kind = per_item(joined)
        use_joined = joined_best > score
        score = np.maximum(score, joined_best)
        how = np.where(use_joined, joined_kind, weakest).astype(np.uint8)
        keep = np.flatnonzero(score > 0)
        return _Scored(seg.item_ext[items[keep]], score[keep], how[keep])
