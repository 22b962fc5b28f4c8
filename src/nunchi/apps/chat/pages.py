"""The chat app's pages: ``/chat`` (watches, broadcasts, start a watch, the demo) and a
broadcast's live page (chat masked on its exact spans with a reveal per message and for all,
mood, minute chart, word cloud, offenders, search, export, moderator labels)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import RedirectResponse, Response, StreamingResponse

from nunchi.apps.base import App
from nunchi.apps.chat.live import LiveView, minute_chart, mood, word_cloud
from nunchi.apps.chat.service import MessageFilter
from nunchi.apps.chat.services import ChatServices
from nunchi.apps.chat.topics import live_channel
from nunchi.errors import InvalidInput, NotFound
from nunchi.web.deps import RowCursor, app_services
from nunchi.web.pages.rendering import render, render_text, translator
from nunchi.web.pages.security import check_csrf, page_actor
from nunchi.web.sse import event_stream
from nunchi.web.uploads import read_upload

__all__ = ["chat_pages"]

_GAP = 0.02
"""Seconds between two pushes of one live page: at 1,000 messages/s, batches of about 50."""


_THRESHOLD = {
    "negative_spike": "factor",
    "profane_rate": "per_minute",
    "silence": "minutes",
    "source_failing": "minutes",
}
"""The parameter the page's one threshold field sets, per kind."""


def _names(request: Request) -> dict[str, str]:
    t = translator(request)
    return {
        k: t(f"chat.series.{k}") for k in ("messages", "profane", "positive", "neutral", "negative")
    }


def _chart_labels(request: Request, filename: str) -> dict[str, str]:
    t = translator(request)
    return {
        "png": t("chart.png"),
        "csv": t("chart.csv"),
        "x": t("chat.chart.minute"),
        "y": t("chat.chart.count"),
        "word": t("chat.chart.word"),
        "weight": t("chat.chart.weight"),
        "empty": t("chat.chart.empty"),
        "filename": filename,
    }


def _moment(value: str | None, name: str) -> datetime | None:
    """A search form's time (``datetime-local``: UTC, as the pages show times)."""
    if not value or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"{name} must be a date and time like 2026-12-01T10:30") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _live_href(broadcast: str) -> str:
    return "/chat/live/" + quote(broadcast, safe=":")


