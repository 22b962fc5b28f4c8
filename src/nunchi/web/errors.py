"""The one error envelope of the API, and the handlers that produce it.

Every error leaves as ``{"error": {"code", "message", "details"?, "request_id"}}`` with the
matching HTTP status: nunchi's own errors carry their code and status, request validation
becomes 422 ``invalid_input`` with one detail per field, a body that is not JSON 400
``malformed_json``, routing errors 404/405, and anything unexpected 500 ``internal_error``
(with no stack trace; that is logged server-side under the request id).

Browsers asking for HTML on a page route get the same information as an HTML page (or, for
HTMX requests, a fragment) through the renderer the pages install on ``app.state``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from nunchi.errors import NunchiError, Unauthorized

__all__ = [
    "REQUEST_ID_HEADER",
    "HtmlErrorRenderer",
    "PayloadTooLarge",
    "error_body",
    "error_response",
    "install_error_handlers",
    "is_htmx",
    "new_request_id",
    "payload_too_large_message",
    "request_id_of",
    "unexpected_error",
    "wants_html",
]

log = logging.getLogger("nunchi.web")

REQUEST_ID_HEADER = "X-Request-ID"

HtmlErrorRenderer = Callable[[Request, int, Mapping[str, Any]], Response | None]
"""Renders an error for a browser (returns None to fall back to JSON)."""

_HTTP_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    411: "length_required",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


class PayloadTooLarge(HTTPException):
    """The request body is over the configured limit (an HTTPException so FastAPI's body
    reader lets it through unchanged)."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=payload_too_large_message(limit))


def payload_too_large_message(limit: int) -> str:
    """What to tell a caller whose body is over ``limit`` bytes."""
    return (
        f"the request body is larger than the limit of {limit} bytes ({limit / 1048576:.1f} MiB);"
        " send a smaller body (split big batches) or raise NUNCHI_MAX_BODY_BYTES"
    )


def new_request_id() -> str:
    """A fresh request id."""
    return uuid.uuid4().hex


def request_id_of(request: Request) -> str:
    """The id of ``request`` (set by the request-context middleware; made up if missing)."""
    rid = request.scope.setdefault("state", {}).get("request_id")
    if not isinstance(rid, str):
        rid = new_request_id()
        request.scope["state"]["request_id"] = rid
    return rid


def error_body(
    code: str,
    message: str,
    request_id: str,
    details: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The envelope as a JSON-ready dict."""
    err: dict[str, Any] = {"code": code, "message": message}
    if details:
        err["details"] = [dict(d) for d in details]
    err["request_id"] = request_id
    return {"error": err}


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    *,
    details: Sequence[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The error as a response: HTML for a browser on a page route, else the JSON envelope."""
    rid = request_id_of(request)
    body = error_body(code, message, rid, details)
    renderer: HtmlErrorRenderer | None = getattr(request.app.state, "html_error_renderer", None)
    if renderer is not None and wants_html(request):
        html = renderer(request, status, body["error"])
        if html is not None:
            for name, value in (headers or {}).items():
                html.headers[name] = value
            html.headers[REQUEST_ID_HEADER] = rid
            return html
    out = JSONResponse(body, status_code=status, headers=dict(headers or {}))
    out.headers[REQUEST_ID_HEADER] = rid
    return out


def is_htmx(request: Request) -> bool:
    """Whether ``request`` was sent by htmx (wants a fragment)."""
    return request.headers.get("hx-request") == "true"


def wants_html(request: Request) -> bool:
    """Whether ``request`` asks for HTML (a browser or htmx) on a page route (never under
    ``/api/``)."""
    if request.url.path.startswith("/api/"):
        return False
    if is_htmx(request):
        return True
    return "text/html" in request.headers.get("accept", "")


def _field_path(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc) or "request"


async def _nunchi_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NunchiError)
    message = str(exc) or type(exc).__doc__ or exc.code
    if exc.status >= 500:
        log.warning(
            "request %s failed: %s: %s", request_id_of(request), type(exc).__name__, message
        )
    headers = dict(getattr(exc, "headers", None) or {})
    if isinstance(exc, Unauthorized):
        headers.setdefault("WWW-Authenticate", 'Bearer realm="nunchi"')
    return error_response(request, exc.status, exc.code, message, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    bad_json = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if bad_json is not None:
        where = bad_json.get("loc", ("body", 0))
        pos = where[1] if len(where) > 1 else 0
        reason = (bad_json.get("ctx") or {}).get("error", "invalid JSON")
        return error_response(
            request,
            400,
            "malformed_json",
            f"the request body is not valid JSON ({reason} at character {pos}); "
            "send a JSON document with Content-Type: application/json",
        )
    details = [
        {"field": _field_path(e.get("loc", ())), "message": str(e.get("msg", "")),
         "type": str(e.get("type", ""))}
        for e in errors
    ]  # fmt: skip
    listed = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
    more = f" (and {len(details) - 5} more)" if len(details) > 5 else ""
    message = f"the request is invalid: {listed}{more}. Fix the listed fields and send it again"
    return error_response(request, 422, "invalid_input", message, details=details)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    code = _HTTP_CODES.get(status, f"http_{status}")
    headers = dict(exc.headers or {})
    if status == 404 and exc.detail in (None, "", "Not Found"):
        message = f"nothing at {request.url.path}; the API lives under /api/v1 (see /docs)"
    elif status == 405:
        allowed = headers.get("allow") or headers.get("Allow") or ""
        message = f"{request.method} is not allowed on {request.url.path}"
        if allowed:
            message += f"; use {allowed}"
    else:
        message = str(exc.detail) if exc.detail else code.replace("_", " ")
    return error_response(request, status, code, message, headers=headers)


async def unexpected_error(request: Request, exc: BaseException) -> Response:
    """500 ``internal_error`` without internals; the traceback goes to the server log."""
    rid = request_id_of(request)
    log.error(
        "unhandled error in %s %s (request %s)",
        request.method,
        request.url.path,
        rid,
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    return error_response(
        request,
        500,
        "internal_error",
        f"something went wrong on our side; quote request id {rid} when reporting it",
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the envelope handlers on ``app``."""
    app.add_exception_handler(NunchiError, _nunchi_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    # Unexpected exceptions are caught by RequestContextMiddleware (nunchi.web.middleware),
    # which sits inside Starlette's ServerErrorMiddleware and answers with the envelope.
