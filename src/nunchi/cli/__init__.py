"""The ``nunchi`` command line. One module per command group of the platform, plus one group
per app (``nunchi <app> …``, from :data:`nunchi.apps.APPS`); nothing imports this package."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import typer

from nunchi.cli import bench, jobs, keys, models, up
from nunchi.cli.console import fail
from nunchi.errors import NunchiError

if TYPE_CHECKING:
    from nunchi.apps.base import App

__all__ = ["build", "main"]


def build(apps: Sequence[App[Any]] | None = None) -> typer.Typer:
    """The root command with the platform's groups and one group per app of ``apps``
    (default :data:`nunchi.apps.APPS`)."""
    if apps is None:
        from nunchi.apps import APPS

        apps = APPS
    root = typer.Typer(
        name="nunchi",
        help="nunchi: real-time ML analysis of content for Korean users.",
        no_args_is_help=True,
        add_completion=False,
    )
    up.register(root)
    root.add_typer(jobs.app, name="jobs")
    root.add_typer(keys.app, name="keys")
    root.add_typer(models.app, name="models")
    root.add_typer(bench.app, name="bench")
    taken = {"up", "worker", "jobs", "keys", "models", "bench"}
    for each in apps:
        if each.cli is None:
            continue
        if each.name in taken:
            raise ValueError(f"app {each.name!r} would shadow the command `nunchi {each.name}`")
        group = each.cli(each)
        root.add_typer(group, name=each.name, help=each.text(each.title, "en"))
        taken.add(each.name)
    return root


def main() -> None:
    """Entry point of the ``nunchi`` script: a nunchi error (a bad setting, a refused
    option) ends the command with one line saying what to fix, not a traceback."""
    try:
        build()()
    except NunchiError as e:
        code = fail(e).exit_code
        sys.exit(code)
