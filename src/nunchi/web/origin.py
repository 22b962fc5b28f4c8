"""Where a request comes from: which ``Host`` names are served and whether a browser sent the
request from this site.

DNS rebinding points an attacker's host name at 127.0.0.1, so a page on that name may read
this server's pages as same-origin; the browser still sends the attacker's name in ``Host``.
:class:`HostCheckMiddleware` therefore answers only IP literals, loopback names
(``localhost``, ``*.localhost``), the name the server was told to bind and the names in
``NUNCHI_ALLOWED_HOSTS``; anything else gets 400. :func:`same_origin` tells a browser's
cross-site request (``Origin`` of another site or port, ``Sec-Fetch-Site`` other than
``same-origin``) from the site's own and from non-browser clients, which send neither.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from nunchi.outbound import is_ip_address
from nunchi.urls import split_url
from nunchi.web.errors import error_response

__all__ = [
    "HostCheckMiddleware",
    "host_allowed",
    "host_name",
    "is_loopback_host",
    "same_origin",
]

_DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}
_BROWSER_SAME = ("same-origin", "none")
"""``Sec-Fetch-Site`` values of a request the site made itself or the user typed."""


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` (an address to listen on) reaches this machine only."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _split_host(value: str) -> tuple[str, str]:
    """``(name, port)`` of a ``Host`` header value (IPv6 brackets removed, lower case)."""
    value = value.strip().lower()
    if value.startswith("["):
        name, _, rest = value[1:].partition("]")
        return name, rest.removeprefix(":")
    name, _, port = value.rpartition(":") if value.count(":") == 1 else (value, "", "")
    return name.rstrip("."), port


def host_name(value: str) -> str:
    """The host name of a ``Host`` header value, without port and brackets."""
    return _split_host(value)[0]


def host_allowed(value: str, allowed: Sequence[str]) -> bool:
    """Whether a request with ``Host: value`` is served: IP literals, ``localhost`` and
    ``*.localhost``, and the entries of ``allowed`` (exact names, ``*.example.com`` for its
    sub-domains, ``*`` for any)."""
    name = host_name(value)
    if not name:
        return False
    if is_ip_address(name) or name == "localhost" or name.endswith(".localhost"):
        return True
    for entry in allowed:
        wanted = entry.strip().lower().rstrip(".")
        if wanted == "*" or wanted == name:
            return True
        if wanted.startswith("*.") and name.endswith(wanted[1:]):
            return True
    return False


class HostCheckMiddleware:
    """Answers 400 to HTTP requests (and closes WebSockets) whose ``Host`` is not served (see
    :func:`host_allowed`); ``bind_host``, the name the server listens on, is served too."""

    def __init__(self, app: ASGIApp, allowed: Sequence[str], bind_host: str = "") -> None:
        self.app = app
        named = bool(bind_host) and not is_ip_address(bind_host)
        self.allowed = [*allowed, bind_host] if named else [*allowed]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host")
        if host is None or host_allowed(host, self.allowed):  # HTTP/1.0 sends no Host
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "host not served"})
            return
        shown = host_name(host)[:100]
        response = error_response(
            Request(scope, receive),
            400,
            "bad_request",
            f"this server does not answer to the host name {shown!r}; if that is its public "
            "name, add it to NUNCHI_ALLOWED_HOSTS (e.g. NUNCHI_ALLOWED_HOSTS=nunchi.example.com)",
        )
        await response(scope, receive, send)


def _origin_netloc(origin: str) -> tuple[str, str] | None:
    """``(name, port)`` of an ``Origin`` header (default port filled in), None if unusable."""
    parts = split_url(origin.strip())
    if parts is None or parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    try:
        port = str(parts.port) if parts.port is not None else _DEFAULT_PORTS[parts.scheme]
    except ValueError:
        return None
    return parts.hostname.lower().rstrip("."), port


def same_origin(conn: HTTPConnection) -> bool:
    """Whether ``conn`` is not a browser's cross-site request: ``Sec-Fetch-Site``, when sent,
    is ``same-origin`` or ``none``, and ``Origin``, when sent, names this server's host and
    port (as the ``Host`` header gives them). Clients that send neither header (curl, SDKs)
    pass; browsers send at least one of them on every unsafe request."""
    headers = conn.headers
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site.strip().lower() not in _BROWSER_SAME:
        return False
    origin = headers.get("origin")
    if origin is None:
        return True
    theirs = _origin_netloc(origin)
    if theirs is None:  # "null" (sandboxed frames, file: pages) or garbage
        return False
    name, port = _split_host(headers.get("host", ""))
    ours = (name, port or _DEFAULT_PORTS.get(urlsplit(origin).scheme, ""))
    return theirs == ours
