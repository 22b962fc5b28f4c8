"""``POST /api/v1/analyze/text``: profanity, sentiment and keywords for a batch of texts."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from nunchi.apps.text import TASKS, TextAnalysisService, TextTask
from nunchi.web.auth import SubmitPrincipal
from nunchi.web.routes.jobs import ErrorEnvelope

__all__ = ["analyze_router"]


class TextAnalysisRequest(BaseModel):
    """Texts to analyse and the analyses wanted."""

    model_config = ConfigDict(extra="forbid", strict=True)

    texts: list[str] = Field(description="The texts, one per item (limits: see 413).")
    tasks: list[TextTask] = Field(default=list(TASKS), description="Analyses to run.")


class SentimentOut(BaseModel):
    """Sentiment of one text."""

    label: Literal["positive", "negative"]
    score: float = Field(description="P(positive)")


class ProfanityOut(BaseModel):
    """Profanity of one text; spans index the original text, ``masked`` hides them."""

    profane: bool
    score: float
    spans: list[tuple[int, int]]
    masked: str


class TextResult(BaseModel):
    """The analyses of one text."""

    text: str
    sentiment: SentimentOut | None = None
    profanity: ProfanityOut | None = None
    keywords: list[str] | None = None


class TextAnalysisResponse(BaseModel):
    """One result per input text, in order."""

    results: list[TextResult]


def _service(request: Request) -> TextAnalysisService:
    service: TextAnalysisService | None = getattr(request.app.state, "text", None)
    if service is None:
        service = TextAnalysisService()
        request.app.state.text = service
    return service


def analyze_router() -> APIRouter:
    """The ``/api/v1/analyze`` routes."""
    router = APIRouter(prefix="/api/v1/analyze", tags=["analyze"])
    errors: dict[int | str, dict[str, Any]] = {
        c: {"model": ErrorEnvelope} for c in (401, 403, 413, 422, 503)
    }

    @router.post(
        "/text",
        response_model=TextAnalysisResponse,
        response_model_exclude_none=True,
        responses=errors,
        summary="Analyse texts: sentiment, profanity, keywords",
    )
    def analyze_text(
        body: TextAnalysisRequest, request: Request, principal: SubmitPrincipal
    ) -> dict[str, Any]:
        """Score up to 1,000 texts of up to 5,000 characters each and 100,000 in all (413 past
        any limit: larger work goes to a ``text.analyze`` job); 503 ``busy`` with
        ``Retry-After`` while other requests hold the analysers. Profanity spans index the
        original text; ``masked`` replaces exactly those characters."""
        results = _service(request).analyze_now(body.texts, body.tasks)
        return {"results": results}

    return router
