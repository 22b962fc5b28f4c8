"""Outbound connections of the chat sources, all through the project's SSRF guard.

HTTP goes through :class:`~nunchi.outbound.GuardedClient`. A WebSocket URL is
checked with :func:`~nunchi.outbound.check_url` (as its http/https twin), the TCP
socket is connected here to an address that passed the check, and that socket is handed to
the ``websockets`` sync client, which does TLS with the URL's host name (SNI and certificate)
and refuses redirects (a given socket cannot follow one). Proxies are never used.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from nunchi.errors import OutboundBlocked
from nunchi.outbound import GuardedClient, OutboundPolicy, OutboundResponse, check_url

__all__ = ["USER_AGENT", "HttpStatusError", "Net", "frames"]

USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36"
)
"""Browser-like: several platforms answer a bare client with an error page."""


class HttpStatusError(Exception):
    """A response with a status the adapter does not treat as success."""

    def __init__(self, status: int, url: str, body: str) -> None:
        where = urllib.parse.urlsplit(url)
        super().__init__(f"HTTP {status} from {where.scheme}://{where.netloc}{where.path}")
        self.status = status
        self.body = body


@dataclass
class Net:
    """The guarded HTTP client and WebSocket opener a source uses.

    ``policy`` decides which hosts may be reached (tests allow loopback); ``http`` is shared
    when given, else one is made from ``policy``."""

    policy: OutboundPolicy = field(default_factory=OutboundPolicy)
    http: GuardedClient | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    max_message_bytes: int = 4 * 1024 * 1024

    def client(self) -> GuardedClient:
        """The HTTP client (made on first use)."""
        if self.http is None:
            self.http = GuardedClient(self.policy)
        return self.http

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        ok: Sequence[int] = (200,),
    ) -> OutboundResponse:
        """Send a request; a status outside ``ok`` raises :class:`HttpStatusError`."""
        sent = {"user-agent": USER_AGENT, **(headers or {})}
        response = self.client().request(method, url, headers=sent, content=body)
        if response.status_code not in ok:
            raise HttpStatusError(response.status_code, url, response.text[:500])
        return response

    def get_json(self, url: str, *, headers: Mapping[str, str] | None = None) -> Any:
        """GET ``url`` and decode its JSON body (a bad body raises ValueError)."""
        return json.loads(self.request("GET", url, headers=headers).content)

    def post_json(self, url: str, payload: Any, *, headers: Mapping[str, str] | None = None) -> Any:
        """POST ``payload`` as JSON and decode the JSON answer."""
        sent = {"content-type": "application/json", **(headers or {})}
        body = json.dumps(payload, ensure_ascii=False).encode()
        return json.loads(self.request("POST", url, headers=sent, body=body).content)

    def websocket(
        self,
        url: str,
        *,
        subprotocols: Sequence[str] = (),
        headers: Mapping[str, str] | None = None,
        origin: str | None = None,
        ping_interval: float | None = 20.0,
    ) -> ClientConnection:
        """Open a WebSocket to ``url`` (ws:// or wss://) after checking it with the policy.

        Use the result as a context manager (``with net.websocket(url) as ws: ...``)."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("ws", "wss"):
            raise OutboundBlocked(f"WebSocket URL scheme {parts.scheme!r} is not ws or wss")
        scheme = "https" if parts.scheme == "wss" else "http"
        twin = urllib.parse.urlunsplit((scheme, parts.netloc, parts.path, parts.query, ""))
        target = check_url(twin, self.policy)
        sock = self._connect_socket(target.addresses, target.port)
        tls = ssl.create_default_context() if parts.scheme == "wss" else None
        options: dict[str, Any] = {
            "sock": sock,
            "ssl": tls,
            "server_hostname": target.host if tls is not None else None,
            "subprotocols": [Subprotocol(p) for p in subprotocols] or None,
            "additional_headers": dict(headers or {}),
            "origin": origin,
            "user_agent_header": USER_AGENT,
            "proxy": None,
            "open_timeout": self.connect_timeout,
            "ping_interval": ping_interval,
            "ping_timeout": self.read_timeout if ping_interval else None,
            "close_timeout": 2.0,
            "max_size": self.max_message_bytes,
            "compression": "deflate",
        }
        try:
            connection: ClientConnection = connect(url, **options)
            return connection
        except BaseException:
            sock.close()
            raise

    def _connect_socket(self, addresses: Sequence[str], port: int) -> socket.socket:
        error: OSError | None = None
        for address in addresses:
            try:
                sock = socket.create_connection((address, port), timeout=self.connect_timeout)
            except OSError as e:
                error = e
                continue
            sock.settimeout(None)  # websockets runs its own deadlines; a socket timeout
            return sock  # would end an idle connection
        raise error or OSError(f"no address to connect to on port {port}")

    def close(self) -> None:
        """Close pooled HTTP connections."""
        if self.http is not None:
            self.http.close()


def frames(
    ws: ClientConnection,
    stop: threading.Event,
    *,
    idle_timeout: float,
    tick: float = 0.2,
    on_tick: Callable[[], None] | None = None,
) -> Iterator[str | bytes]:
    """The frames of ``ws`` until ``stop`` is set (then it returns). ``on_tick`` runs between
    frames at least every ``tick`` seconds (keepalives, status checks). Raises TimeoutError
    when nothing arrived for ``idle_timeout`` seconds, and the client's ConnectionClosed when
    the server goes away."""
    last = time.monotonic()
    while not stop.is_set():
        if on_tick is not None:
            on_tick()
        try:
            frame = ws.recv(timeout=tick)
        except TimeoutError:
            if time.monotonic() - last > idle_timeout:
                raise TimeoutError(f"no data for {idle_timeout:g}s") from None
            continue
        last = time.monotonic()
        yield frame
