"""A real HTTP/1.1 server on a loopback address (Python's http.server, as any web server answers
an image GET): each path answers from a script, every request is recorded."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["Reply", "ScriptedServer", "serving"]

HOLD_LIMIT = 10.0
"""Longest a held answer waits for its event (so a failing test cannot hang the server)."""


@dataclass(frozen=True)
class Reply:
    """One scripted answer; ``hold`` makes the handler wait on the event before answering."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    hold: threading.Event | None = None


Route = Reply | Callable[["ScriptedServer"], Reply]


class ScriptedServer:
    """Answers ``routes[path]`` (a Reply, or a function of the server returning one); 404
    for other paths. ``requests`` lists the paths asked for; ``active``/``most_active``
    count requests being answered at once."""

    def __init__(self, server: ThreadingHTTPServer, routes: dict[str, Route]) -> None:
        self.server = server
        self.routes = routes
        self.requests: list[str] = []
        self.active = 0
        self.most_active = 0
        self.changed = threading.Condition()
        self.host, self.port = server.server_address[0], server.server_address[1]

    def url(self, path: str, host: str | None = None) -> str:
        """The URL of ``path`` on this server (``host`` instead of its address if given)."""
        return f"http://{host or self.host}:{self.port}{path}"

    def count(self, path: str | None = None) -> int:
        """How many requests arrived (for ``path``, or all)."""
        with self.changed:
            return sum(1 for p in self.requests if path is None or p == path)


def _handler(state: list[ScriptedServer]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            scripted = state[0]
            with scripted.changed:
                scripted.requests.append(self.path)
                scripted.active += 1
                scripted.most_active = max(scripted.most_active, scripted.active)
                scripted.changed.notify_all()
            try:
                route = scripted.routes.get(self.path, Reply(404, b"not found"))
                reply = route(scripted) if callable(route) else route
                if reply.hold is not None:
                    reply.hold.wait(HOLD_LIMIT)
                self.send_response(reply.status)
                headers = {"Content-Length": str(len(reply.body)), **reply.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(reply.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)
            finally:
                with scripted.changed:
                    scripted.active -= 1
                    scripted.changed.notify_all()

    return Handler


@contextmanager
def serving(routes: dict[str, Route], host: str = "127.0.0.1") -> Iterator[ScriptedServer]:
    """A running :class:`ScriptedServer` on ``host`` (a free port), stopped afterwards."""
    state: list[ScriptedServer] = []
    server = ThreadingHTTPServer((host, 0), _handler(state))
    server.daemon_threads = True
    scripted = ScriptedServer(server, routes)
    state.append(scripted)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield scripted
    finally:
        for route in routes.values():
            if isinstance(route, Reply) and route.hold is not None:
                route.hold.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
