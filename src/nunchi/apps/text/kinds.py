"""The text app's job kind: ``text.analyze``, for more text than the API analyses while the
caller waits (the API's limit is :attr:`TextLimits.max_total_chars`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from nunchi.apps.text.service import TASKS, TextAnalysisService, TextTask
from nunchi.jobs.kinds import JobContext, JobKind
from nunchi.runtime.stage import RetryPolicy

__all__ = ["MAX_JOB_TEXTS", "TextAnalyzeInput", "text_analyze_kind"]

MAX_JOB_TEXTS = 100_000


class TextAnalyzeInput(BaseModel):
    """Input of ``text.analyze``: texts (each at most 5,000 characters) and the analyses."""

    model_config = ConfigDict(extra="forbid")

    texts: list[str] = Field(min_length=1, max_length=MAX_JOB_TEXTS)
    tasks: list[TextTask] = Field(default_factory=lambda: list(TASKS), min_length=1)


def text_analyze_kind(service: TextAnalysisService) -> JobKind[TextAnalyzeInput]:
    """``text.analyze``: the result is ``{"results": [...]}``, one per text, as
    ``POST /api/v1/text/analyze`` answers (analysed in chunks of the API's batch size)."""

    def run(ctx: JobContext, data: TextAnalyzeInput) -> dict[str, Any]:
        step = service.limits.max_texts
        results: list[dict[str, Any]] = []
        for start in range(0, len(data.texts), step):
            results.extend(service.analyze(data.texts[start : start + step], data.tasks))
        return {"results": results}

    return JobKind(
        name="text.analyze",
        input_model=TextAnalyzeInput,
        run=run,
        retry=RetryPolicy(max_attempts=2, base_delay=1.0),
        description="Sentiment, profanity and keywords of many texts.",
        example={"texts": ["정말 재밌어요", "ㅅ1발 뭐야"], "tasks": ["sentiment", "profanity"]},
    )
