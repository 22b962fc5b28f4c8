"""The live chat guard: watch a live stream's chat, moderate it live, dashboards, word
cloud, offenders, search, export, moderator labels and alerts."""

from __future__ import annotations

from nunchi.apps.base import App, Figure
from nunchi.apps.chat.alerts import ALERTS
from nunchi.apps.chat.api import chat_api
from nunchi.apps.chat.cli import chat_cli
from nunchi.apps.chat.notify import notify_kind
from nunchi.apps.chat.pages import chat_pages
from nunchi.apps.chat.services import ChatServices
from nunchi.apps.chat.stages import score_stage, store_stage
from nunchi.apps.chat.watches import WATCHER
from nunchi.runtime.background import threaded

__all__ = ["CHAT_APP"]

CHAT_APP: App[ChatServices] = App(
    name="chat",
    title={"ko": "라이브 채팅", "en": "Live chat"},
    summary={
        "ko": "트위치·유튜브·치지직 채팅을 실시간으로: 욕설 가림, 감성, 분당 통계, 알림.",
        "en": "Twitch, YouTube and Chzzk chat live: profanity masked, sentiment, alerts.",
    },
    package="nunchi.apps.chat",
    services=ChatServices,
    path="/chat",
    stages=lambda core, s: [
        score_stage(s.pool, core.settings.default_partitions),
        store_stage(core.sessions, core.nudges, core.settings.default_partitions),
    ],
    kinds=lambda core, s: [notify_kind()],
    background=lambda core, s: [threaded(WATCHER, s.runner.run), threaded(ALERTS, s.evaluator.run)],
    models=("nunchi.apps.chat.models",),
    migrations=True,
    api=chat_api,
    pages=chat_pages,
    cli=chat_cli,
    figure=lambda s: Figure(s.chat.live_watches(), "chat.figure", "/chat"),
    order=10,
)
