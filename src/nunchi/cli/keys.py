"""`nunchi keys`: create, list and revoke API keys.

The plaintext key is printed once, by ``create``; nunchi keeps only its digest.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from nunchi.cli.console import err, fail
from nunchi.config import get_settings
from nunchi.errors import NunchiError
from nunchi.web.keys import SCOPES, KeyService

__all__ = ["app"]

app = typer.Typer(help="Manage API keys.", no_args_is_help=True)



@contextmanager
def _key_service() -> Iterator[KeyService]:
    from nunchi.assembly import open_platform

    try:
        platform = open_platform(get_settings())  # the store migrated for every app
    except NunchiError as e:
        raise fail(e) from e
    try:
        yield KeyService(platform.sessions)
    except NunchiError as e:
        raise fail(e) from e
    finally:
        platform.close()


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value is not None else "-"


@app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", "-n", help="A short name: who or what uses it.")],
    scope: Annotated[
        list[str],
        typer.Option(
            "--scope",
            "-s",
            help=f"Scope to grant (repeatable): {', '.join(SCOPES)}. "
            "admin implies all, submit implies read.",
        ),
    ],
) -> None:
    """Create an API key and print it (this is the only time it is shown)."""
    with _key_service() as keys:
        info, plaintext = keys.create(name, scope)
    err.print(
        f"Created key [bold]{escape(info.name)}[/bold] (id {info.id}, prefix {info.prefix}, "
        f"scopes {', '.join(info.scopes)}). Store it now; it cannot be shown again:",
        markup=True,
        highlight=False,
    )
    typer.echo(plaintext)


@app.command("list")
def list_keys(
    active: Annotated[bool, typer.Option("--active", help="Hide revoked keys.")] = False,
) -> None:
    """List API keys (never their secrets)."""
    with _key_service() as keys:
        rows = keys.list(include_revoked=not active)
    table = Table("id", "name", "prefix", "scopes", "created", "last used", "revoked")
    for k in rows:
        table.add_row(
            k.id,
            escape(k.name),
            f"nk_{k.prefix}_…",
            ", ".join(k.scopes),
            _when(k.created_at),
            _when(k.last_used_at),
            _when(k.revoked_at),
        )
    Console(width=200).print(table)
    if not rows:
        err.print("no API keys yet: make one with `nunchi keys create --name NAME --scope admin`")


@app.command("revoke")
def revoke(
    key: Annotated[str, typer.Argument(help="The key's id or prefix (see `nunchi keys list`).")],
) -> None:
    """Revoke an API key at once (its web sessions end too)."""
    with _key_service() as keys:
        info = keys.revoke(key)
    typer.echo(f"revoked {info.name} ({info.id}, prefix {info.prefix})")
