"""Scoring chat in batches: profanity (with the exact spans and the masked text), polarity
(positive / neutral / negative: the chat layer over the review model) and keywords (the word
cloud), all vectorised over a poll's messages.

Scoring is CPU work and Python threads share one core. Under ``nunchi up`` on two or more cores
the scoring stage runs in a worker process of its own (``Stage.own_process``), so it scores in
its own thread; a process may also hand the scoring to a small pool of scorer processes
(``NUNCHI_CHAT_SCORERS``), the stage's thread then only waiting for the results. It lives with
the analyzers, not in the chat app, so a scorer process imports the analyzers only.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

__all__ = ["ChatScorer", "Scores", "ScoringPool", "score_texts"]

_WORD_CACHE = 65_536
"""Distinct words whose keywords a scorer keeps (chat's words repeat: see KeywordExtractor)."""


@dataclass(frozen=True, slots=True)
class Scores:
    """What the analyzers say of one message."""

    profane: bool
    profanity: float
    spans: tuple[tuple[int, int], ...]
    masked: str
    polarity: str
    """``positive``, ``neutral`` or ``negative``."""
    polarity_score: float
    """P(positive) + P(neutral) / 2: 0.5 is neutral ground."""
    keywords: tuple[str, ...]


class ChatScorer:
    """The analyzers, loaded on first use (once per process, thread-safe), with the scores of
    the ``cache_size`` most recent distinct texts kept: chat repeats itself (ㅋㅋㅋㅋ, GG,
    안녕하세요; the shipped sample has 3,289 distinct texts in 7,797 messages)."""

    def __init__(self, cache_size: int = 8192) -> None:
        self._lock = threading.Lock()
        self._parts: tuple[Any, Any, Any] | None = None
        self._cache: OrderedDict[str, Scores] = OrderedDict()
        self._cache_size = cache_size

    def _load(self) -> tuple[Any, Any, Any]:
        with self._lock:
            if self._parts is None:
                from nunchi.analyzers.text.chat_polarity import ChatPolarity
                from nunchi.analyzers.text.keywords import KeywordExtractor
                from nunchi.analyzers.text.profanity import ProfanityDetector

                keywords = KeywordExtractor(by_word=True, cache_size=_WORD_CACHE)
                self._parts = (ProfanityDetector.load(), ChatPolarity.load(), keywords)
            return self._parts

    def score(self, texts: Sequence[str]) -> list[Scores]:
        """One :class:`Scores` per text, in order."""
        if not texts:
            return []
        with self._lock:
            known = {t: self._cache[t] for t in set(texts) if t in self._cache}
            for t in known:
                self._cache.move_to_end(t)
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            fresh = dict(zip(missing, self._score(missing), strict=True))
            with self._lock:
                self._cache.update(fresh)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
            known.update(fresh)
        return [known[t] for t in texts]

    def _score(self, texts: Sequence[str]) -> list[Scores]:
        profanity, polarity, keywords = self._load()
        bad = profanity.score_batch(list(texts))
        moods = polarity.score_batch(texts)
        words = keywords.extract_batch(texts)
        return [
            Scores(
                profane=b.profane,
                profanity=round(float(b.score), 4),
                spans=tuple((int(s), int(e)) for s, e in b.spans),
                masked=b.masked,
                polarity=m.label,
                polarity_score=round(float(m.score), 4),
                keywords=tuple(w),
            )
            for b, m, w in zip(bad, moods, words, strict=True)
        ]


_SHARED = ChatScorer()


def score_texts(texts: Sequence[str]) -> list[Scores]:
    """Score with this process's shared scorer (the function a scorer process runs)."""
    return _SHARED.score(texts)


def _exit_with_parent(parent: int) -> None:
    """End this scorer process when the process that started it is gone (a ``kill -9`` of a
    worker must not leave its scorers behind)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="nunchi-scorer-parent", daemon=True).start()


def _warm_up(parent: int) -> None:
    _exit_with_parent(parent)
    _SHARED.score(["준비"])


class ScoringPool:
    """Scores in ``processes`` scorer processes (0: in the calling thread). The processes
    start on the first batch (spawned, not forked: the parent has threads) and load the
    models once; :meth:`close` ends them."""

    def __init__(self, processes: int) -> None:
        if processes < 0:
            raise ValueError("processes must be 0 or more")
        self.processes = processes
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                context = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(
                    self.processes,
                    mp_context=context,
                    initializer=_warm_up,
                    initargs=(os.getpid(),),
                )
            return self._pool

    def score(self, texts: Sequence[str]) -> list[Scores]:
        """One :class:`Scores` per text, in order (split across the processes)."""
        if self.processes == 0 or not texts:
            return score_texts(texts)
        pool = self._executor()
        parts = [list(texts[i :: self.processes]) for i in range(self.processes)]
        futures = [pool.submit(score_texts, part) for part in parts if part]
        scored = [f.result() for f in futures]
        out: list[Scores] = [None] * len(texts)  # type: ignore[list-item]
        for offset, results in enumerate(scored):
            out[offset :: self.processes] = results
        return out

    def close(self) -> None:
        """End the scorer processes (a no-op when none started)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

