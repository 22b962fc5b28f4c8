"""`nunchi bench`: Benchmarks that print one JSON line.

The workloads live in the ``benchmarks/`` folder of a source checkout (they need test-only
services and packages: Redis, Celery, a Kafka-protocol broker), so these commands run from a
checkout, not from an installed wheel.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from nunchi.cli.console import err, fail
from nunchi.errors import InvalidInput

__all__ = ["app"]

app = typer.Typer(help="Benchmarks that print one JSON line.", no_args_is_help=True)

_BACKENDS = ("sqlite", "kafka", "celery")


def _workloads(module: str) -> ModuleType:
    """Import ``benchmarks.<module>`` from the source checkout (cwd, or the one nunchi is
    installed from in editable mode)."""
    name = f"benchmarks.{module}"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name not in ("benchmarks", name):
            raise
    import nunchi

    for root in (Path.cwd(), Path(nunchi.__file__).resolve().parents[2]):
        if (root / "benchmarks" / f"{module}.py").is_file():
            sys.path.insert(0, str(root))
            sys.modules.pop("benchmarks", None)
            return importlib.import_module(name)
    raise fail(
        InvalidInput(
            "the benchmarks/ folder of a nunchi source checkout was not found; "
            "run `nunchi bench` from the repository root"
        )
    )


def _backends(value: str) -> tuple[str, ...]:
    chosen = {b.strip().lower() for b in value.split(",") if b.strip()}
    unknown = sorted(chosen - set(_BACKENDS))
    if unknown or not chosen:
        raise typer.BadParameter(
            f"unknown backend(s) {', '.join(map(repr, unknown)) or '(none given)'}: "
            f"use a comma-separated list of {','.join(_BACKENDS)}",
            param_hint="--backends",
        )
    return tuple(b for b in _BACKENDS if b in chosen)  # always run in the same order


class _Bars:
    """Rich progress bars on stderr, one per label; a no-op when ``enabled`` is False."""

    def __init__(self, enabled: bool) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            disable=not enabled,
        )
        self._tasks: dict[str, TaskID] = {}
        self._phase: TaskID | None = None

    def __enter__(self) -> _Bars:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._phase is not None:
            self._progress.remove_task(self._phase)
        self._progress.stop()

    def __call__(self, label: str, done: int, total: int) -> None:
        if self._phase is not None:
            self._progress.remove_task(self._phase)
            self._phase = None
        if total <= 0:  # a phase without a count: a spinner line until the next report
            self._phase = self._progress.add_task(label, total=None)
            return
        task = self._tasks.get(label)
        if task is None:
            task = self._tasks[label] = self._progress.add_task(label, total=total)
        self._progress.update(task, completed=done)


_RUNS = ("nunchi_sqlite", "nunchi_kafka", "celery_redis")

# Options that `pipeline` and `batch` share.
_Backends = Annotated[
    str, typer.Option(help="Comma-separated runs: sqlite, kafka (with PostgreSQL), celery.")
]
_ALL_BACKENDS = ",".join(_BACKENDS)
_REDIS_URL = "redis://127.0.0.1:6379/15"
_PostgresUrl = Annotated[
    str,
    typer.Option(
        help="PostgreSQL server for the kafka run (a fresh schema is created and dropped); "
        "default 127.0.0.1:5432/test as postgres or root."
    ),
]
_JsonOnly = Annotated[
    bool, typer.Option("--json-only", help="No progress bars or summary on stderr.")
]


def _run(run: Callable[..., dict[str, Any]], config: object, json_only: bool) -> dict[str, Any]:
    """``run(config, progress=...)``, with progress bars on stderr unless ``json_only``."""
    with _Bars(enabled=not json_only) as bars:
        result: dict[str, Any] = run(config, progress=bars)
    return result


def _emit(
    result: dict[str, Any],
    summary: Callable[[dict[str, Any]], Table],
    json_only: bool,
    *,
    runs: Mapping[str, dict[str, Any] | None] | None = None,
    note: str | None = None,
) -> None:
    """The end of a bench command: unless ``json_only``, the summary table, ``note`` and each
    failed run (``runs``: name -> entry, None when not run; default the ``_RUNS`` entries of
    ``result``) on stderr; the JSON line on stdout; exit 1 when a run failed."""
    if runs is None:
        runs = {key: result[key] for key in _RUNS}
    failed = {key: run["error"] for key, run in runs.items() if run and "error" in run}
    if not json_only:
        err.print(summary(result))
        if note:
            err.print(note)
        for key, error in failed.items():
            err.print(f"[red]{key} failed:[/] {error}")
    sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    sys.stdout.flush()
    if failed:
        raise typer.Exit(code=1)


def _runs_table(
    title: str,
    columns: Sequence[str],
    result: dict[str, Any],
    cells: Callable[[dict[str, Any], float | None], list[str]],
) -> Table:
    """One row per run of a nunchi-vs-Celery bench: ``cells(run, ratio)`` after the run name;
    a failed run says so."""
    table = Table(title=title)
    table.add_column("run", no_wrap=True)
    for column in columns:
        table.add_column(column, justify="right")
    ratios = {
        "nunchi_sqlite": result["ratio_sqlite_vs_celery"],
        "nunchi_kafka": result["ratio_kafka_vs_celery"],
    }
    for key in _RUNS:
        run = result.get(key)
        if run is None:
            continue
        if "error" in run:
            table.add_row(key, "[red]failed[/]", *[""] * (len(columns) - 1))
            continue
        table.add_row(key, *cells(run, ratios.get(key)))
    return table


def _summary(result: dict[str, Any]) -> Table:
    return _runs_table(
        f"nunchi bench pipeline: {result['jobs']} no-op jobs",
        ("jobs/s", "p50 ms", "p99 ms", "submit s", "vs celery"),
        result,
        lambda run, ratio: [
            f"{run['jobs_per_s']:.0f}",
            f"{run['p50_ms']:.0f}",
            f"{run['p99_ms']:.0f}",
            f"{run['submit_s']:.2f}",
            "" if ratio is None else f"{ratio:.2f}x",
        ],
    )


@app.command()
def pipeline(
    jobs: Annotated[
        int, typer.Option("--jobs", "-n", min=1, max=1_000_000, help="No-op jobs per backend.")
    ] = 5000,
    backends: _Backends = _ALL_BACKENDS,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="`nunchi worker` processes per nunchi run.")
    ] = 1,
    concurrency: Annotated[
        int, typer.Option(min=1, max=64, help="Celery prefork children (one worker process).")
    ] = 2,
    redis_url: Annotated[
        str,
        typer.Option(help="Redis for Celery (broker and results); this database is FLUSHED."),
    ] = _REDIS_URL,
    postgres_url: _PostgresUrl = "",
    timeout: Annotated[
        float, typer.Option(min=1.0, help="Seconds to wait for one run's jobs to finish.")
    ] = 600.0,
    json_only: _JsonOnly = False,
) -> None:
    """No-op jobs end to end: jobs/s and p50/p99 submit-to-done latency for nunchi on the
    sqlite and kafka backends and for Celery + Redis, in one JSON line on stdout.

    Exits with 1 when a chosen run failed (its entry then holds "error")."""
    chosen = _backends(backends)
    workloads = _workloads("pipeline")
    config = workloads.BenchConfig(
        jobs=jobs,
        backends=chosen,
        workers=workers,
        concurrency=concurrency,
        redis_url=redis_url,
        postgres_url=postgres_url,
        timeout=timeout,
    )
    result = _run(workloads.run_pipeline, config, json_only)
    _emit(result, _summary, json_only)


def _text_summary(result: dict[str, Any]) -> Table:
    profanity = result["profanity"]
    table = Table(
        title=f"nunchi bench text: profanity on {profanity['heldout_rows']} held-out rows "
        f"of {Path(profanity['data']).name}"
    )
    columns = ("detector", "P", "R", "F1", "R obf.", "F1 obf.", "msgs/s", "chat flagged")
    for column in columns:
        table.add_column(column, justify="left" if column == "detector" else "right")
    for key in ("nunchi", "korcen"):
        run = profanity[key]
        if run is None:
            table.add_row(key, "[yellow]not run[/]", *[""] * (len(columns) - 2))
        elif "error" in run:
            table.add_row(key, "[red]failed[/]", *[""] * (len(columns) - 2))
        else:
            plain, obf = run["heldout"], run["heldout_obfuscated"]
            table.add_row(
                key,
                f"{plain['precision']:.3f}",
                f"{plain['recall']:.3f}",
                f"{plain['f1']:.3f}",
                f"{obf['recall']:.3f}",
                f"{obf['f1']:.3f}",
                f"{run['msgs_per_s_heldout']:,}",
                f"{run['chat_flagged_share']:.2%}",
            )
    return table


@app.command()
def text(
    data: Annotated[
        Path | None,
        typer.Option(
            help="Labelled profanity data: `text|label` lines (1 = profane, 0 = clean).",
            show_default="../shared/data/curse/train.txt next to the checkout",
        ),
    ] = None,
    messages: Annotated[
        int,
        typer.Option(
            "--messages", "-n", min=1, max=1_000_000, help="Generated chat lines to time."
        ),
    ] = 20_000,
    repeats: Annotated[
        int, typer.Option(min=1, max=20, help="Timed passes per figure (the median is kept).")
    ] = 3,
    json_only: Annotated[
        bool, typer.Option("--json-only", help="No progress or summary on stderr.")
    ] = False,
) -> None:
    """Text analyzers in one JSON line on stdout: msgs/s of sentiment, profanity and keywords
    on chat lines, and profanity precision / recall / F1 / msgs/s of nunchi and of korcen on
    the same held-out rows (plain and obfuscated).

    nunchi's recipe is trained in this run on 80 % of the data (under a minute; the shipped model
    has seen every row). korcen missing: its entry is null, with the reason. Exits with 1 when
    a detector failed (its entry then holds "error")."""
    workloads = _workloads("text_bench")
    path: Path = data if data is not None else workloads.default_data()
    if not path.is_file():
        raise fail(
            InvalidInput(
                f"profanity data not found: {path}; pass --data with a file of "
                "`text|label` lines (label 1 = profane, 0 = clean)"
            )
        )
    from nunchi.training.text.profanity import load_rows

    try:
        load_rows(path)
    except InvalidInput as e:
        raise fail(e) from None
    config = workloads.TextBenchConfig(data=path, messages=messages, repeats=repeats)
    result = _run(workloads.run_text, config, json_only)
    profanity = result["profanity"]
    unavailable = profanity["korcen_unavailable"]
    _emit(
        result,
        _text_summary,
        json_only,
        runs={key: profanity[key] for key in ("nunchi", "korcen")},
        note=f"[yellow]korcen not run:[/] {unavailable}" if unavailable else None,
    )


def _kib(size: int | None) -> str:
    """Bytes as KiB for the summary table; empty when the run has no such figure."""
    return "" if size is None else f"{size / 1024:,.0f}"


def _batch_summary(result: dict[str, Any]) -> Table:
    return _runs_table(
        f"nunchi bench batch: POST of {result['items']:,} items, "
        f"{result['repeats']} timed repeats",
        # two-line headers: the table fits 80 columns
        ("p50 ms", "min ms", "max ms", "items/s", "body\nKiB", "queue\nKiB", "celery\n÷ run"),
        result,
        lambda run, ratio: [
            f"{run['p50_s'] * 1000:,.0f}",
            f"{run['min_s'] * 1000:,.0f}",
            f"{run['max_s'] * 1000:,.0f}",
            f"{run['items_per_s_p50']:,}",
            _kib(run.get("request_bytes")),  # nunchi: the POST body
            _kib(run.get("queue_bytes")),  # Celery: the messages its call queued in Redis
            "" if ratio is None else f"{ratio:.1f}x",
        ],
    )


@app.command()
def batch(
    items: Annotated[
        int, typer.Option("--items", "-n", min=1, max=100_000, help="Items in each batch.")
    ] = 10_000,
    repeats: Annotated[
        int, typer.Option(min=1, max=50, help="Timed batches per run, after one warm-up.")
    ] = 5,
    backends: _Backends = _ALL_BACKENDS,
    redis_url: Annotated[
        str, typer.Option(help="Redis for Celery (the broker); this database is FLUSHED.")
    ] = _REDIS_URL,
    postgres_url: _PostgresUrl = "",
    json_only: _JsonOnly = False,
) -> None:
    """Batch submit over HTTP: how long `POST /api/v1/batches` with N items takes to answer
    202, against a `nunchi up --no-workers` process on the sqlite and kafka backends, and how
    long Celery's `group(...).apply_async()` of N tasks takes on Redis; one JSON line on stdout.

    Exits with 1 when a chosen run failed (its entry then holds "error")."""
    chosen = _backends(backends)
    workloads = _workloads("batch_bench")
    config = workloads.BatchBenchConfig(
        items=items,
        repeats=repeats,
        backends=chosen,
        redis_url=redis_url,
        postgres_url=postgres_url,
    )
    result = _run(workloads.run_batch, config, json_only)
    _emit(result, _batch_summary, json_only)


@app.command()
def analyze(
    seconds: Annotated[
        float, typer.Option(min=1.0, max=600.0, help="Seconds of load while the API is timed.")
    ] = 10.0,
) -> None:
    """Text analysis while the caller waits, against a `nunchi up` process: the largest
    request it analyses (1,000 texts, 100,000 characters), the answer to a request past the
    limits (5,000,000 characters), and the API's latency (GET /api/v1/jobs) idle and while
    two largest requests run back to back; one JSON line on stdout."""
    workloads = _workloads("analyze_load")
    result: dict[str, Any] = workloads.run(seconds)
    sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")


def _vision_summary(result: dict[str, Any]) -> Table:
    table = Table(title=f"nunchi bench vision: {result['images']} photos, {result['project']}")
    for column in ("run", "images/s", "p50 ms", "p99 ms"):
        table.add_column(column, justify="left" if column == "run" else "right")
    for run in ("identify", "bare"):
        table.add_row(
            run,
            f"{result[f'{run}_images_per_s']:.2f}",
            f"{result[f'{run}_p50_ms']:.0f}",
            f"{result[f'{run}_p99_ms']:.0f}",
        )
    table.caption = f"overhead {result['overhead_ratio']:+.1%} (goal <= +20%)"
    return table


@app.command()
def vision(
    images: Annotated[
        int, typer.Option("--images", "-n", min=1, max=10_000, help="Photos per run.")
    ] = 60,
    latency_images: Annotated[
        int, typer.Option(min=1, max=10_000, help="Photos sent one at a time.")
    ] = 30,
    rounds: Annotated[int, typer.Option(min=1, max=10, help="Alternating rounds.")] = 2,
    json_only: _JsonOnly = False,
) -> None:
    """Photos classified as `vision.predict` jobs end to end on an embedded platform, beside
    the bare backbone + head on the same photos in the same run: identify_images_per_s,
    bare_images_per_s, overhead_ratio and p50/p99 of both, in one JSON line on stdout."""
    workloads = _workloads("vision_bench")
    config = workloads.VisionBenchConfig(
        images=images, latency_images=latency_images, rounds=rounds
    )
    result = _run(workloads.run_vision, config, json_only)
    _emit(result, _vision_summary, json_only, runs={})


@app.command()
def search(
    generated: Annotated[
        int, typer.Option(min=0, max=5_000_000, help="Items of the generated catalog (0: none).")
    ] = 1_000_000,
    queries: Annotated[int, typer.Option(min=10, max=10_000, help="Queries per class.")] = 200,
    postgres: Annotated[
        bool, typer.Option("--postgres", help="Measure the food catalog on PostgreSQL too.")
    ] = False,
    postgres_url: _PostgresUrl = "",
    json_only: _JsonOnly = False,
) -> None:
    """Catalog search through the real service on the embedded SQLite store: p50/p99 of
    keyword, range and fuzzy queries and of a plain LIKE '%q%' scan over the 12,242-dish
    food catalog and a generated catalog (1,000,000 items by default: its import takes
    minutes); one JSON line on stdout. Pins this process to one CPU."""
    workloads = _workloads("search_bench")
    with workloads.pin_one_cpu() as pinned, _Bars(enabled=not json_only) as bars:
        result: dict[str, Any] = workloads.run(generated, queries, postgres, postgres_url,
                                               progress=bars)
    result["pinned_cpu"] = pinned
    sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")


@app.command()
def chat(
    messages: Annotated[
        int, typer.Option(min=8_000, max=2_000_000, help="Messages of the sustained run.")
    ] = 100_000,
    seconds: Annotated[
        float, typer.Option(min=5.0, max=600.0, help="Seconds of the 1,000 msg/s run.")
    ] = 30.0,
    backends: Annotated[
        str, typer.Option(help="sqlite (embedded) and/or kafka (Kafka + PostgreSQL).")
    ] = "sqlite,kafka",
    postgres_url: _PostgresUrl = "",
) -> None:
    """The live chat pipeline against real nunchi processes: sustained_msgs_per_s (eight
    replays at full speed), p50_ms_at_1000 / p99_ms_at_1000 (receipt to a live page's event
    stream at 1,000 msg/s), analyzers_only_msgs_per_s on the same messages and
    ratio_to_analyzers; embedded defaults, and Kafka + PostgreSQL with two workers beside it.
    One JSON line on stdout."""
    chosen = tuple(b.strip() for b in backends.split(",") if b.strip())
    unknown = sorted(set(chosen) - {"sqlite", "kafka"})
    if unknown or not chosen:
        raise typer.BadParameter(
            f"unknown backend(s) {unknown}: use sqlite and/or kafka", param_hint="--backends"
        )
    workloads = _workloads("chat_bench")
    config = workloads.ChatBenchConfig(
        messages=messages, latency_seconds=seconds, backends=chosen, postgres_url=postgres_url
    )
    result: dict[str, Any] = workloads.run(config)
    sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
