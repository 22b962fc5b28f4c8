"""The text app's page: type or paste texts, see their sentiment, profanity (masked, with the
original one click away) and keywords."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from nunchi.apps.base import App
from nunchi.apps.text.service import TASKS, TextAnalysisService
from nunchi.web.deps import app_services
from nunchi.web.pages.rendering import render
from nunchi.web.pages.security import check_csrf

__all__ = ["text_pages"]


def _segments(text: str, spans: list[tuple[int, int]]) -> list[dict[str, Any]]:
    """``text`` cut at the profane spans: ``[{"text", "profane"}]`` (rendered escaped)."""
    parts: list[dict[str, Any]] = []
    at = 0
    for start, end in sorted(spans):
        if start > at:
            parts.append({"text": text[at:start], "profane": False})
        parts.append({"text": text[start:end], "profane": True})
        at = max(at, end)
    if at < len(text):
        parts.append({"text": text[at:], "profane": False})
    return parts


def text_pages(app: App[TextAnalysisService]) -> APIRouter:
    """Routes of the text app's page."""
    router = APIRouter()

    @router.get("/text")
    def text_page(request: Request) -> Response:
        return render(
            request, "text/index.html", {"results": None, "texts": "", "tasks": list(TASKS)}
        )

    @router.post("/text/analyze")
    async def analyze(request: Request) -> Response:
        await check_csrf(request)
        form = await request.form()
        raw = form.get("texts")
        texts_field = raw if isinstance(raw, str) else ""
        tasks = [t for t in TASKS if form.get(f"task_{t}")] or list(TASKS)
        texts = [line.strip() for line in texts_field.splitlines() if line.strip()]
        service = app_services(request, app)
        results = await run_in_threadpool(service.analyze_now, texts, tasks)
        for row in results:
            profanity = row.get("profanity")
            if profanity is not None:
                row["segments"] = _segments(row["text"], [tuple(s) for s in profanity["spans"]])
        context = {"results": results, "texts": texts_field, "tasks": tasks}
        template = "text/_results.html" if request.headers.get("hx-request") else "text/index.html"
        return render(request, template, context)

    return router
