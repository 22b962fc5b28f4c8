"""Text analyzers: normalisation, profanity, sentiment and keywords (pure: no I/O but model
files, which load on first use)."""

from __future__ import annotations

from nunchi.analyzers.text.keywords import KeywordExtractor, SlidingWindowCounter
from nunchi.analyzers.text.profanity import ProfanityDetector, ProfanityResult
from nunchi.analyzers.text.sentiment import SentimentClassifier, SentimentResult

__all__ = [
    "KeywordExtractor",
    "ProfanityDetector",
    "ProfanityResult",
    "SentimentClassifier",
    "SentimentResult",
    "SlidingWindowCounter",
]
