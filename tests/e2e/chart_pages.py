"""A tiny loopback web server for the chart tests: pages a test renders with the app's own
template environment (``_charts.html`` included), ``src/nunchi/web/static`` at ``/static``,
and the pages' Content-Security-Policy on every response, as ``nunchi up`` sends it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import nunchi.web
from nunchi.web.pages.rendering import CONTENT_SECURITY_POLICY, make_environment
from tests.fixtures.processes import wait_for

STATIC = Path(nunchi.web.__file__).parent / "static"

PAGE = """<!doctype html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<title>charts</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/nunchi.css">
<script src="/static/vendor/htmx.min.js" defer></script>
{% from "_charts.html" import chart, chart_assets %}{{ chart_assets() }}
{% for src in scripts %}<script src="{{ src }}" defer></script>
{% endfor %}
</head>
<body>
<main>
{% for c in charts %}{{ chart(c.id, c.kind, c.data, c.title, c.labels, c.get("height")) }}
{% endfor %}
{{ extra }}
</main>
</body>
</html>
"""
"""A page like base.html's: the app's CSS, htmx and ``chart_assets()`` in the head."""

FRAGMENT = """{% from "_charts.html" import chart %}<div id="{{ wrapper }}">
{% for c in charts %}{{ chart(c.id, c.kind, c.data, c.title, c.labels) }}
{% endfor %}</div>"""
"""What an htmx request gets back: charts without the page around them."""


class _Csp:
    """Adds the pages' Content-Security-Policy to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_csp(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_csp)


@dataclass
class ChartSite:
    """The running server and the documents it serves, by path."""

    url: str
    documents: dict[str, tuple[str, str]] = field(default_factory=dict)
    """path -> (content type, body)."""

    def page(
        self,
        path: str,
        charts: list[dict[str, Any]],
        *,
        lang: str = "ko",
        extra: str = "",
        scripts: tuple[str, ...] = (),
    ) -> str:
        """Serve a page with ``charts`` (``chart()``'s arguments as dicts) at ``path``;
        ``extra`` is raw HTML put after them (a test's own markup, trusted);
        ``scripts`` are extra same-origin scripts. Returns the rendered HTML."""
        html = (
            make_environment()
            .from_string(PAGE)
            .render(lang=lang, charts=charts, extra=Markup(extra), scripts=scripts)
        )
        self.documents[path] = ("text/html; charset=utf-8", html)
        return html

    def fragment(self, path: str, wrapper: str, charts: list[dict[str, Any]]) -> None:
        """Serve an htmx fragment ``<div id=wrapper>`` holding ``charts`` at ``path``."""
        html = make_environment().from_string(FRAGMENT).render(wrapper=wrapper, charts=charts)
        self.documents[path] = ("text/html; charset=utf-8", html)

    def file(self, path: str, content_type: str, body: str) -> None:
        """Serve ``body`` at ``path`` (e.g. a test's own script: it is same-origin)."""
        self.documents[path] = (content_type, body)


@contextmanager
def running_site() -> Iterator[ChartSite]:
    """The chart site on a free loopback port, in a thread; stopped on exit."""
    site = ChartSite(url="")

    async def document(request: Request) -> Response:
        found = site.documents.get(request.url.path)
        if found is None:
            return HTMLResponse("not found", status_code=404)
        content_type, body = found
        return Response(body, media_type=content_type)

    app = Starlette(
        routes=[
            Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
            Route("/{path:path}", document),
        ]
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(_Csp(app), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, 10, "the chart site to start")
        site.url = f"http://127.0.0.1:{port}"
        yield site
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
