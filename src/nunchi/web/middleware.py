"""ASGI middleware: request ids and the last-resort error answer, and the body-size limit.

Both are plain ASGI callables (no ``BaseHTTPMiddleware``), so streamed bodies pass through
untouched and exceptions keep their types.
"""

from __future__ import annotations

import logging
import re

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nunchi.web.errors import (
    REQUEST_ID_HEADER,
    PayloadTooLarge,
    error_body,
    error_response,
    new_request_id,
    payload_too_large_message,
    unexpected_error,
)

__all__ = ["BodySizeLimitMiddleware", "RequestContextMiddleware"]

log = logging.getLogger("nunchi.web")

_GOOD_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_SECURITY_HEADERS = (
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("x-frame-options", "DENY"),
)


class RequestContextMiddleware:
    """Gives every request an id (the caller's ``X-Request-ID`` when it is sane), echoes it
    on every response with a few security headers, and answers unexpected exceptions with
    the 500 envelope (the traceback is logged, never sent)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        rid = incoming if _GOOD_REQUEST_ID.match(incoming) else new_request_id()
        scope.setdefault("state", {})["request_id"] = rid
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                if REQUEST_ID_HEADER not in headers:
                    headers[REQUEST_ID_HEADER] = rid
                for name, value in _SECURITY_HEADERS:
                    if name not in headers:
                        headers[name] = value
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            if started:
                log.error("error after the response started (request %s)", rid, exc_info=True)
                raise
            try:
                response = await unexpected_error(Request(scope, receive), exc)
            except Exception:  # even the error page failed: answer with bare JSON
                log.exception("error while rendering the error response (request %s)", rid)
                response = JSONResponse(
                    error_body("internal_error", f"internal error; request id {rid}", rid),
                    status_code=500,
                )
            await response(scope, receive, send_with_headers)


class BodySizeLimitMiddleware:
    """Refuses bodies over ``max_body_bytes`` with 413 ``payload_too_large``: at once when
    ``Content-Length`` says so, else as soon as the streamed bytes pass the limit."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.limit = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise PayloadTooLarge(self.limit)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except PayloadTooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = error_response(
            request,
            413,
            "payload_too_large",
            payload_too_large_message(self.limit),
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)
