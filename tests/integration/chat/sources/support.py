"""Loopback servers and a recording sink for the chat-source tests.

``ws_server`` runs a ``websockets`` sync server on 127.0.0.1 (port 0) whose handler each
test writes; ``http_server`` runs a threaded HTTP server answering from a route function.
Sources reach them through a :class:`~nunchi.apps.chat.sources.Net` whose policy allows
loopback, and reconnect with a tiny backoff.
"""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from nunchi.apps.chat.sources import ChatDeletion, ChatMessage, ChatSource, Net, SourceState
from nunchi.outbound import OutboundPolicy
from nunchi.runtime.stage import RetryPolicy

__all__ = [
    "FAST",
    "FIXTURES",
    "HttpServer",
    "RecordingSink",
    "Request",
    "hold_open",
    "loopback_net",
    "running",
    "twitch_login",
    "twitch_privmsg",
    "ws_server",
]

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "chat"
FAST = RetryPolicy(max_attempts=1_000_000, base_delay=0.01, multiplier=2.0, max_delay=0.05)
"""Backoff made tiny for tests (the real default starts at 1 s)."""
WAIT = 10.0


def loopback_net() -> Net:
    """A Net allowed to reach 127.0.0.1 only (every other private address stays refused)."""
    return Net(policy=OutboundPolicy(allow_hosts=["127.0.0.1/32"]), connect_timeout=3.0)


class RecordingSink:
    """A SourceSink that records everything and lets a test wait for a condition.
    ``received`` holds the messages, ``removed`` the deletions."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.received: list[ChatMessage] = []
        self.removed: list[ChatDeletion] = []
        self.states: list[SourceState] = []
        self.failures: list[tuple[str, str, str]] = []
        self.batches = 0

    def _add(self, target: list[Any], items: list[Any]) -> None:
        with self._cond:
            target.extend(items)
            self._cond.notify_all()

    def messages(self, messages: list[ChatMessage]) -> None:
        assert messages, "a source must not send an empty batch"
        self.batches += 1
        self._add(self.received, messages)

    def deletions(self, deletions: list[ChatDeletion]) -> None:
        self._add(self.removed, deletions)

    def state(self, state: SourceState) -> None:
        self._add(self.states, [state])

    def parse_failure(self, platform: str, raw_excerpt: str, error: str) -> None:
        self._add(self.failures, [(platform, raw_excerpt, error)])

    @property
    def kinds(self) -> list[str]:
        """The state kinds reported so far, in order."""
        with self._cond:
            return [s.kind for s in self.states]

    @property
    def texts(self) -> list[str]:
        """The texts of the messages so far."""
        with self._cond:
            return [m.text for m in self.received]

    def wait(
        self, predicate: Callable[[RecordingSink], bool], what: str, timeout: float = WAIT
    ) -> None:
        """Wait until ``predicate(self)`` holds (on the sink's condition), or fail."""
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self), timeout):
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {what}; states={self.kinds} "
                    f"texts={[m.text for m in self.received]} failures={self.failures}"
                )

    def wait_final(self, timeout: float = WAIT) -> None:
        """Wait for an ended or failing state."""
        self.wait(lambda s: bool(s.states) and s.states[-1].final, "a final state", timeout)


@contextlib.contextmanager
def running(source: ChatSource, sink: RecordingSink) -> Iterator[threading.Event]:
    """Run ``source`` on a thread; stop it and check it returned when the block ends."""
    stop = threading.Event()
    thread = threading.Thread(target=source.run, args=(sink, stop), daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(WAIT)
        assert not thread.is_alive(), "the source did not return after stop was set"


@dataclass(frozen=True)
class WsServer:
    """A running loopback WebSocket server."""

    server: Server
    port: int


@contextlib.contextmanager
def ws_server(
    handler: Callable[[ServerConnection], None], subprotocols: list[str] | None = None
) -> Iterator[WsServer]:
    """A loopback WebSocket server; ``.port`` is where it listens."""
    server = serve(
        handler,
        "127.0.0.1",
        0,
        subprotocols=subprotocols,  # type: ignore[arg-type]
        compression=None,
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield WsServer(server, server.socket.getsockname()[1])
    finally:
        server.shutdown()
        thread.join(WAIT)


def hold_open(ws: ServerConnection, timeout: float = 10.0) -> None:
    """Keep a server connection open until the client leaves or is quiet for ``timeout``."""
    try:
        while True:
            ws.recv(timeout=timeout)
    except (ConnectionClosed, TimeoutError):
        pass


# Twitch's IRC over WebSocket, as its documentation ("Twitch IRC: tags", "IRC concepts")
# describes it: the client sends CAP REQ, PASS, NICK justinfanN and JOIN #channel, lines
# end with CRLF, a frame may hold several lines, tag values escape " " as \s, ";" as \:.


def twitch_login(ws: ServerConnection) -> list[str]:
    """Read a client's lines up to and including its JOIN; the lines."""
    lines: list[str] = []
    while not any(line.startswith("JOIN ") for line in lines):
        lines += [x for x in str(ws.recv(timeout=5)).split("\r\n") if x]
    return lines


def twitch_privmsg(msg_id: str, user: str, display: str, text: str, channel: str, ts: int) -> str:
    """A PRIVMSG line as Twitch sends it, its tags escaped as IRCv3 says."""
    name = display.replace("\\", "\\\\").replace(";", "\\:").replace(" ", "\\s")
    return (
        f"@badge-info=;badges=;color=;display-name={name};emotes=;id={msg_id};mod=0;"
        f"room-id=1;subscriber=0;tmi-sent-ts={ts};turbo=0;user-id={user};user-type= "
        f":{user}!{user}@{user}.tmi.twitch.tv PRIVMSG #{channel} :{text}\r\n"
    )


@dataclass
class Request:
    """One request the HTTP server received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


Route = Callable[[Request], tuple[int, Any]]


@dataclass
class HttpServer:
    """A loopback HTTP server answering with ``route(request) -> (status, body)``; a dict or
    list body is sent as JSON, a str as HTML."""

    route: Route
    requests: list[Request] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def base(self) -> str:
        """``http://127.0.0.1:<port>``."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> HttpServer:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                parts = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                request = Request(
                    self.command,
                    parts.path,
                    dict(urllib.parse.parse_qsl(parts.query)),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                outer.requests.append(request)
                status, body = outer.route(request)
                if isinstance(body, (dict, list)):
                    raw, kind = json.dumps(body, ensure_ascii=False).encode(), "application/json"
                elif isinstance(body, bytes):
                    raw, kind = body, "application/octet-stream"
                else:
                    raw, kind = str(body).encode(), "text/html; charset=utf-8"
                self.send_response(status)
                self.send_header("content-type", kind)
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def count(self, path: str) -> int:
        """How many requests reached ``path``."""
        return sum(1 for r in self.requests if r.path == path)
