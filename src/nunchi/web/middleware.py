"""ASGI middleware: request ids and the last-resort error answer, the body-size limit, and
strict JSON bodies.

All are plain ASGI callables (no ``BaseHTTPMiddleware``), so streamed bodies pass through
untouched and exceptions keep their types.
"""

from __future__ import annotations

import logging
import re

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nunchi import strictjson
from nunchi.web.errors import (
    REQUEST_ID_HEADER,
    PayloadTooLarge,
    error_body,
    error_response,
    new_request_id,
    payload_too_large_message,
    unexpected_error,
)

__all__ = ["BodySizeLimitMiddleware", "RequestContextMiddleware", "StrictJSONMiddleware"]

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


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class StrictJSONMiddleware:
    """Refuses JSON request bodies that parse but cannot be stored or answered faithfully
    (lone surrogates, NUL, ``NaN``/``Infinity``, numbers out of range, duplicate keys, deep
    nesting: :mod:`nunchi.strictjson`) with 422 ``invalid_input`` before any route runs, so
    nothing of them is stored. Bodies that are not JSON at all pass on to the route, whose
    answer is 400 ``malformed_json``. Run it inside the body-size limit."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call."""
        if (
            scope["type"] != "http"
            or scope["method"] not in _BODY_METHODS
            or not _is_json(Headers(scope=scope).get("content-type", ""))
        ):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay(message, receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body.strip():
            try:
                strictjson.loads(body)
            except strictjson.InvalidDocument as e:
                await self._refuse(scope, receive, send, e)
                return
            except ValueError:
                pass  # not JSON: the route answers 400 malformed_json
        last: Message = {"type": "http.request", "body": body, "more_body": False}
        await self.app(scope, _replay(last, receive), send)

    @staticmethod
    async def _refuse(
        scope: Scope, receive: Receive, send: Send, error: strictjson.InvalidDocument
    ) -> None:
        where = error.where
        field = "body" + ("" if not where or where.startswith("[") else ".") + where
        response = error_response(
            Request(scope, receive),
            422,
            "invalid_input",
            f"the request body is refused: {error}. Fix it and send it again",
            details=[{"field": field, "message": error.problem, "type": "json_refused"}],
        )
        await response(scope, receive, send)


def _replay(first: Message, receive: Receive) -> Receive:
    """A ``receive`` that hands out ``first`` once, then defers to ``receive``."""
    pending = [first]

    async def replayed() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replayed
