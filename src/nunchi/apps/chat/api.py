"""The chat app's API (mounted under ``/api/v1/chat``): watches, broadcasts, messages with
filters and cursor pages, minute series, offenders, keywords, moderator labels, export, and the
ingest of messages from any other platform or bot (HTTP batches and a WebSocket)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import (
    APIRouter,
    File,
    Path,
    Query,
    Request,
    UploadFile,
    WebSocket,
    WebSocketDisconnect,
)
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from nunchi.apps.base import App
from nunchi.apps.chat.schemas import (
    AlertOut,
    AlertRuleIn,
    AlertRuleOut,
    BroadcastOut,
    IngestBatch,
    MessagePage,
    MinuteOut,
    OffenderOut,
    WatchIn,
    WatchOut,
)
from nunchi.apps.chat.service import MAX_PAGE, MessageFilter
from nunchi.apps.chat.services import ChatServices
from nunchi.errors import NunchiError
from nunchi.strictjson import loads
from nunchi.web.auth import AdminPrincipal, ReadPrincipal, SubmitPrincipal, authenticate_socket
from nunchi.web.deps import RowCursor, RowId, app_services
from nunchi.web.routes.jobs import error_responses
from nunchi.web.uploads import read_upload

__all__ = ["chat_api"]

Broadcast = Annotated[str, Path(description="A broadcast id, e.g. twitch:channel:2026-12-01.")]


class Ingested(BaseModel):
    """How many messages were queued."""

    queued: int


class RecordingOut(BaseModel):
    """A recorded chat that can be replayed."""

    name: str
    bytes: int
    sample: bool = Field(description="The sample chat that ships with nunchi.")


class LabelIn(BaseModel):
    """A moderator's verdict on a stored message."""

    model_config = ConfigDict(extra="forbid", strict=True)

    label: Literal["profane", "clean"]


class KeywordOut(BaseModel):
    """A word of the word cloud and how often it was said."""

    word: str
    count: int


class LabelsOut(BaseModel):
    """The labelled messages as ``text|label`` lines (1 = profane)."""

    lines: list[str] = Field(description="For `nunchi models train-profanity --extra FILE`.")


