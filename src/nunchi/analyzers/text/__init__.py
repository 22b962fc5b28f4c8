"""Text analyzers: normalisation, profanity, sentiment and keywords (pure: no I/O but model files),
and typo-tolerant Korean search (`hangul`, `fuzzy`).

Sentiment and keywords load here; the profanity names (``ProfanityDetector``,
``ProfanityResult``) and the search names (``FuzzyIndex``, ``SearchHit``) load on first use, so
importing this package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from nunchi.analyzers.text.keywords import KeywordExtractor, SlidingWindowCounter
from nunchi.analyzers.text.sentiment import SentimentClassifier, SentimentResult

__all__ = [
    "FuzzyIndex",
    "KeywordExtractor",
    "ProfanityDetector",
    "ProfanityResult",
    "SearchHit",
    "SentimentClassifier",
    "SentimentResult",
    "SlidingWindowCounter",
]

_LAZY = {
    "FuzzyIndex": "nunchi.analyzers.text.fuzzy",
    "SearchHit": "nunchi.analyzers.text.fuzzy",
    "ProfanityDetector": "nunchi.analyzers.text.profanity",
    "ProfanityResult": "nunchi.analyzers.text.profanity",
}


def __getattr__(name: str) -> Any:
    """Load the profanity and search names on first access."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
