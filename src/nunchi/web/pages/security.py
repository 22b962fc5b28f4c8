"""Who may read and act on the pages, and protection against cross-site form posts.

A web session is opened by entering an API key on ``/login``; its cookie is HttpOnly and
SameSite=Strict. Reading the pages needs such a session when :func:`pages_need_login` says so
(``settings.pages_login``: by default only when the server listens beyond loopback); the
session's key needs the ``read`` scope, which every key has, and for the webhook pages the
``admin`` scope, as the webhook API (deliveries carry receiver URLs and payloads). Actions
(retry, redeliver) need either ``settings.auth_disabled`` or a session whose key grants the
scope the API's route for the same action needs.

Every page POST must come from this site (:func:`~nunchi.web.origin.same_origin`: a browser's
``Origin`` / ``Sec-Fetch-Site``) and carry the CSRF token of the page it came from, in a form
field or an ``X-CSRF-Token`` header. With a web session the token is an HMAC of the session
token, which the page's script never sees (the cookie is HttpOnly), so a token planted from
another service on the same host (cookies ignore ports) or another site is worthless; before
login it is a random per-browser value (double submit), and the origin check stops cross-site
login forms.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from nunchi.config import Settings
from nunchi.errors import Forbidden, Unauthorized
from nunchi.urls import split_url
from nunchi.web.auth import PRIVATE_SCOPE
from nunchi.web.deps import WebState
from nunchi.web.errors import error_response, is_htmx, wants_html
from nunchi.web.i18n import SUPPORTED_LANGUAGES
from nunchi.web.keys import ANONYMOUS, KeyService, Principal
from nunchi.web.origin import is_loopback_host, same_origin

__all__ = [
    "ACTION_SCOPE",
    "CSRF_COOKIE",
    "READ_SCOPE",
    "REDELIVER_SCOPE",
    "SESSION_COOKIE",
    "SESSION_TTL",
    "WEBHOOKS_SCOPE",
    "LoginRequired",
    "check_csrf",
    "csrf_token_for",
    "login_required_handler",
    "may_read",
    "page_actor",
    "pages_need_login",
    "require_page_scope",
    "require_reader",
    "viewer",
]

CSRF_COOKIE = "nunchi_csrf"
SESSION_COOKIE = "nunchi_session"
SESSION_TTL = timedelta(hours=12)
ACTION_SCOPE = "submit"
"""Scope a page action (retry) needs, the same as the API's retry routes."""
REDELIVER_SCOPE = "admin"
"""Scope the redeliver button needs, the same as the API's redeliver route."""
READ_SCOPE = "read"
"""Scope reading the pages needs when a login is required (every key has it)."""
WEBHOOKS_SCOPE = PRIVATE_SCOPE
"""Scope the webhook delivery pages need when a login is required, as the API's delivery
routes do: deliveries carry receiver URLs (often with tokens) and payloads. Job and batch
pages show callback URLs in full and tracebacks only with it, as the API does."""

log = logging.getLogger("nunchi.web")

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


def _session_token(request: Request) -> str | None:
    token = request.cookies.get(SESSION_COOKIE, "")
    return token if _TOKEN.match(token) else None


