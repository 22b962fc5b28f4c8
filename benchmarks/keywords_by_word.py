"""Keywords a word at a time (``KeywordExtractor(by_word=True)``, what the chat scorer uses)
against Kiwi on the whole text, over the shipped sample chat: how often a message's keywords
stay the same, how much the word counts of a word cloud overlap, and the CPU cost of both
(cold: nothing cached; warm: the same messages again, every word known). Prints one JSON line.

``python -m benchmarks.keywords_by_word``
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Sequence

from benchmarks.chat_bench import sample_lines
from benchmarks.pipeline import machine_info
from nunchi.analyzers.text.keywords import KeywordExtractor

__all__ = ["compare"]


def _timed(run: Callable[[], list[list[str]]], count: int) -> tuple[list[list[str]], float]:
    started = time.process_time()
    found = run()
    return found, round((time.process_time() - started) / count * 1e6, 1)


def compare(texts: Sequence[str]) -> dict[str, object]:
    """The figures of the module docstring for ``texts``."""
    whole = KeywordExtractor(cache_size=0)
    whole.extract_batch(["준비"])  # load Kiwi before the timing
    by_word = KeywordExtractor(by_word=True, cache_size=1 << 20)
    expected, whole_us = _timed(lambda: whole.extract_batch(texts), len(texts))
    found, cold_us = _timed(lambda: by_word.extract_batch(texts), len(texts))
    _, warm_us = _timed(lambda: by_word.extract_batch(texts), len(texts))
    a = Counter(w for words in expected for w in words)
    b = Counter(w for words in found for w in words)
    shared = sum((a & b).values())
    words = [w for t in texts for w in t.split()]
    same = sum(x == y for x, y in zip(expected, found, strict=True))
    return {
        "messages": len(texts),
        "words": len(words),
        "distinct_words": len(set(words)),
        "same_keywords_share": round(same / len(texts), 4),
        "word_count_precision": round(shared / max(sum(b.values()), 1), 4),
        "word_count_recall": round(shared / max(sum(a.values()), 1), 4),
        "whole_text_us_per_msg": whole_us,
        "by_word_cold_us_per_msg": cold_us,
        "by_word_warm_us_per_msg": warm_us,
    }


if __name__ == "__main__":
    texts = [line["text"] for line in sample_lines()]
    print(json.dumps({"bench": "keywords_by_word", "machine": machine_info(), **compare(texts)}))
