"""Keywords for word clouds: nouns and foreign words via Kiwi, stop words, sliding-window counts.

``KeywordExtractor.extract(text)`` returns the meaningful words of a text in order (common and
proper nouns, Latin-script words, optionally adjective/verb stems as ``좋다``); one-character
nouns are dropped unless they are on an allow-list (``돈``, ``꿀``, ``맛``...).
``SlidingWindowCounter`` counts words over the last ``window_s`` seconds in time buckets, so
expiry costs O(1) amortised per word.
"""

from __future__ import annotations

import re
import threading
import warnings
from collections import Counter, OrderedDict, deque
from collections.abc import Iterable, Sequence
from typing import Any

from nunchi.errors import InvalidInput

__all__ = [
    "DEFAULT_STOPWORDS",
    "SINGLE_CHAR_NOUNS",
    "KeywordExtractor",
    "SlidingWindowCounter",
]

# Nouns and words that carry no topic in Korean chat and reviews (function-like nouns, time
# fillers, internet filler, the generic "movie"/"video" words of review sites).
def _words(block: str) -> frozenset[str]:
    return frozenset(block.split())


DEFAULT_STOPWORDS: frozenset[str] = _words(
    """
    것 거 게 수 등 때 더 좀 중 점 번 분 개 뭐 나 너 저 이 그 우리 저희 너희 자기 당신
    이것 그것 저것 여기 거기 저기 이거 그거 저거 이런 그런 저런 이번 저번 다음 지난
    사람 사람들 정도 경우 부분 하나 자체 내용 생각 느낌 이상 이하 이후 이전 이유 때문
    오늘 어제 내일 지금 요즘 진짜 정말 완전 너무 그냥 약간 엄청 그때 이제 다시 계속
    처음 마지막 최근 나중 언제 동안 무엇 누구 어디 얼마 하루 시간 년 월 일 시 명 원
    영화 영상 작품 평점 점수 리뷰 댓글 글 말 얘기 이야기 짓 식 쪽 편 뿐 데 줄 리 듯
    ㅋ ㅎ ㅠ ㅜ 님 분들 씨 요 네 예 아 어 오 음 흠 헐 와 우와
    the a an and or of to in on for is are was were be it this that i you he she we they
    my your me so just really very lol omg
    """
)

# One-character nouns worth keeping in a word cloud.
SINGLE_CHAR_NOUNS: frozenset[str] = _words(
    """
    돈 꿀 맛 술 밥 빵 떡 옷 책 집 차 배 눈 물 불 꽃 별 봄 땀 빛 꿈 춤 힘
    팬 골 왕 벌 약 병 법 표 짱 겜 컷 곰 개 닭 소 말 쌀 국 면 죽 김
    """
)

_NOUN_TAGS = frozenset({"NNG", "NNP"})
_WORDLIKE = re.compile(r"[가-힣A-Za-z]")
_FOREIGN_TAG = "SL"
_STEM_TAGS = frozenset({"VA", "VV"})
_kiwi_lock = threading.Lock()
_kiwi: Any = None


def _shared_kiwi() -> Any:
    """One Kiwi per process (loading its model takes about a second), in Kiwi's
    single-thread mode: a text at a time costs a third less CPU than its batch call, which
    hands the texts to a worker thread (106 vs 159 us a chat message, measured)."""
    global _kiwi
    with _kiwi_lock:
        if _kiwi is None:
            try:
                from kiwipiepy import Kiwi
            except ImportError as exc:  # pragma: no cover - kiwipiepy is a core dependency
                raise InvalidInput("keywords need kiwipiepy: pip install kiwipiepy") from exc
            with warnings.catch_warnings():  # 0 is single-thread mode since 0.21: meant
                warnings.simplefilter("ignore", DeprecationWarning)
                _kiwi = Kiwi(num_workers=0)
        return _kiwi


