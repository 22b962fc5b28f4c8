"""The in-memory search index of one catalog, kept in sync with the store.

:class:`KindIndex` holds a :class:`~nunchi.analyzers.text.fuzzy.FuzzyIndex` of a kind's
active items (built from the store on first use) and the items' all-time identification
counts (the popularity boost). Writes of this process are applied at once
(:meth:`KindIndex.refresh`); writes of other processes are picked up by a check of the
kind's ``catalog_state`` row at most every ``sync_interval`` seconds (one primary-key read),
then only the rows with a newer revision are read.

A query's matches in relevance order, without a ceiling, come from :meth:`KindIndex.ranked`:
the best 25 items, then the best 50 of the rest, then 100 at a time (the items already found are
excluded through the index's ``allowed`` filter), and so on until a stretch comes back
shorter than asked for (the index then verified every candidate worth verifying).
The sequence is the same for the same index state, so a cursor can be a position in it;
recent sequences are cached.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from nunchi.analyzers.text.fuzzy import FuzzyIndex, SearchHit
from nunchi.apps.catalog.store import CatalogStore

__all__ = ["DEFAULT_CHUNK", "FIRST_STRETCH", "KindIndex", "Ranked"]

DEFAULT_CHUNK = 100
"""Most items per stretch of a ranked sequence."""
FIRST_STRETCH = 25
"""Items of the first stretch (then twice as many each time, up to the chunk): a first page
of 20 costs one search that verifies 300 candidates, not 600 (the index's budget is twelve
per result wanted, 150 to 600)."""
_CACHE_SIZE = 64


def _texts(raw: Any) -> list[tuple[str, float]]:
    return [(str(t), float(w)) for t, w in raw] if raw else []


@dataclass
class Ranked:
    """The start of a query's relevance sequence: ids, their scores and how they matched."""

    ids: list[int] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    how: list[str] = field(default_factory=list)
    exhausted: bool = False
    stretches: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def window(self, start: int, size: int) -> list[tuple[int, float, str]]:
        """``(id, score, how_matched)`` of positions ``start`` to ``start + size``."""
        end = start + size
        with self.lock:
            return list(zip(self.ids[start:end], self.scores[start:end], self.how[start:end],
                            strict=True))


class KindIndex:
    """The fuzzy index of one catalog; see the module docstring. Thread-safe."""

    def __init__(self, store: CatalogStore, kind: str, *, sync_interval: float = 1.0,
                 chunk: int = DEFAULT_CHUNK) -> None:
        self.store = store
        self.kind = kind
        self.sync_interval = sync_interval
        self.chunk = chunk
        self._lock = threading.Lock()
        self._index: FuzzyIndex | None = None
        self._version = -1
        self._identified = -1
        self._popularity: npt.NDArray[np.float32] = np.zeros(0, np.float32)
        self._max_id = 0
        self._checked = 0.0
        self._cache: OrderedDict[tuple[str, int, int], Ranked] = OrderedDict()
        self._cache_lock = threading.Lock()

    # -- keeping in sync -----------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Whether the index was built."""
        return self._index is not None

    @property
    def stamp(self) -> tuple[int, int]:
        """The store state the index reflects: (version, identifications)."""
        return self._version, self._identified

    def ensure(self, *, force: bool = False) -> FuzzyIndex:
        """The index, built on first use and brought up to date when the last check is
        older than ``sync_interval`` (or ``force``)."""
        index = self._index
        if index is not None and not force and (
                time.monotonic() - self._checked < self.sync_interval):
            return index
        with self._lock:
            if self._index is None:
                self._build()
            elif force or time.monotonic() - self._checked >= self.sync_interval:
                self._sync()
            assert self._index is not None
            return self._index

    def refresh(self) -> None:
        """Apply this process's writes now (called after an import or identification)."""
        self.ensure(force=True)

    def _build(self) -> None:
        state = self.store.state(self.kind)
        items = [(i, _texts(t)) for i, t in self.store.all_texts(self.kind)]
        self._index = FuzzyIndex.build([(i, t) for i, t in items if t])
        self._max_id = max((i for i, _ in items), default=0)
        self._version = state.version if state else 0
        self._load_popularity(state.identified if state else 0)
        self._checked = time.monotonic()

    def _sync(self) -> None:
        assert self._index is not None
        state = self.store.state(self.kind)
        self._checked = time.monotonic()
        if state is None:
            return
        if state.version > self._version:
            self._apply(self.store.changed_since(self.kind, self._version))
            self._version = state.version
        if state.identified != self._identified:
            self._load_popularity(state.identified)

    def _apply(self, rows: Iterable[tuple[int, Any, bool]]) -> None:
        index = self._index
        assert index is not None
        for item_id, raw, active in rows:
            texts = _texts(raw)
            if active and texts:
                if item_id in index:
                    index.update(item_id, texts)
                else:
                    index.add(item_id, texts)
                self._max_id = max(self._max_id, item_id)
            else:
                index.remove(item_id)

    def _load_popularity(self, identified: int) -> None:
        counts = self.store.popularity(self.kind)
        table = np.zeros(max(self._max_id, *counts.keys(), 0) + 1 if counts else 0, np.float32)
        for item_id, n in counts.items():
            table[item_id] = n
        self._popularity = table
        self._identified = identified

    def __len__(self) -> int:
        """Items in the index."""
        return len(self._index) if self._index is not None else 0

    # -- searching -----------------------------------------------------------------------

    def search(self, query: str, limit: int,
               allowed: npt.NDArray[np.bool_] | None = None) -> list[SearchHit]:
        """The best ``limit`` items for ``query`` (popularity blended in)."""
        self.ensure()
        return self._search_now(query, limit, allowed)

    def _search_now(self, query: str, limit: int,
                    allowed: npt.NDArray[np.bool_] | None) -> list[SearchHit]:
        index = self._index
        assert index is not None
        popularity = self._popularity if len(self._popularity) else None
        return index.search(query, limit, allowed=allowed, popularity=popularity)

    def ranked(self, query: str, need: int) -> Ranked:
        """At least the first ``need`` items of ``query``'s relevance sequence (fewer when
        it ends: then ``exhausted``)."""
        self.ensure()
        key = (query, *self.stamp)
        with self._cache_lock:
            found = self._cache.get(key)
            if found is None:
                found = self._cache[key] = Ranked()
                while len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)
            else:
                self._cache.move_to_end(key)
        with found.lock:
            while len(found.ids) < need and not found.exhausted:
                self._extend(query, found)
        return found

    def _extend(self, query: str, ranked: Ranked) -> None:
        allowed: npt.NDArray[np.bool_] | None = None
        if ranked.ids:
            allowed = np.ones(self._max_id + 1, dtype=bool)
            seen = np.array(ranked.ids, dtype=np.int64)
            allowed[seen[seen <= self._max_id]] = False
        size = min(self.chunk, FIRST_STRETCH << min(ranked.stretches, 8))
        ranked.stretches += 1
        hits = self._search_now(query, size, allowed)
        if len(hits) < size:  # the index verified all it had worth verifying
            ranked.exhausted = True
        ranked.ids.extend(h.item_id for h in hits)
        ranked.scores.extend(h.score for h in hits)
        ranked.how.extend(h.how_matched for h in hits)
