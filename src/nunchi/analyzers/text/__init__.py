"""Text analyzers: normalisation, profanity, sentiment, keywords and typo-tolerant Korean
search (pure: no I/O but model files, which load on first use)."""

from __future__ import annotations

from nunchi.analyzers.text.fuzzy import FuzzyIndex, SearchHit
from nunchi.analyzers.text.keywords import KeywordExtractor, SlidingWindowCounter
from nunchi.analyzers.text.profanity import ProfanityDetector, ProfanityResult
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
