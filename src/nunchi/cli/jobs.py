"""`nunchi jobs`: Inspect and retry jobs."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from nunchi.errors import NunchiError

__all__ = ["app"]

app = typer.Typer(help="Inspect and retry jobs.", no_args_is_help=True)

_STATUS_STYLE = {
    "queued": "cyan",
    "running": "yellow",
    "succeeded": "green",
    "failed": "bold red",
}


def _console() -> Console:
    return Console(soft_wrap=False)


def _fail(e: NunchiError) -> typer.Exit:
    Console(stderr=True).print(f"[bold red]error:[/] {e}", markup=True, highlight=False)
    return typer.Exit(code=2 if e.status < 500 else 1)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _short_json(value: Any, width: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


def _status(status: str) -> str:
    return f"[{_STATUS_STYLE.get(status, 'white')}]{status}[/]"


@app.command("list")
def list_jobs(
    status: Annotated[
        str | None, typer.Option(help="Only jobs in this status: queued|running|succeeded|failed.")
    ] = None,
    kind: Annotated[str | None, typer.Option(help="Only jobs of this kind.")] = None,
    batch: Annotated[str | None, typer.Option(help="Only jobs of this batch id.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many jobs to show.")] = 50,
    cursor: Annotated[
        str | None, typer.Option(help="Continue after this job id (the 'next' hint).")
    ] = None,
) -> None:
    """List jobs, newest first."""
    from nunchi.jobs.factory import open_job_service

    try:
        with open_job_service() as service:
            page = service.list(status=status, kind=kind, batch=batch, cursor=cursor, limit=limit)
    except NunchiError as e:
        raise _fail(e) from e
    console = _console()
    if not page.items:
        console.print("no jobs match")
        return
    wide = console.width >= 130
    table = Table(title="jobs", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("id", no_wrap=True, min_width=32)
    table.add_column("kind", min_width=10, overflow="fold")
    table.add_column("status", no_wrap=True)
    if wide:
        table.add_column("tries", no_wrap=True, justify="right")
    table.add_column("created", no_wrap=True)
    if wide:
        table.add_column("finished", no_wrap=True)
        table.add_column("batch", no_wrap=True)
    for job in page.items:
        if wide:
            table.add_row(
                job.id,
                job.kind,
                _status(job.status),
                str(job.attempts),
                _when(job.created_at),
                _when(job.finished_at),
                job.batch_id or "-",
            )
        else:
            created = job.created_at.strftime("%m-%d %H:%M:%S")
            table.add_row(job.id, job.kind, _status(job.status), created)
    console.print(table)
    if page.next_cursor:
        console.print(f"more: nunchi jobs list --cursor {page.next_cursor}", highlight=False)


@app.command("show")
def show_job(job_id: Annotated[str, typer.Argument(help="The job id.")]) -> None:
    """Show one job: input, result or error, and its history."""
    from nunchi.jobs.factory import open_job_service

    try:
        with open_job_service() as service:
            job = service.get(job_id)
    except NunchiError as e:
        raise _fail(e) from e
    console = _console()
    console.print(f"[bold]{job.id}[/]  {job.kind}  {_status(job.status)}", highlight=False)
    console.print(f"attempts: {job.attempts}   batch: {job.batch_id or '-'}", highlight=False)
    console.print(
        f"created: {_when(job.created_at)}   started: {_when(job.started_at)}   "
        f"finished: {_when(job.finished_at)}",
        highlight=False,
    )
    if job.callback_url:
        console.print(f"callback: {job.callback_url}", highlight=False)
    console.print("input:", json.dumps(job.input, ensure_ascii=False, indent=2), highlight=False)
    if job.result is not None:
        console.print(
            "result:", json.dumps(job.result, ensure_ascii=False, indent=2), highlight=False
        )
    if job.error is not None:
        console.print(f"[bold red]error:[/] {job.error.type}: {job.error.message}", highlight=False)
        if job.error.traceback:
            console.print(job.error.traceback, markup=False, highlight=False)
    table = Table(title="history")
    for column in ("at", "event", "attempt", "detail", "actor"):
        table.add_column(column)
    for event in job.events:
        table.add_row(
            _when(event.at),
            event.type,
            str(event.attempt),
            _short_json(event.detail) if event.detail is not None else "",
            event.actor or "",
        )
    console.print(table)


@app.command("retry")
def retry(
    job_id: Annotated[str | None, typer.Argument(help="The failed job to retry.")] = None,
    batch: Annotated[
        str | None, typer.Option("--batch", help="Retry every failed job of this batch.")
    ] = None,
    actor: Annotated[str, typer.Option(help="Who is retrying (recorded in the history).")] = "cli",
) -> None:
    """Queue a failed job again, or every failed job of a batch (--batch ID)."""
    if (job_id is None) == (batch is None):
        Console(stderr=True).print("error: give a job id or --batch ID (not both)")
        raise typer.Exit(code=2)
    from nunchi.jobs.factory import open_job_service

    try:
        with open_job_service() as service:
            if batch is not None:
                n = service.retry_failed(batch, actor=actor)
                _console().print(f"queued {n} failed job(s) of batch {batch} again")
            else:
                assert job_id is not None
                job = service.retry(job_id, actor=actor)
                _console().print(f"job {job.id} queued again (attempts so far: {job.attempts})")
    except NunchiError as e:
        raise _fail(e) from e
