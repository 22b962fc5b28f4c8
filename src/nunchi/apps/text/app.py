"""The text app: Korean text analysis (sentiment, profanity with masks, keywords) as an API,
a page, a job kind and a command."""

from __future__ import annotations

from nunchi.apps.base import App, Figure
from nunchi.apps.text.api import text_api
from nunchi.apps.text.cli import text_cli
from nunchi.apps.text.kinds import text_analyze_kind
from nunchi.apps.text.pages import text_pages
from nunchi.apps.text.service import TextAnalysisService

__all__ = ["TEXT_APP"]

TEXT_APP: App[TextAnalysisService] = App(
    name="text",
    title={"ko": "텍스트 분석", "en": "Text analysis"},
    summary={
        "ko": "한국어 문장의 감성, 욕설(가림 처리), 핵심어를 바로 분석합니다.",
        "en": "Sentiment, profanity (masked) and keywords of Korean text, at once.",
    },
    package="nunchi.apps.text",
    services=lambda core: TextAnalysisService(),
    path="/text",
    kinds=lambda core, service: [text_analyze_kind(service)],
    api=text_api,
    pages=text_pages,
    cli=text_cli,
    figure=lambda service: Figure(service.analysed, "text.figure", "/text"),
    order=90,
)