def chat_pages(app: App[ChatServices]) -> APIRouter:
    """Routes of the chat pages."""
    router = APIRouter()

    def services(request: Request) -> ChatServices:
        return app_services(request, app)

    @router.get("/chat")
    def index(request: Request) -> Response:
        chat = services(request).chat
        context = {
            "watches": chat.watches(50),
            "broadcasts": chat.broadcasts(50),
            "live_href": _live_href,
            "rules": services(request).rules.rules(),
            "alerts": services(request).rules.alerts(limit=20),
            "smtp": bool(request.app.state.settings.smtp_host),
        }
        return render(request, "chat/index.html", context)

    @router.post("/chat/alerts/rules")
    async def add_rule(request: Request) -> Response:
        await check_csrf(request)
        page_actor(request, "admin")
        form = await request.form()

        def text(name: str) -> str:
            value = form.get(name)
            return value.strip() if isinstance(value, str) else ""

        kind = text("kind")
        params: dict[str, Any] = {}
        threshold = text("threshold")
        if threshold:
            try:
                value = float(threshold)
            except ValueError:
                raise InvalidInput(f"the threshold must be a number, not {threshold!r}") from None
            params[_THRESHOLD.get(kind, "minutes")] = value
        channels: dict[str, Any] = {k: text(k) for k in ("slack", "webhook") if text(k)}
        if text("email"):
            channels["email"] = text("email")
        rules = services(request).rules
        await run_in_threadpool(
            lambda: rules.create(
                kind, broadcast=text("broadcast") or None, params=params, channels=channels
            )
        )
        return RedirectResponse("/chat#alerts", status_code=303)

    @router.post("/chat/alerts/rules/{rule_id}/{action}")
    async def change_rule(request: Request, rule_id: str, action: str) -> Response:
        await check_csrf(request)
        page_actor(request, "admin")
        rules = services(request).rules
        if action == "delete":
            await run_in_threadpool(rules.delete, rule_id)
        elif action in ("enable", "disable"):
            await run_in_threadpool(rules.set_enabled, rule_id, action == "enable")
        else:
            raise NotFound(f"no action {action!r}")
        return RedirectResponse("/chat#alerts", status_code=303)

    @router.post("/chat/watches")
    async def start(request: Request) -> Response:
        await check_csrf(request)
        page_actor(request)
        form = await request.form()
        url, platform, title = (form.get(k) for k in ("url", "platform", "title"))
        if not isinstance(url, str) or not url.strip():
            raise InvalidInput("give the broadcast's URL")
        chat = services(request).chat
        await run_in_threadpool(
            lambda: chat.start_watch(
                url.strip(),
                platform=platform if isinstance(platform, str) and platform else None,
                title=title if isinstance(title, str) else None,
            )
        )
        return RedirectResponse("/chat", status_code=303)

    @router.post("/chat/replay")
    async def replay(request: Request) -> Response:
        await check_csrf(request)
        page_actor(request)
        form = await request.form()
        upload, speed_text = form.get("file"), form.get("speed")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise InvalidInput("choose a recorded chat file (JSON lines or CSV)")
        try:
            speed = float(speed_text) if isinstance(speed_text, str) and speed_text else 1.0
        except ValueError:
            raise InvalidInput(f"the speed must be a number, not {speed_text!r}") from None
        built = services(request)
        data = await read_upload(upload, max_bytes=built.core.settings.max_body_bytes)
        name = await run_in_threadpool(built.save_recording, upload.filename, data)
        watch = await run_in_threadpool(built.start_replay, name, speed, None)
        return RedirectResponse(_live_href(f"replay:{watch.id}"), status_code=303)

    @router.post("/chat/demo")
    async def demo(request: Request) -> Response:
        await check_csrf(request)
        page_actor(request)
        watch = await run_in_threadpool(services(request).start_demo, 4.0)
        return RedirectResponse(_live_href(f"replay:{watch.id}"), status_code=303)

    @router.post("/chat/watches/{watch_id}/stop")
    async def stop(request: Request, watch_id: str) -> Response:
        await check_csrf(request)
        page_actor(request)
        await run_in_threadpool(services(request).chat.stop_watch, watch_id)
        return RedirectResponse("/chat", status_code=303)

    @router.get("/chat/live/{broadcast}")
    def live(request: Request, broadcast: str) -> Response:
        chat = services(request).chat
        try:
            found = chat.broadcast(broadcast)
        except NotFound:
            found = None  # a watch that has not spoken yet: the page waits for its chat
        minutes = chat.minutes(broadcast)
        context: dict[str, Any] = {
            "broadcast_id": broadcast,
            "broadcast": found,
            "mood": mood(minutes),
            "offenders": chat.offenders(broadcast),
            "minutes": minute_chart(minutes, _names(request)),
            "words": word_cloud(chat.keywords(broadcast)),
            "labels": _chart_labels(request, "chat-minutes"),
            "word_labels": _chart_labels(request, "chat-words"),
            "events": _live_href(broadcast) + "/events",
            "live_href": _live_href(broadcast),
        }
        return render(request, "chat/live.html", context)

    @router.get("/chat/live/{broadcast}/events")
    def events(request: Request, broadcast: str) -> Response:
        chat_services = services(request)
        view = LiveView(
            chat_services.chat,
            broadcast,
            lambda template, context: render_text(request, template, context),
            _names(request),
        )
        return event_stream(
            request,
            view,
            nudges=chat_services.core.nudges,
            channels=[live_channel(broadcast)],
            interval=1.0,
            min_gap=_GAP,
            max_seconds=chat_services.core.settings.live_max_seconds,
        )

    @router.get("/chat/live/{broadcast}/search")
    def search(
        request: Request,
        broadcast: str,
        author: Annotated[str | None, Query(max_length=200)] = None,
        q: Annotated[str | None, Query(max_length=200)] = None,
        profane: Annotated[str | None, Query(max_length=5)] = None,
        since: Annotated[str | None, Query(max_length=40)] = None,
        until: Annotated[str | None, Query(max_length=40)] = None,
        cursor: RowCursor = None,
    ) -> Response:
        where = MessageFilter(
            author=(author or "").strip() or None,
            text=(q or "").strip() or None,
            profane=True if profane == "1" else None,
            since=_moment(since, "since"),
            until=_moment(until, "until"),
        )
        page = services(request).chat.messages(broadcast, where, cursor=cursor, limit=100)
        context = {
            "page": page,
            "broadcast_id": broadcast,
            "live_href": _live_href(broadcast),
            "filters": {
                "author": author or "",
                "q": q or "",
                "profane": profane or "",
                "since": since or "",
                "until": until or "",
            },
        }
        return render(request, "chat/search.html", context)

    @router.get("/chat/live/{broadcast}/export.csv")
    def export(request: Request, broadcast: str) -> Response:
        chat = services(request).chat
        chat.broadcast(broadcast)
        filename = "".join(c if c.isalnum() else "_" for c in broadcast)[:80] + ".csv"
        return StreamingResponse(
            chat.export_csv(broadcast),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    @router.post("/chat/messages/{row}/label", status_code=204)
    async def label(request: Request, row: int) -> Response:
        await check_csrf(request)
        actor = page_actor(request)
        form = await request.form()
        verdict = form.get("label")
        if verdict not in ("profane", "clean"):
            raise InvalidInput("label must be 'profane' or 'clean'")
        await run_in_threadpool(services(request).chat.label, row, str(verdict), actor.name)
        return Response(status_code=204)

    return router
