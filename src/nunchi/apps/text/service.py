"""TextAnalysisService: profanity, sentiment and keywords over a batch of texts.

Models load on first use (once per process, thread-safe) so an app that never analyses text
pays nothing for them. Limits are enforced before any work, with errors that say the limit.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from nunchi.errors import InvalidInput, PayloadTooLarge

__all__ = ["TASKS", "TextAnalysisService", "TextLimits"]

TASKS: Final = ("sentiment", "profanity", "keywords")
"""The analyses a caller can ask for."""


@dataclass(frozen=True)
class TextLimits:
    """Most texts per call and most characters per text."""

    max_texts: int = 1000
    max_chars: int = 5000


class TextAnalysisService:
    """Runs the requested text analyses over a batch; one result dict per text."""

    def __init__(self, limits: TextLimits | None = None) -> None:
        self.limits = limits or TextLimits()
        self._lock = threading.Lock()
        self._models: dict[str, Any] = {}

    def _model(self, task: str) -> Any:
        with self._lock:
            model = self._models.get(task)
            if model is None:
                model = _load(task)
                self._models[task] = model
            return model

    def check(self, texts: Sequence[str], tasks: Sequence[str]) -> list[str]:
        """Validate a request; returns the tasks, deduplicated, in canonical order."""
        if not texts:
            raise InvalidInput("texts is empty: send at least one text")
        if len(texts) > self.limits.max_texts:
            raise PayloadTooLarge(
                f"{len(texts)} texts in one request; the limit is {self.limits.max_texts}:"
                " split them into several requests"
            )
        for i, text in enumerate(texts):
            if len(text) > self.limits.max_chars:
                raise PayloadTooLarge(
                    f"texts[{i}] has {len(text)} characters; the limit is"
                    f" {self.limits.max_chars}: split long texts"
                )
        unknown = [t for t in tasks if t not in TASKS]
        if unknown:
            raise InvalidInput(
                f"unknown task {', '.join(map(repr, unknown))}; choose from {', '.join(TASKS)}"
            )
        chosen = [t for t in TASKS if t in tasks]
        if not chosen:
            raise InvalidInput(f"tasks is empty: choose from {', '.join(TASKS)}")
        return chosen

    def analyze(self, texts: Sequence[str], tasks: Sequence[str] = TASKS) -> list[dict[str, Any]]:
        """``[{"text", "sentiment"?: {label, score}, "profanity"?: {profane, score, spans,
        masked}, "keywords"?: [...]}, ...]`` in the order of ``texts``."""
        chosen = self.check(texts, tasks)
        out: list[dict[str, Any]] = [{"text": t} for t in texts]
        if "sentiment" in chosen:
            for row, s in zip(out, self._model("sentiment").score_batch(texts), strict=True):
                row["sentiment"] = s.to_dict()
        if "profanity" in chosen:
            for row, p in zip(out, self._model("profanity").score_batch(texts), strict=True):
                row["profanity"] = p.to_dict()
        if "keywords" in chosen:
            for row, k in zip(out, self._model("keywords").extract_batch(texts), strict=True):
                row["keywords"] = list(k)
        return out


def _load(task: str) -> Any:
    if task == "sentiment":
        from nunchi.analyzers.text.sentiment import SentimentClassifier

        return SentimentClassifier.load()
    if task == "profanity":
        from nunchi.analyzers.text.profanity import ProfanityDetector

        return ProfanityDetector.load()
    from nunchi.analyzers.text.keywords import KeywordExtractor

    return KeywordExtractor()
