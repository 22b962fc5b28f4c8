"""Who may act on the pages, and protection against cross-site form posts.

Pages are readable without a key (they are meant for the embedded, loopback-bound default).
Actions (the retry buttons) need either ``settings.auth_disabled`` or a web session, opened
by entering an API key with the ``submit`` (or ``admin``) scope on ``/login``; the session
cookie is HttpOnly and SameSite=Strict. Every page POST must also carry the CSRF token of
the page it came from (double-submit: a cookie and a form field or ``X-CSRF-Token`` header).
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from datetime import timedelta

from starlette.requests import Request

from nunchi.config import Settings
from nunchi.errors import Forbidden, Unauthorized
from nunchi.web.keys import ANONYMOUS, KeyService, Principal

__all__ = [
    "ACTION_SCOPE",
    "CSRF_COOKIE",
    "REDELIVER_SCOPE",
    "SESSION_COOKIE",
    "SESSION_TTL",
    "check_csrf",
    "csrf_token_for",
    "page_actor",
    "viewer",
]

CSRF_COOKIE = "nunchi_csrf"
SESSION_COOKIE = "nunchi_session"
SESSION_TTL = timedelta(hours=12)
ACTION_SCOPE = "submit"
"""Scope a page action (retry) needs, the same as the API's retry routes."""
REDELIVER_SCOPE = "admin"
"""Scope the redeliver button needs, the same as the API's redeliver route."""

log = logging.getLogger("nunchi.web")

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


def csrf_token_for(request: Request) -> tuple[str, bool]:
    """The CSRF token of this browser and whether it is new (then set the cookie)."""
    cached = getattr(request.state, "csrf_token", None)
    if isinstance(cached, tuple):
        return cached[0], cached[1]
    existing = request.cookies.get(CSRF_COOKIE, "")
    result = (existing, False) if _TOKEN.match(existing) else (secrets.token_urlsafe(32), True)
    request.state.csrf_token = result
    return result


async def check_csrf(request: Request) -> None:
    """Raise :class:`Forbidden` unless the request carries this browser's CSRF token."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = request.headers.get("x-csrf-token", "")
    if not sent:
        form = await request.form()
        value = form.get("csrf_token", "")
        sent = value if isinstance(value, str) else ""
    if not (_TOKEN.match(cookie) and hmac.compare_digest(cookie, sent)):
        raise Forbidden(
            "this form is out of date or was sent from another site; reload the page and try again"
        )


def _keys(request: Request) -> KeyService | None:
    keys: KeyService | None = getattr(request.app.state, "keys", None)
    return keys


def viewer(request: Request) -> Principal | None:
    """The principal of this browser's web session, if it has a live one."""
    cached = getattr(request.state, "viewer", False)
    if cached is not False:
        return cached if isinstance(cached, Principal) else None
    token = request.cookies.get(SESSION_COOKIE, "")
    keys = _keys(request)
    found: Principal | None = None
    if token and keys is not None:
        try:
            found = keys.session_principal(token)
        except Exception:  # the store is down: render the page as for a stranger
            log.warning("cannot check the web session", exc_info=True)
    request.state.viewer = found
    return found


def page_actor(request: Request, scope: str = ACTION_SCOPE) -> Principal:
    """Who performs a page action: anyone while auth is disabled, else the logged-in key,
    which must grant ``scope`` (the scope the API's route for the same action needs)."""
    settings: Settings = request.app.state.settings
    if settings.auth_disabled:
        return ANONYMOUS
    principal = viewer(request)
    if principal is None:
        raise Unauthorized("log in with an API key on /login to do this")
    if not principal.allows(scope):
        raise Forbidden(
            f"the key '{principal.name}' lacks the '{scope}' scope needed for this action"
        )
    return principal


def new_session_token(keys: KeyService, principal: Principal) -> str:
    """Open a web session for ``principal``; returns the cookie value."""
    return keys.open_session(principal, SESSION_TTL)
