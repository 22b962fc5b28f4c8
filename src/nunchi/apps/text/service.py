"""TextAnalysisService: profanity, sentiment and keywords over a batch of texts.

Models load on first use (once per process, thread-safe) so an app that never analyses text
pays nothing for them. Limits are enforced before any work, with errors that say the limit.
A request answered while the caller waits (:meth:`TextAnalysisService.analyze_now`, the API)
is bounded further: by its total characters (about a second of work on one core) and by how
many run at once; larger work goes to a ``text.analyze`` job.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from nunchi import strictjson
from nunchi.errors import Busy, InvalidInput, PayloadTooLarge

__all__ = ["TASKS", "TextAnalysisService", "TextLimits", "TextTask"]

TextTask = Literal["sentiment", "profanity", "keywords"]
"""An analysis a caller can ask for."""
TASKS: tuple[TextTask, ...] = get_args(TextTask)
"""Every analysis, in the order results list them."""


@dataclass(frozen=True)
class TextLimits:
    """Most texts per call and most characters per text; for calls answered while the
    caller waits, most characters in all and most such calls running at once."""

    max_texts: int = 1000
    max_chars: int = 5000
    max_total_chars: int = 100_000
    """About a second of all three analyses on one core (they run at ~40,000 characters/s)."""
    concurrency: int = 1
    wait_seconds: float = 5.0
    """How long a waiting call queues for its turn before it is answered "busy"."""


class TextAnalysisService:
    """Runs the requested text analyses over a batch; one result dict per text."""

    def __init__(self, limits: TextLimits | None = None) -> None:
        self.limits = limits or TextLimits()
        self._lock = threading.Lock()
        self._models: dict[str, Any] = {}
        self._turns = threading.BoundedSemaphore(self.limits.concurrency)
        self._analysed = 0

    @property
    def analysed(self) -> int:
        """Texts this process has analysed (the figure on the app's home card)."""
        return self._analysed

    def _model(self, task: str) -> Any:
        with self._lock:
            model = self._models.get(task)
            if model is None:
                model = _load(task)
                self._models[task] = model
            return model

    def check(self, texts: Sequence[str], tasks: Sequence[str]) -> list[TextTask]:
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
        strictjson.check(list(texts), "texts")
        unknown = [t for t in tasks if t not in TASKS]
        if unknown:
            raise InvalidInput(
                f"unknown task {', '.join(map(repr, unknown))}; choose from {', '.join(TASKS)}"
            )
        chosen = [t for t in TASKS if t in tasks]
        if not chosen:
            raise InvalidInput(f"tasks is empty: choose from {', '.join(TASKS)}")
        return chosen

    def analyze_now(
        self, texts: Sequence[str], tasks: Sequence[str] = TASKS
    ) -> list[dict[str, Any]]:
        """:meth:`analyze` for a caller that waits (the API): at most ``max_total_chars`` in
        all (:class:`PayloadTooLarge` pointing to the ``text.analyze`` job otherwise) and at
        most ``concurrency`` such calls at once (:class:`Busy` after ``wait_seconds``)."""
        total = sum(len(t) for t in texts)
        if total > self.limits.max_total_chars:
            raise PayloadTooLarge(
                f"{total:,} characters in one request; at most {self.limits.max_total_chars:,} "
                "are analysed while you wait: send fewer texts, or submit the work as a job "
                "(POST /api/v1/jobs with kind 'text.analyze') and fetch its result"
            )
        chosen = self.check(texts, tasks)
        if not self._turns.acquire(timeout=self.limits.wait_seconds):
            raise Busy(
                "text analysis is busy with other requests; try again in a moment, or submit "
                "the work as a 'text.analyze' job",
                retry_after=1,
            )
        try:
            return self._run(texts, chosen)
        finally:
            self._turns.release()

    def analyze(self, texts: Sequence[str], tasks: Sequence[str] = TASKS) -> list[dict[str, Any]]:
        """``[{"text", "sentiment"?: {label, score}, "profanity"?: {profane, score, spans,
        masked}, "keywords"?: [...]}, ...]`` in the order of ``texts``."""
        return self._run(texts, self.check(texts, tasks))

    def _run(self, texts: Sequence[str], chosen: Sequence[str]) -> list[dict[str, Any]]:
        with self._lock:
            self._analysed += len(texts)
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
