"""API authentication: ``Authorization: Bearer <key>`` checked by :func:`require_scope`.

Missing or unusable credentials answer 401 ``unauthorized`` with a ``WWW-Authenticate``
challenge; a valid key without the needed scope answers 403 ``forbidden``. While
``settings.auth_disabled`` is set every request acts as the ``anonymous`` principal with
every scope (allowed on a loopback address only); browsers' cross-site requests that change
state are then refused, since no key stands in their way (:func:`~nunchi.web.origin.same_origin`).
The principal's name is what services record as the ``actor`` (e.g. on retry).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Annotated, Any

from fastapi import Depends, Request, WebSocket
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from nunchi.config import Settings
from nunchi.errors import Forbidden, InvalidInput, Unauthorized
from nunchi.web.deps import web_state
from nunchi.web.keys import ANONYMOUS, SCOPES, Principal
from nunchi.web.origin import is_loopback_host, same_origin

__all__ = [
    "PRIVATE_SCOPE",
    "AdminPrincipal",
    "BearerChallenge",
    "ReadPrincipal",
    "SubmitPrincipal",
    "authenticate_socket",
    "bearer_scheme",
    "check_auth_mode",
    "current_principal",
    "require_scope",
]

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

PRIVATE_SCOPE = "admin"
"""Scope that sees what may carry secrets: callback URLs in full, tracebacks (server paths)
and the webhook delivery log. Other keys see a callback URL's origin only."""

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key made with `nunchi keys create`, sent as `Authorization: Bearer nk_…`.",
)


def check_auth_mode(settings: Settings) -> None:
    """Refuse ``auth_disabled`` unless the server listens on a loopback address only."""
    if settings.auth_disabled and not is_loopback_host(settings.host):
        raise InvalidInput(
            "NUNCHI_AUTH_DISABLED serves the API without keys, so it is allowed only on a "
            f"loopback address; this server would listen on {settings.host}. Bind to "
            "127.0.0.1 (--host 127.0.0.1) or unset NUNCHI_AUTH_DISABLED and use API keys"
        )


class BearerChallenge(Unauthorized):
    """401 with a specific ``WWW-Authenticate`` challenge (RFC 6750)."""

    def __init__(self, message: str, error: str | None = None) -> None:
        super().__init__(message)
        challenge = 'Bearer realm="nunchi"'
        if error:
            challenge += f', error="{error}"'
        self.headers: Mapping[str, str] = {"WWW-Authenticate": challenge}


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    """The principal of the request's bearer key (anonymous when auth is disabled)."""
    settings: Settings = request.app.state.settings
    if settings.auth_disabled:
        if request.method not in _SAFE_METHODS and not same_origin(request):
            raise Forbidden(
                "cross-site request refused: with NUNCHI_AUTH_DISABLED the API takes changes "
                "only from this site's own pages or from clients that are not browsers"
            )
        return ANONYMOUS
    if credentials is None:
        raise BearerChallenge(
            "this endpoint needs an API key: send 'Authorization: Bearer nk_…' "
            "(make one with `nunchi keys create`)"
        )
    keys = web_state(request).keys
    try:
        principal = await run_in_threadpool(keys.verify, credentials.credentials)
    except Unauthorized as e:
        raise BearerChallenge(str(e), error="invalid_token") from e
    request.state.principal = principal
    return principal


def require_scope(scope: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A FastAPI dependency that yields the caller's :class:`Principal` when its key grants
    ``scope`` (``admin`` implies every scope, ``submit`` implies ``read``)."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; choose from {SCOPES}")

    async def dependency(
        principal: Annotated[Principal, Depends(current_principal)],
    ) -> Principal:
        if not principal.allows(scope):
            raise Forbidden(
                f"the key '{principal.name}' lacks the '{scope}' scope this endpoint needs; "
                f"it has: {', '.join(sorted(principal.scopes)) or 'none'}"
            )
        return principal

    dependency.__name__ = f"require_scope_{scope}"
    return dependency


async def authenticate_socket(socket: WebSocket, scope: str) -> bool:
    """Whether a WebSocket may go on: its ``Authorization: Bearer`` key grants ``scope``
    (while auth is disabled: it comes from this site or from a non-browser client). When not,
    the socket is closed with 1008 (policy violation) and False returned."""
    settings: Settings = socket.app.state.settings
    if settings.auth_disabled:
        if same_origin(socket):
            return True
        await socket.close(code=1008, reason="cross-site connection refused")
        return False
    header = socket.headers.get("authorization", "")
    kind, _, token = header.partition(" ")
    if kind.lower() != "bearer" or not token.strip():
        await socket.close(code=1008, reason="send Authorization: Bearer nk_...")
        return False
    try:
        principal = await run_in_threadpool(web_state(socket).keys.verify, token.strip())
    except Unauthorized:
        await socket.close(code=1008, reason="invalid API key")
        return False
    if not principal.allows(scope):
        await socket.close(code=1008, reason=f"the key lacks the '{scope}' scope")
        return False
    return True


# Ready-made parameter types. Declare them at module level (as here): with postponed
# annotations FastAPI resolves a parameter's annotation in the module's globals, so an alias
# defined inside a function is not found and the parameter silently becomes a query field.
AdminPrincipal = Annotated[Principal, Depends(require_scope("admin"))]
"""A route parameter holding the caller, who must have the ``admin`` scope."""
SubmitPrincipal = Annotated[Principal, Depends(require_scope("submit"))]
"""A route parameter holding the caller, who must have the ``submit`` scope."""
ReadPrincipal = Annotated[Principal, Depends(require_scope("read"))]
"""A route parameter holding the caller, who must have the ``read`` scope."""
