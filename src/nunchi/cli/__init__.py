"""The ``nunchi`` command line. One module per command group; nothing imports this package."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from nunchi.cli import analyze, bench, jobs, keys, models, up
from nunchi.errors import NunchiError

__all__ = ["app", "main"]

app = typer.Typer(
    name="nunchi",
    help="nunchi: real-time ML analysis of content for Korean users.",
    no_args_is_help=True,
    add_completion=False,
)
up.register(app)
app.add_typer(jobs.app, name="jobs")
app.add_typer(keys.app, name="keys")
app.add_typer(models.app, name="models")
app.add_typer(analyze.app, name="analyze")
app.add_typer(bench.app, name="bench")


def main() -> None:
    """Entry point of the ``nunchi`` script: a nunchi error (a bad setting, a refused
    option) ends the command with one line saying what to fix, not a traceback."""
    try:
        app()
    except NunchiError as e:
        Console(stderr=True, soft_wrap=True).print(
            f"[bold red]error:[/] {e}", markup=True, highlight=False
        )
        sys.exit(2 if e.status < 500 else 1)
