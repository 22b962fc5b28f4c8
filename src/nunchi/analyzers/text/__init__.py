"""Text analyzers: normalisation, profanity, sentiment and keywords (pure: no I/O but model files).

Sentiment and keywords load here; the profanity names (``ProfanityDetector``,
``ProfanityResult``) load on first use, so importing this package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from nunchi.analyzers.text.keywords import KeywordExtractor, SlidingWindowCounter
from nunchi.analyzers.text.sentiment import SentimentClassifier, SentimentResult

__all__ = [
    "KeywordExtractor",
    "ProfanityDetector",
    "ProfanityResult",
    "SentimentClassifier",
    "SentimentResult",
    "SlidingWindowCounter",
]

_LAZY = {
    "ProfanityDetector": "nunchi.analyzers.text.profanity",
    "ProfanityResult": "nunchi.analyzers.text.profanity",
}


def __getattr__(name: str) -> Any:
    """Load the profanity names on first access."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
