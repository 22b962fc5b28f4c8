"""The text app's API (mounted under ``/api/v1/text``): ``POST /analyze`` scores texts while
the caller waits."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from nunchi.apps.base import App
from nunchi.apps.text.service import TASKS, TextAnalysisService, TextTask
from nunchi.web.auth import SubmitPrincipal
from nunchi.web.deps import app_services
from nunchi.web.routes.jobs import error_responses

__all__ = ["TextAnalysisRequest", "TextAnalysisResponse", "text_api"]


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


def text_api(app: App[TextAnalysisService]) -> APIRouter:
    """The text app's API routes."""
    router = APIRouter()

    @router.post(
        "/analyze",
        response_model=TextAnalysisResponse,
        response_model_exclude_none=True,
        responses=error_responses(401, 403, 413, 422, 503),
        summary="Analyse texts: sentiment, profanity, keywords",
    )
    async def analyze_text(
        body: TextAnalysisRequest, request: Request, principal: SubmitPrincipal
    ) -> dict[str, Any]:
        """Score up to 1,000 texts of up to 5,000 characters each and 100,000 in all (413 past
        any limit: larger work goes to a ``text.analyze`` job); 503 ``busy`` with
        ``Retry-After`` while other requests hold the analysers. Profanity spans index the
        original text; ``masked`` replaces exactly those characters."""
        service = app_services(request, app)
        results = await run_in_threadpool(service.analyze_now, body.texts, body.tasks)
        return {"results": results}

    return router
