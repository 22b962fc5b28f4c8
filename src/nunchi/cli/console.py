"""What every command prints on: stdout for results, stderr for messages, and the one way a
command ends on a nunchi error."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

from nunchi.errors import NunchiError

__all__ = ["err", "fail", "out"]

err = Console(stderr=True, soft_wrap=True)
"""Messages and progress (a log line stays one line when piped)."""


def out() -> Console:
    """A console for results on stdout (made per command: tests swap stdout)."""
    return Console(soft_wrap=False)


def fail(e: NunchiError) -> typer.Exit:
    """Print ``error: <what to fix>`` on stderr; the exit to raise: 2 for the caller's mistake,
    1 for a failure on our side."""
    err.print(f"[bold red]error:[/] {escape(str(e))}", markup=True, highlight=False)
    return typer.Exit(code=2 if e.status < 500 else 1)
