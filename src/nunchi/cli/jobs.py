"""`nunchi jobs`: Submit, wait for, inspect and retry jobs."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nunchi.cli.console import err, fail, out
from nunchi.config import get_settings
from nunchi.errors import InvalidInput, NunchiError

if TYPE_CHECKING:
    from nunchi.jobs.schemas import BatchOut
    from nunchi.jobs.service import JobService

__all__ = ["app"]

app = typer.Typer(help="Submit, wait for, inspect and retry jobs.", no_args_is_help=True)

_POLL_S = 0.2
"""Seconds between two reads of a job or batch while waiting."""

_STATUS_STYLE = {
    "queued": "cyan",
    "running": "yellow",
    "succeeded": "green",
    "failed": "bold red",
}


def _one_of(job_id: str | None, batch: str | None) -> None:
    if (job_id is None) == (batch is None):
        raise fail(InvalidInput("give a job id or --batch ID (not both)"))


@contextmanager
def _job_service() -> Iterator[JobService]:
    """The job service of a platform opened from the settings (every app's kinds known);
    nothing runs, and its connections are closed on exit."""
    from nunchi.assembly import open_platform

    platform = open_platform(get_settings())
    try:
        yield platform.jobs
    finally:
        platform.close()


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
    try:
        with _job_service() as service:
            page = service.list(status=status, kind=kind, batch=batch, cursor=cursor, limit=limit)
    except NunchiError as e:
        raise fail(e) from e
    console = out()
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
    try:
        with _job_service() as service:
            job = service.get(job_id)
    except NunchiError as e:
        raise fail(e) from e
    console = out()
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
    _one_of(job_id, batch)
    try:
        with _job_service() as service:
            if batch is not None:
                n = service.retry_failed(batch, actor=actor)
                out().print(f"queued {n} failed job(s) of batch {batch} again")
            else:
                assert job_id is not None
                job = service.retry(job_id, actor=actor)
                out().print(f"job {job.id} queued again (attempts so far: {job.attempts})")
    except NunchiError as e:
        raise fail(e) from e


_NOT_FINISHED = "not finished in time: is `nunchi up` or a `nunchi worker` running for this kind?"


def _parse_input(text: str, where: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidInput(f"{where} is not JSON ({e.msg} at column {e.colno})") from e
    if not isinstance(value, dict):
        raise InvalidInput(f"{where} must be a JSON object, not {type(value).__name__}")
    return value


def _read_items(path: Path) -> list[dict[str, Any]]:
    """One JSON object per non-empty line of ``path`` (``-``: stdin)."""
    from_stdin = str(path) == "-"
    where = "stdin" if from_stdin else str(path)  # how messages name it
    if from_stdin:
        lines = sys.stdin.read().splitlines()
    else:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as e:
            raise InvalidInput(f"cannot read items file {str(path)!r}: {e.strerror}") from e
    items = [_parse_input(line, f"line {n} of {where}")
             for n, line in enumerate(lines, start=1) if line.strip()]
    if not items:
        raise InvalidInput(f"{where} holds no items: write one JSON object per line")
    return items


def _wait_job(service: JobService, job_id: str, deadline: float) -> str:
    """Poll until the job is final or the deadline passes; returns its last status."""
    from nunchi.jobs.models import FINAL_STATUSES

    with err.status(f"waiting for job {job_id}", spinner="dots"):
        while True:
            status = service.get(job_id).status
            if status in FINAL_STATUSES or time.monotonic() >= deadline:
                return status
            time.sleep(_POLL_S)


def _wait_batch(service: JobService, batch_id: str, deadline: float) -> BatchOut:
    """Poll with a progress bar (stderr) until the batch is complete (``completed_at`` is set
    once every job is final) or the deadline passes; returns the batch as last read."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("[red]{task.fields[failed]} failed"), TimeElapsedColumn())
    batch = service.get_batch(batch_id)
    with Progress(*columns, console=err) as bar:
        task = bar.add_task(f"batch {batch_id[:12]}…", total=batch.total, failed=0)
        while True:
            done = batch.counts.succeeded + batch.counts.failed
            bar.update(task, completed=done, failed=batch.counts.failed)
            if batch.completed_at is not None or time.monotonic() >= deadline:
                return batch
            time.sleep(_POLL_S)
            batch = service.get_batch(batch_id)


def _await(
    service: JobService, deadline: float, *, job_id: str | None = None,
    batch_id: str | None = None,
) -> None:
    """Wait for the job or the batch, print how it ended; exit 1 if a job failed, 3 if some
    job is not final by ``deadline``."""
    if batch_id is not None:
        batch = _wait_batch(service, batch_id, deadline)
        counts = batch.counts
        unfinished, failed = counts.queued + counts.running, counts.failed
        out().print(
            f"batch {batch.id}: {counts.succeeded} succeeded, {failed} failed, "
            f"{unfinished} not finished, of {batch.total}", highlight=False)
    else:
        assert job_id is not None
        from nunchi.jobs.models import FINAL_STATUSES

        status = _wait_job(service, job_id, deadline)
        unfinished, failed = int(status not in FINAL_STATUSES), int(status == "failed")
        out().print(f"job {job_id} {_status(status)}", highlight=False)
    if unfinished:
        err.print(_NOT_FINISHED)
        raise typer.Exit(code=3)
    if failed:
        raise typer.Exit(code=1)


@app.command("submit")
def submit(
    kind_arg: Annotated[
        str | None, typer.Argument(metavar="KIND", help="The job kind, e.g. diagnostic.echo.")
    ] = None,
    kind_opt: Annotated[
        str | None, typer.Option("--kind", "-k", help="The job kind (instead of KIND).")
    ] = None,
    input_json: Annotated[
        str | None, typer.Option("--input", help="The job's input as a JSON object.")
    ] = None,
    items: Annotated[Path | None, typer.Option(
        "--items", help="A batch: one JSON input object per line of this file (- for stdin).")
    ] = None,
    repeat: Annotated[int, typer.Option(
        min=1, max=100_000, help="A batch of this many jobs with the same --input.")] = 1,
    callback_url: Annotated[
        str | None, typer.Option(help="POSTed a signed webhook when the job or batch ends.")
    ] = None,
    wait: Annotated[bool, typer.Option(
        "--wait", help="Wait until every job is final (progress bar); exit 1 if any failed.")
    ] = False,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds --wait waits.")] = 600.0,
    actor: Annotated[str, typer.Option(help="Who submits (recorded in the history).")] = "cli",
) -> None:
    """Submit one job, or a batch (--items FILE or --repeat N), and optionally wait for it."""
    try:
        if (kind_arg is None) == (kind_opt is None):
            raise InvalidInput("name the job kind once: nunchi jobs submit KIND (or --kind KIND)")
        kind = kind_arg or kind_opt or ""
        if items is not None and (input_json is not None or repeat > 1):
            raise InvalidInput("give --items FILE, or --input JSON with --repeat N, not both")
        data = _parse_input(input_json, "--input") if input_json is not None else {}
        with _job_service() as service:
            deadline = time.monotonic() + timeout
            if items is None and repeat == 1:
                job = service.submit(kind, data, callback_url=callback_url, actor=actor)
                out().print(f"job {job.id} queued", highlight=False)
                if wait:
                    _await(service, deadline, job_id=job.id)
                return
            batch_items = _read_items(items) if items is not None else [data] * repeat
            batch = service.submit_batch(kind, batch_items, callback_url=callback_url,
                                         actor=actor)
            out().print(f"batch {batch.id} queued: {batch.total} job(s)", highlight=False)
            if wait:
                _await(service, deadline, batch_id=batch.id)
    except NunchiError as e:
        raise fail(e) from e


@app.command("wait")
def wait_for(
    job_id: Annotated[str | None, typer.Argument(help="The job to wait for.")] = None,
    batch: Annotated[str | None, typer.Option("--batch", help="Wait for this batch.")] = None,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds to wait.")] = 600.0,
) -> None:
    """Wait until a job or a batch is final (progress bar); exit 1 if any job failed,
    3 if time ran out."""
    _one_of(job_id, batch)
    try:
        with _job_service() as service:
            _await(service, time.monotonic() + timeout, job_id=job_id, batch_id=batch)
    except NunchiError as e:
        raise fail(e) from e