def chat_api(app: App[ChatServices]) -> APIRouter:
    """The chat app's API routes."""
    router = APIRouter()

    def services(request: Request) -> ChatServices:
        return app_services(request, app)

    @router.post(
        "/watches",
        status_code=201,
        response_model=WatchOut,
        responses=error_responses(401, 403, 422),
        summary="Watch a broadcast's chat",
    )
    async def start_watch(body: WatchIn, request: Request, _: SubmitPrincipal) -> WatchOut:
        """Start watching ``url`` (Twitch, YouTube, Chzzk, SOOP, Naver Shopping Live, or a
        replay file); a process with the chat watcher connects within a second."""
        built = services(request)
        if body.platform == "replay":  # a stored recording, by name: never a server path
            speed = 1.0 if body.speed is None else body.speed
            return await run_in_threadpool(lambda: built.start_replay(body.url, speed, body.title))
        options = {"speed": body.speed} if body.speed is not None else {}
        return await run_in_threadpool(
            lambda: built.chat.start_watch(
                body.url, platform=body.platform, title=body.title, options=options
            )
        )

    @router.get("/recordings", response_model=list[RecordingOut], summary="List recordings")
    async def list_recordings(request: Request, _: ReadPrincipal) -> list[RecordingOut]:
        """Recorded chats that can be replayed (``platform: replay``, ``url``: the name)."""
        rows = await run_in_threadpool(services(request).recordings)
        return [RecordingOut.model_validate(r) for r in rows]

    @router.post(
        "/recordings",
        status_code=201,
        response_model=RecordingOut,
        responses=error_responses(401, 403, 413, 422),
        summary="Upload a recording",
    )
    async def upload_recording(
        request: Request, _: SubmitPrincipal, file: Annotated[UploadFile, File()]
    ) -> RecordingOut:
        """A recorded chat (JSON lines or CSV with ``sent_at`` or ``offset_ms``,
        ``author_id``, ``text``...; ``.gz`` allowed), kept under the name answered."""
        built = services(request)
        data = await read_upload(file, max_bytes=built.core.settings.max_body_bytes)
        name = await run_in_threadpool(built.save_recording, file.filename or "", data)
        return RecordingOut(name=name, bytes=len(data), sample=False)

    @router.post(
        "/demo",
        status_code=201,
        response_model=WatchOut,
        responses=error_responses(401, 403, 422),
        summary="Replay the sample chat",
    )
    async def demo(
        request: Request,
        _: SubmitPrincipal,
        speed: Annotated[float, Query(gt=0, le=100, description="Times real time.")] = 4.0,
    ) -> WatchOut:
        """Replay the recorded chat that ships with nunchi, as a live broadcast."""
        return await run_in_threadpool(services(request).start_demo, speed)

    @router.get("/watches", response_model=list[WatchOut], summary="List watches")
    async def list_watches(request: Request, _: ReadPrincipal) -> list[WatchOut]:
        """Watches, newest first, with their state."""
        return await run_in_threadpool(services(request).chat.watches)

    @router.get(
        "/watches/{watch_id}",
        response_model=WatchOut,
        responses=error_responses(404),
        summary="Get a watch",
    )
    async def get_watch(watch_id: str, request: Request, _: ReadPrincipal) -> WatchOut:
        """One watch: its state (connecting, live, reconnecting, ended, failing + error)."""
        return await run_in_threadpool(services(request).chat.watch, watch_id)

    @router.post(
        "/watches/{watch_id}/stop",
        response_model=WatchOut,
        responses=error_responses(404, 409),
        summary="Stop a watch",
    )
    async def stop_watch(watch_id: str, request: Request, _: SubmitPrincipal) -> WatchOut:
        """Stop watching; the stored chat stays."""
        return await run_in_threadpool(services(request).chat.stop_watch, watch_id)

    @router.post(
        "/alerts/rules",
        status_code=201,
        response_model=AlertRuleOut,
        responses=error_responses(401, 403, 422),
        summary="Save an alert rule",
    )
    async def create_rule(body: AlertRuleIn, request: Request, _: AdminPrincipal) -> AlertRuleOut:
        """Alert on a negative spike, a profanity rate, silence or a failing source, by Slack,
        e-mail and/or a signed webhook (URLs are checked against the outbound guard now)."""
        channels: dict[str, Any] = {"slack": body.slack, "webhook": body.webhook}
        channels = {k: v for k, v in channels.items() if v}
        if body.email:
            channels["email"] = body.email
        rules = services(request).rules
        saved = await run_in_threadpool(
            lambda: rules.create(
                body.kind,
                broadcast=body.broadcast,
                params=dict(body.params),
                channels=channels,
                cooldown_s=body.cooldown_s,
            )
        )
        return AlertRuleOut.model_validate(saved)

    @router.get("/alerts/rules", response_model=list[AlertRuleOut], summary="List alert rules")
    async def list_rules(request: Request, _: ReadPrincipal) -> list[AlertRuleOut]:
        """Every rule, newest first."""
        rows = await run_in_threadpool(services(request).rules.rules)
        return [AlertRuleOut.model_validate(r) for r in rows]

    @router.post(
        "/alerts/rules/{rule_id}/{action}",
        response_model=AlertRuleOut,
        responses=error_responses(401, 403, 404),
        summary="Turn an alert rule on or off",
    )
    async def toggle_rule(
        rule_id: str,
        action: Literal["enable", "disable"],
        request: Request,
        _: AdminPrincipal,
    ) -> AlertRuleOut:
        """``enable`` or ``disable`` a rule."""
        rules = services(request).rules
        saved = await run_in_threadpool(rules.set_enabled, rule_id, action == "enable")
        return AlertRuleOut.model_validate(saved)

    @router.delete(
        "/alerts/rules/{rule_id}",
        status_code=204,
        responses=error_responses(401, 403, 404),
        summary="Delete an alert rule",
    )
    async def delete_rule(rule_id: str, request: Request, _: AdminPrincipal) -> None:
        """Remove a rule and its incidents."""
        await run_in_threadpool(services(request).rules.delete, rule_id)

    @router.get("/alerts", response_model=list[AlertOut], summary="List alerts")
    async def list_alerts(
        request: Request,
        _: ReadPrincipal,
        broadcast: Annotated[str | None, Query(max_length=200)] = None,
        state: Literal["firing", "resolved"] | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> list[AlertOut]:
        """Incidents, newest first: when each opened and resolved, what it found, the notices
        sent."""
        rules = services(request).rules
        rows = await run_in_threadpool(lambda: rules.alerts(broadcast, state=state, limit=limit))
        return [AlertOut.model_validate(r) for r in rows]

    @router.get("/broadcasts", response_model=list[BroadcastOut], summary="List broadcasts")
    async def list_broadcasts(request: Request, _: ReadPrincipal) -> list[BroadcastOut]:
        """Broadcasts, most recently active first, with their figures."""
        return await run_in_threadpool(services(request).chat.broadcasts)

    @router.get(
        "/{broadcast}",
        response_model=BroadcastOut,
        responses=error_responses(404),
        summary="Get a broadcast",
    )
    async def get_broadcast(
        broadcast: Broadcast, request: Request, _: ReadPrincipal
    ) -> BroadcastOut:
        """One broadcast's figures."""
        return await run_in_threadpool(services(request).chat.broadcast, broadcast)

    @router.get("/{broadcast}/messages", response_model=MessagePage, summary="Search messages")
    async def messages(
        broadcast: Broadcast,
        request: Request,
        _: ReadPrincipal,
        author: Annotated[str | None, Query(max_length=200)] = None,
        q: Annotated[str | None, Query(max_length=200, description="Text starts with.")] = None,
        profane: bool | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        cursor: RowCursor = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    ) -> MessagePage:
        """Stored messages, newest first, by author, text, profanity and time."""
        where = MessageFilter(author=author, text=q, profane=profane, since=since, until=until)
        chat = services(request).chat
        return await run_in_threadpool(
            lambda: chat.messages(broadcast, where, cursor=cursor, limit=limit)
        )

    @router.post(
        "/{broadcast}/messages",
        status_code=202,
        response_model=Ingested,
        responses=error_responses(401, 403, 413, 422),
        summary="Send messages",
    )
    async def ingest(
        broadcast: Broadcast, body: IngestBatch, request: Request, _: SubmitPrincipal
    ) -> Ingested:
        """Queue messages of any other platform or bot (a batch: the whole batch is refused
        when one message is; a message id seen before is stored once)."""
        n = await run_in_threadpool(services(request).ingest, broadcast, body)
        return Ingested(queued=n)

    @router.websocket("/{broadcast}/ws")
    async def ingest_socket(broadcast: str, socket: WebSocket) -> None:
        """Each text frame is a batch as for ``POST /{broadcast}/messages``; each answer is
        ``{"queued": n}`` or ``{"error": {...}}`` (the socket stays open)."""
        if not await authenticate_socket(socket, "submit"):
            return
        await socket.accept()
        chat = app_services(socket, app)
        try:
            while True:
                raw = await socket.receive_text()
                try:
                    body = IngestBatch.model_validate(loads(raw))
                    n = await run_in_threadpool(chat.ingest, broadcast, body)
                    await socket.send_json({"queued": n})
                except (ValidationError, ValueError, NunchiError) as e:
                    await socket.send_json({"error": _error(e)})
        except WebSocketDisconnect:
            return

    @router.get("/{broadcast}/minutes", response_model=list[MinuteOut], summary="Minute series")
    async def minutes(
        broadcast: Broadcast,
        request: Request,
        _: ReadPrincipal,
        last: Annotated[int, Query(ge=1, le=24 * 60)] = 60,
    ) -> list[MinuteOut]:
        """Messages, profane, positive, neutral and negative per minute (oldest first)."""
        return await run_in_threadpool(services(request).chat.minutes, broadcast, last)

    @router.get("/{broadcast}/offenders", response_model=list[OffenderOut], summary="Offenders")
    async def offenders(
        broadcast: Broadcast,
        request: Request,
        _: ReadPrincipal,
        min_profane: Annotated[int, Query(ge=1, le=10_000)] = 3,
    ) -> list[OffenderOut]:
        """Authors with at least ``min_profane`` profane messages (for sanctions)."""
        return await run_in_threadpool(services(request).chat.offenders, broadcast, min_profane)

    @router.get("/{broadcast}/keywords", response_model=list[KeywordOut], summary="Word cloud")
    async def keywords(
        broadcast: Broadcast,
        request: Request,
        _: ReadPrincipal,
        minutes: Annotated[int, Query(ge=1, le=24 * 60)] = 5,
    ) -> list[KeywordOut]:
        """The most said words of the last minutes."""
        words = await run_in_threadpool(services(request).chat.keywords, broadcast, minutes)
        return [KeywordOut(word=w, count=n) for w, n in words]

    @router.get("/{broadcast}/export.csv", summary="Export the stored chat as CSV")
    async def export(broadcast: Broadcast, request: Request, _: ReadPrincipal) -> StreamingResponse:
        """Every stored message of the broadcast (UTF-8 with BOM; cells that a spreadsheet
        would run as a formula start with an apostrophe)."""
        chat = services(request).chat
        await run_in_threadpool(chat.broadcast, broadcast)  # 404 before streaming
        filename = "".join(c if c.isalnum() else "_" for c in broadcast)[:80] + ".csv"
        return StreamingResponse(
            chat.export_csv(broadcast),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    @router.post("/messages/{row}/label", status_code=204, summary="Label a message")
    async def label(row: RowId, body: LabelIn, request: Request, who: SubmitPrincipal) -> None:
        """A moderator's verdict (profane / clean), kept as training data for the detector."""
        await run_in_threadpool(services(request).chat.label, row, body.label, who.name)

    @router.get("/labels/export", response_model=LabelsOut, summary="Export moderator labels")
    async def labels(request: Request, _: AdminPrincipal) -> LabelsOut:
        """Every labelled message as a ``text|label`` line (the curse-data format)."""
        lines = await run_in_threadpool(lambda: list(services(request).chat.labels_export()))
        return LabelsOut(lines=[line.rstrip("\n") for line in lines])

    return router


def _error(e: Exception) -> dict[str, object]:
    if isinstance(e, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()[:5]
        )
        return {"code": "invalid_input", "message": f"the batch is invalid: {problems}"}
    if isinstance(e, NunchiError):
        return {"code": e.code, "message": str(e)}
    return {"code": "malformed_json", "message": f"the frame is not JSON: {e}"}
