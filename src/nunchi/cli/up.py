"""`nunchi up` and `nunchi worker`: run the platform."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Annotated

import typer

from nunchi.cli.console import err, fail
from nunchi.config import get_settings
from nunchi.urls import redact_url
from nunchi.web.origin import is_loopback_host

__all__ = ["register"]


_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _configure_logging() -> None:
    """Send INFO and above to stderr with time, level and logger (the runtime reports starts,
    stops and partition assignments at INFO), unless logging was set up already. httpx's
    per-request lines are left out: webhook URLs may carry tokens."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO, format=_LOG_FORMAT)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


class _NoQueryStrings(logging.Filter):
    """Drops query strings from uvicorn's access log lines: keys and tokens sent as
    ``?api_key=…`` must not land in logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path, sep, _ = args[2].partition("?")
            if sep:
                record.args = (*args[:2], path + "?…", *args[3:])
        return True


def register(app: typer.Typer) -> None:
    """Add ``up`` and ``worker`` to the root command."""

    @app.command()
    def up(
        host: Annotated[
            str | None, typer.Option(help="Address to bind (default: settings).")
        ] = None,
        port: Annotated[int | None, typer.Option(help="Port to bind (default: settings).")] = None,
        workers: Annotated[
            bool,
            typer.Option(
                "--workers/--no-workers",
                help="Run every stage in this process (--no-workers: API tier only).",
            ),
        ] = True,
    ) -> None:
        """Start the API, the web app and every stage in one process."""
        import uvicorn

        from nunchi.assembly import open_platform
        from nunchi.jobs.relay import OUTBOX_RELAY
        from nunchi.runtime.heap import settle
        from nunchi.runtime.processes import use_processes
        from nunchi.web.app import create_app
        from nunchi.web.auth import check_auth_mode
        from nunchi.web.pages.security import pages_need_login

        _configure_logging()
        settings = get_settings()
        host = host or settings.host
        port = port or settings.port
        # The app decides from the address it listens on whether pages need a login.
        settings = settings.model_copy(update={"host": host, "port": port})
        check_auth_mode(settings)  # before anything starts
        platform = open_platform(settings)
        try:
            platform.start(
                None if workers else [OUTBOX_RELAY],
                worker_name="up",
                own_processes=use_processes(settings.stage_processes),
            )
            web = create_app(settings, platform=platform)
            settle()  # after start-up: see nunchi.runtime.heap
            apps = " · ".join(f"{a.text(a.title, 'ko')}: {a.path}" for a in platform.apps if a.path)
            err.print(f"[bold]nunchi[/] http://{host}:{port}  ({apps} · API: /docs)")
            if not settings.auth_disabled:
                err.print(
                    "API 키 만들기 / create an API key: "
                    "[cyan]nunchi keys create --name me --scope admin[/]"
                )
            if pages_need_login(settings):
                err.print(
                    "페이지를 보려면 /login 에서 API 키로 로그인 / the pages need a login with "
                    "an API key on /login (NUNCHI_PAGES_LOGIN)"
                )
            if not is_loopback_host(host) and not settings.allowed_hosts:
                err.print(
                    "IP 주소와 localhost로만 접속됩니다 / only IP addresses and localhost are "
                    "served: set NUNCHI_ALLOWED_HOSTS to the host names browsers use"
                )
            # uvicorn shuts down on SIGTERM, then raises it again for the handler it found: the
            # default one would end the process here, before the stages are stopped below.
            signal.signal(signal.SIGTERM, lambda *_: None)
            config = uvicorn.Config(web, host=host, port=port, log_level="info", lifespan="on")
            logging.getLogger("uvicorn.access").addFilter(_NoQueryStrings())  # after Config
            uvicorn.Server(config).run()
        finally:
            platform.stop()
            platform.close()

    @app.command()
    def worker(
        stage: Annotated[
            list[str] | None,
            typer.Option("--stage", "-s", help="Stage or loop to run (repeatable; default: all)."),
        ] = None,
        list_stages: Annotated[
            bool, typer.Option("--list", help="List the stages and loops, then exit.")
        ] = False,
        name: Annotated[str | None, typer.Option(help="Worker name shown in logs.")] = None,
        parent: Annotated[
            int | None,
            typer.Option(help="Stop when this process is gone (set by `nunchi up`).", hidden=True),
        ] = None,
    ) -> None:
        """Run chosen stages (default: all) until SIGTERM or Ctrl-C.

        Start as many workers as you like, on as many machines, against the same Kafka and
        PostgreSQL: the members of each stage's consumer group share its partitions."""
        from nunchi.assembly import open_platform
        from nunchi.errors import InvalidInput
        from nunchi.runtime.heap import settle

        if not list_stages:
            _configure_logging()
        settings = get_settings()
        platform = open_platform(settings)
        try:
            if list_stages:
                for part in platform.part_names():
                    typer.echo(part)
                return
            try:
                platform.select(stage)
            except InvalidInput as e:
                raise fail(e) from None
            stop = threading.Event()
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop.set())
            if parent is not None:
                from nunchi.runtime.processes import exit_with_parent

                exit_with_parent(parent, stop)
            platform.start(stage, worker_name=name)
            settle()  # after start-up: see nunchi.runtime.heap
            chosen = ", ".join(stage) if stage else "all stages"
            shown = redact_url(settings.bus_url)
            err.print(f"[bold]nunchi worker[/] running {chosen}; bus {shown}")
            stop.wait()
            err.print("stopping: finishing in-flight work…")
        finally:
            platform.stop()
            platform.close()