class KeywordExtractor:
    """Extract word-cloud keywords from Korean (and mixed Latin-script) text.

    ``stopwords`` replaces :data:`DEFAULT_STOPWORDS` when given; ``keep_single`` replaces the
    one-character allow-list; ``include_stems`` adds adjective/verb stems as dictionary forms
    (``재밌`` -> ``재밌다``). Results of recent texts are cached (chat repeats itself a lot).

    ``by_word`` (for chat) analyses each space-separated word on its own and caches the words
    instead of the texts: chat's words repeat far more often than its messages (the shipped
    sample chat: 24,824 words, 6,725 distinct), so most words of a new message are known.
    A text's keywords are then its words' keywords in order, the same wherever the text is
    scored, without Kiwi's context across words (docs/models.md, "Keywords", measures how
    often that changes the result).
    """

    def __init__(
        self,
        stopwords: Iterable[str] | None = None,
        *,
        keep_single: Iterable[str] | None = None,
        include_stems: bool = False,
        min_length: int = 1,
        cache_size: int = 4096,
        by_word: bool = False,
    ) -> None:
        """Configure the extractor; the Kiwi model is loaded on first use."""
        if min_length < 1:
            raise InvalidInput("min_length must be at least 1")
        self.stopwords = frozenset(w.lower() for w in (stopwords or DEFAULT_STOPWORDS))
        self.keep_single = frozenset(keep_single if keep_single is not None else SINGLE_CHAR_NOUNS)
        self.include_stems = include_stems
        self.min_length = min_length
        self.by_word = by_word
        self._cache: OrderedDict[str, list[str]] = OrderedDict()
        self._cache_size = max(cache_size, 0)
        self._cache_lock = threading.Lock()

    def _words(self, tokens: Sequence[Any]) -> list[str]:
        words: list[str] = []
        for token in tokens:
            tag = token.tag
            if tag in _NOUN_TAGS:
                word = token.form
                if len(word) == 1 and word not in self.keep_single:
                    continue
            elif tag == _FOREIGN_TAG:
                word = token.form.lower()
                if len(word) < 2:
                    continue
            elif self.include_stems and tag.split("-")[0] in _STEM_TAGS:
                word = token.form + "다"
            else:
                continue
            if len(word) >= self.min_length and word not in self.stopwords:
                words.append(word)
        return words

    def _cached(self, text: str) -> list[str] | None:
        with self._cache_lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
            return hit

    def _remember(self, text: str, words: list[str]) -> None:
        if not self._cache_size:
            return
        with self._cache_lock:
            self._cache[text] = words
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def extract(self, text: str) -> list[str]:
        """Keywords of one text, in order of appearance (repeats kept, for counting)."""
        return self.extract_batch([text])[0]

    def extract_batch(self, texts: Sequence[str]) -> list[list[str]]:
        """Keywords of many texts; one list per text, in order."""
        if isinstance(texts, str):
            raise InvalidInput("expected a list of texts, got one string: use extract()")
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise InvalidInput(f"text #{i} is {type(text).__name__}, expected str")
        if self.by_word:
            return self._extract_by_word(texts)
        results: list[list[str] | None] = []
        todo: list[int] = []
        for i, text in enumerate(texts):
            # No Hangul syllable and no Latin letter (laughter, emoji, numbers): no keyword.
            hit = self._cached(text) if _WORDLIKE.search(text) else []
            results.append(None if hit is None else list(hit))
            if hit is None:
                todo.append(i)
        if todo:
            kiwi = _shared_kiwi()
            for i in todo:
                tokens = kiwi.tokenize(texts[i])
                words = self._words(tokens)
                self._remember(texts[i], words)
                results[i] = list(words)
        return [words if words is not None else [] for words in results]

    def _extract_by_word(self, texts: Sequence[str]) -> list[list[str]]:
        split = [text.split() for text in texts]
        found: dict[str, list[str]] = {}
        with self._cache_lock:
            for words in split:
                for word in words:
                    if word not in found and (hit := self._cache.get(word)) is not None:
                        self._cache.move_to_end(word)
                        found[word] = hit
        missing = dict.fromkeys(w for words in split for w in words if w not in found)
        if missing:
            kiwi = _shared_kiwi()
            for word in missing:
                keywords = self._words(kiwi.tokenize(word)) if _WORDLIKE.search(word) else []
                self._remember(word, keywords)
                found[word] = keywords
        return [[k for word in words for k in found[word]] for words in split]


class SlidingWindowCounter:
    """Word counts over the last ``window_s`` seconds, kept in ``bucket_s``-wide time buckets.

    ``add(words, at)`` counts words at time ``at`` (seconds, any clock as long as it is the same
    for ``top``); ``top(n, now)`` drops buckets older than the window and returns the ``n`` most
    frequent words. A bucket is dropped whole, so the window is exact to one bucket width.
    Thread-safe.
    """

    def __init__(self, window_s: float, bucket_s: float | None = None) -> None:
        """``bucket_s`` defaults to a sixtieth of the window (at least 0.1 s)."""
        if window_s <= 0:
            raise InvalidInput("window_s must be positive")
        width = bucket_s if bucket_s is not None else max(window_s / 60.0, 0.1)
        if width <= 0 or width > window_s:
            raise InvalidInput("bucket_s must be positive and no larger than window_s")
        self.window_s = float(window_s)
        self.bucket_s = float(width)
        self._span = max(round(window_s / width), 1)  # buckets per window
        self._buckets: deque[tuple[int, Counter[str]]] = deque()
        self._total: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _index(self, at: float) -> int:
        return int(at // self.bucket_s)

    def _expire(self, newest: int) -> None:
        oldest_kept = newest - self._span + 1
        while self._buckets and self._buckets[0][0] < oldest_kept:
            _, counts = self._buckets.popleft()
            self._total.subtract(counts)
            for word in counts:
                if self._total[word] <= 0:
                    del self._total[word]

    def add(self, words: Iterable[str], at: float) -> None:
        """Count ``words`` at time ``at``; words older than the window are ignored."""
        items = list(words)
        index = self._index(at)
        with self._lock:
            if not self._buckets or index > self._buckets[-1][0]:
                self._buckets.append((index, Counter(items)))
                self._total.update(items)
                self._expire(index)
                return
            if index <= self._buckets[-1][0] - self._span:
                return  # older than the window
            # A late arrival: its bucket is near the end (the deque is ordered by index).
            for pos in range(len(self._buckets) - 1, -1, -1):
                bucket_index, counts = self._buckets[pos]
                if bucket_index == index:
                    counts.update(items)
                    break
                if bucket_index < index:
                    self._buckets.insert(pos + 1, (index, Counter(items)))
                    break
            else:
                self._buckets.appendleft((index, Counter(items)))
            self._total.update(items)

    def top(self, n: int = 20, now: float | None = None) -> list[tuple[str, int]]:
        """The ``n`` most frequent words in the window ending at ``now`` (default: newest add)."""
        if n < 0:
            raise InvalidInput("n must be zero or more")
        with self._lock:
            if now is not None:
                self._expire(self._index(now))
            return self._total.most_common(n)

    def __len__(self) -> int:
        """Number of distinct words in the window."""
        with self._lock:
            return len(self._total)