def _session_csrf(session_token: str) -> str:
    digest = hmac.new(session_token.encode("ascii"), b"nunchi-csrf-v1", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def csrf_token_for(request: Request) -> tuple[str, bool]:
    """The CSRF token for this browser's forms and whether it is new (then set the cookie):
    derived from the web session when there is one, else the browser's random token."""
    cached = getattr(request.state, "csrf_token", None)
    if isinstance(cached, tuple):
        return cached[0], cached[1]
    session = _session_token(request)
    if session is not None:
        result = (_session_csrf(session), False)
    else:
        existing = request.cookies.get(CSRF_COOKIE, "")
        result = (existing, False) if _TOKEN.match(existing) else (secrets.token_urlsafe(32), True)
    request.state.csrf_token = result
    return result


async def check_csrf(request: Request) -> None:
    """Raise :class:`Forbidden` unless the request comes from this site and carries this
    browser's CSRF token (see the module docstring)."""
    if not same_origin(request):
        raise Forbidden(
            "this form was sent from another site; open the page on this server and try again"
        )
    session = _session_token(request)
    if session is not None:
        expected = _session_csrf(session)
    else:
        cookie = request.cookies.get(CSRF_COOKIE, "")
        expected = cookie if _TOKEN.match(cookie) else ""
    sent = request.headers.get("x-csrf-token", "")
    if not sent:
        form = await request.form()
        value = form.get("csrf_token", "")
        sent = value if isinstance(value, str) else ""
    if not (expected and hmac.compare_digest(expected, sent)):
        raise Forbidden(
            "this form is out of date or was sent from another site; reload the page and try again"
        )


def viewer(request: Request) -> Principal | None:
    """The principal of this browser's web session, if it has a live one."""
    cached = getattr(request.state, "viewer", False)
    if cached is not False:
        return cached if isinstance(cached, Principal) else None
    token = request.cookies.get(SESSION_COOKIE, "")
    state: WebState | None = getattr(request.app.state, "web", None)
    found: Principal | None = None
    if token and state is not None:  # None while starting: render as for a stranger
        try:
            found = state.keys.session_principal(token)
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


class LoginRequired(Unauthorized):
    """Reading the pages of this server needs a web session; ``login_url`` leads to the login
    form and back to ``next_path`` (:func:`login_required_handler` sends browsers there)."""

    def __init__(self, next_path: str, lang: str | None = None) -> None:
        super().__init__(
            "this server's pages need a login: open /login and enter an API key "
            "(make one with `nunchi keys create`)"
        )
        query = {"next": next_path}
        if lang in SUPPORTED_LANGUAGES:  # the form speaks the language asked for
            query["lang"] = lang
        self.login_url = "/login?" + urlencode(query)


async def login_required_handler(request: Request, exc: Exception) -> Response:
    """The exception handler of :class:`LoginRequired` (raised on page routes only): browsers
    go to the login form (an htmx fragment gets a 401 whose ``HX-Redirect`` sends the whole
    page there), other clients get the 401 envelope saying where to log in. Unlike other
    :class:`Unauthorized` errors it asks for no Bearer key (``WWW-Authenticate``)."""
    assert isinstance(exc, LoginRequired)
    headers: dict[str, str] = {}
    if is_htmx(request):
        headers["HX-Redirect"] = exc.login_url
    elif request.method in ("GET", "HEAD") and wants_html(request):
        return RedirectResponse(exc.login_url, status_code=303)
    return error_response(request, exc.status, exc.code, str(exc), headers=headers)


def pages_need_login(settings: Settings) -> bool:
    """Whether reading the pages needs a web session (see ``Settings.pages_login``)."""
    if settings.auth_disabled or settings.pages_login == "never":
        return False
    return settings.pages_login == "always" or not is_loopback_host(settings.host)


def _return_path(request: Request) -> str:
    """Where the login should lead back to: the page itself, or for an htmx fragment the page
    that holds it (only the path and query, never another site)."""
    if is_htmx(request):
        current = split_url(request.headers.get("hx-current-url", ""))
        if current is None:
            return "/jobs"
        path = current.path or "/jobs"
        return f"{path}?{current.query}" if current.query else path
    if request.method not in ("GET", "HEAD"):
        return "/jobs"
    query = request.url.query
    return f"{request.url.path}?{query}" if query else request.url.path


def may_read(request: Request, scope: str) -> bool:
    """Whether this browser may see what the API shows only to keys with ``scope``: always
    while the pages need no login, else when its session's key grants ``scope``."""
    if not pages_need_login(request.app.state.settings):
        return True
    principal = viewer(request)
    return principal is not None and principal.allows(scope)


def require_page_scope(scope: str) -> Callable[[Request], None]:
    """A router dependency for pages that show what the API shows only to ``scope``: where
    the pages need a login, :class:`LoginRequired` without a web session and
    :class:`Forbidden` when the session's key lacks ``scope``."""

    def dependency(request: Request) -> None:
        if may_read(request, scope):
            return
        principal = viewer(request)
        if principal is None:
            raise LoginRequired(_return_path(request), request.query_params.get("lang"))
        raise Forbidden(
            f"the key '{principal.name}' lacks the '{scope}' scope these pages need "
            "(the API asks the same); log in with another key"
        )

    return dependency


require_reader = require_page_scope(READ_SCOPE)
"""The dependency of the job, batch and operations pages (every key may read them)."""
