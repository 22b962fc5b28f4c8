"""Live updates over server-sent events (SSE), one helper for every page that moves by itself.

A page opens ``new EventSource(url)`` (``static/live.js`` does it for elements marked
``data-live``); the route answers :func:`event_stream` with

- ``fetch(cursor)``: what changed since ``cursor`` (the id of the last event the browser got,
  ``Last-Event-ID`` on a reconnect, or ``None`` at first), as events plus the new cursor. It
  reads the store (in a worker thread), so every stream is correct on its own and resuming
  after a dropped connection sends exactly what was missed;
- the channels to listen on (:class:`~nunchi.runtime.nudges.Nudges`): a stage of this process
  that changes something nudges them and the stream fetches at once; without a nudge it checks
  again every ``interval`` seconds (changes made by other processes);
- ``min_gap`` spaces fetches out (a stream nudged a thousand times a second fetches a few
  times); a comment line every ``heartbeat`` seconds keeps proxies from closing an idle
  stream, and ``max_seconds`` ends a stream so that the browser reconnects (resuming from its
  last event).

A client that goes away costs nothing: its task ends, its subscription closes.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import StreamingResponse

from nunchi.runtime.nudges import Nudges

__all__ = ["Fetch", "ServerEvent", "event_stream"]

_HEADERS = {
    "Cache-Control": "no-store",
    "X-Accel-Buffering": "no",  # nginx: pass events through as they come
}


@dataclass(frozen=True)
class ServerEvent:
    """One event: its type (``event:``), JSON-able data, and the id a reconnect resumes from."""

    data: Any
    event: str = "message"
    id: str | None = None

    def encode(self) -> bytes:
        """The event in the SSE wire format (data as one line of JSON)."""
        lines = []
        if self.id is not None:
            lines.append(f"id: {_one_line(self.id)}")
        if self.event != "message":
            lines.append(f"event: {_one_line(self.event)}")
        payload = json.dumps(self.data, ensure_ascii=False, separators=(",", ":"))
        lines.append(f"data: {payload}")  # json.dumps never emits a raw newline
        return ("\n".join(lines) + "\n\n").encode("utf-8")


def _one_line(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ")


Fetch = Callable[[str | None], tuple[Sequence[ServerEvent], str | None]]
"""``fetch(cursor) -> (events since cursor, new cursor)``; runs in a worker thread."""


def _cursor_of(request: Request) -> str | None:
    value = request.headers.get("last-event-id") or request.query_params.get("after")
    if value is None:
        return None
    value = value.strip()
    return value[:200] if value else None


def event_stream(
    request: Request,
    fetch: Fetch,
    *,
    nudges: Nudges,
    channels: Sequence[str],
    interval: float = 2.0,
    min_gap: float = 0.0,
    heartbeat: float = 15.0,
    max_seconds: float = 300.0,
    retry_ms: int = 2000,
) -> StreamingResponse:
    """The SSE response of one live view (see the module docstring)."""
    cursor = _cursor_of(request)
    deadline = time.monotonic() + max_seconds if math.isfinite(max_seconds) else math.inf

    async def stream() -> AsyncIterator[bytes]:
        nonlocal cursor
        yield f"retry: {int(retry_ms)}\n\n".encode()
        with nudges.subscribe(*channels) as subscription:
            quiet_since = time.monotonic()
            while True:
                events, cursor = await run_in_threadpool(fetch, cursor)
                for event in events:
                    yield event.encode()
                now = time.monotonic()
                if events:
                    quiet_since = now
                elif now - quiet_since >= heartbeat:
                    yield b": keep-alive\n\n"
                    quiet_since = now
                if now >= deadline or await request.is_disconnected():
                    return
                await subscription.wait(min(interval, heartbeat, max(0.0, deadline - now)))
                if min_gap > 0:  # let nudges pile up: one fetch covers them all
                    await asyncio.sleep(min_gap)

    return StreamingResponse(stream(), media_type="text/event-stream", headers=_HEADERS)
