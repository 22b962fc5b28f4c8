"""``nunchi chat``: watch a broadcast, replay a recorded chat, export the stored chat.

The commands register work in the store; a running ``nunchi up`` (or ``nunchi worker``
with the chat watcher) connects within a second."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from nunchi.apps.base import App
from nunchi.apps.chat.services import ChatServices
from nunchi.cli.console import err, fail, out
from nunchi.config import get_settings
from nunchi.errors import InvalidInput, NunchiError

__all__ = ["chat_cli"]


@contextmanager
def _services(app: App[ChatServices]) -> Iterator[ChatServices]:
    from nunchi.assembly import open_platform

    platform = open_platform(get_settings())
    try:
        yield platform.services(app)
    finally:
        platform.close()


def chat_cli(app: App[ChatServices]) -> typer.Typer:
    """The ``nunchi chat`` command group."""
    cli = typer.Typer(help="Watch live-stream chat, replay recordings, export what was stored.")

    @cli.command("watch")
    def watch(
        url: Annotated[str, typer.Argument(help="The broadcast's URL.")],
        platform: Annotated[
            str | None, typer.Option(help="twitch | youtube | chzzk | soop | shoppinglive")
        ] = None,
        title: Annotated[str | None, typer.Option(help="A name for the watch.")] = None,
        endpoint: Annotated[
            list[str] | None,
            typer.Option(
                help="NAME=URL: reach the platform at another address (a relay), e.g. "
                "url=wss://irc-ws.chat.twitch.tv:443 (names: url, base_url, api_base, "
                "game_base, chat_url); the outbound guard still applies."
            ),
        ] = None,
    ) -> None:
        """Start watching a broadcast's chat (Twitch, YouTube, Chzzk, SOOP, Naver Shopping
        Live); prints the watch's id."""
        options: dict[str, object] = {}
        for item in endpoint or []:
            name, sep, value = item.partition("=")
            if not sep or not name or not value:
                raise fail(InvalidInput(f"--endpoint takes NAME=URL, not {item!r}"))
            options[name.strip()] = value.strip()
        try:
            with _services(app) as chat:
                found = chat.chat.start_watch(url, platform=platform, title=title, options=options)
        except NunchiError as e:
            raise fail(e) from e
        out().print(f"watch {found.id} started ({found.platform}); see /chat", highlight=False)

    @cli.command("replay")
    def replay(
        file: Annotated[Path, typer.Argument(help="JSON lines or CSV (.gz too).")],
        speed: Annotated[
            float, typer.Option(min=0.0, max=1000.0, help="Times real time (0: at once).")
        ] = 1.0,
        title: Annotated[str | None, typer.Option(help="A name for the watch.")] = None,
    ) -> None:
        """Replay a recorded chat as a live broadcast; prints the watch and its broadcast."""
        try:
            with _services(app) as chat:
                found = chat.chat.start_watch(
                    str(file.resolve()), platform="replay", title=title, options={"speed": speed}
                )
        except NunchiError as e:
            raise fail(e) from e
        out().print(f"watch {found.id} started: broadcast replay:{found.id}", highlight=False)

    @cli.command("stop")
    def stop(watch_id: Annotated[str, typer.Argument(help="The watch to stop.")]) -> None:
        """Stop a watch."""
        try:
            with _services(app) as chat:
                chat.chat.stop_watch(watch_id)
        except NunchiError as e:
            raise fail(e) from e
        err.print(f"watch {watch_id} stopped")

    @cli.command("export")
    def export(
        broadcast: Annotated[str, typer.Argument(help="The broadcast id (see /chat).")],
        labels: Annotated[
            bool, typer.Option("--labels", help="Moderator labels as text|label lines instead.")
        ] = False,
    ) -> None:
        """Write a broadcast's stored chat as CSV to stdout (or, with --labels, every
        moderator label in the curse-data format for `nunchi models train-profanity --extra`)."""
        try:
            with _services(app) as chat:
                lines = chat.chat.labels_export() if labels else chat.chat.export_csv(broadcast)
                for line in lines:
                    sys.stdout.write(line)
        except NunchiError as e:
            raise fail(e) from e

    return cli
