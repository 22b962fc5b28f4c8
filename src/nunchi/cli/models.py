"""`nunchi models`: Train and evaluate the text models."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nunchi.cli.console import fail
from nunchi.errors import NunchiError

__all__ = ["app"]

app = typer.Typer(help="Train and evaluate the text models.", no_args_is_help=True)

_TASKS = ("sentiment", "profanity")
_METRICS = ("rows", "accuracy", "precision", "recall", "f1", "messages_per_s")


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    """A rich progress display (on stderr) driven by ``callback(step, done, total)``."""
    if not enabled:
        yield None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        tasks: dict[str, Any] = {}

        def update(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = bar.add_task(step, total=total)
            bar.update(tasks[step], completed=done, total=total)

        yield update


def _print_card(card: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(card, ensure_ascii=False))
        return
    console = Console()
    console.print(f"wrote [bold]{card.get('path', '?')}[/]", highlight=False)
    rows = [(name, card[name]) for name in ("val", "test") if isinstance(card.get(name), dict)]
    if not rows and "accuracy" in card:  # a flat card: the figures are on the validation part
        rows = [("validation", card)]
    if rows:
        _metrics_table(rows, console, title="held-out figures")
    extra = {k: v for k, v in card.items() if not isinstance(v, dict)}
    console.print(json.dumps(extra, ensure_ascii=False), highlight=False, soft_wrap=True)


def _metrics_table(rows: list[tuple[str, dict[str, Any]]], console: Console, title: str) -> None:
    table = Table(title=title)
    table.add_column("model")
    for metric in _METRICS:
        table.add_column(metric.replace("messages_per_s", "messages/s"), justify="right")
    for name, figures in rows:
        cells = []
        for metric in _METRICS:
            value = figures.get(metric, figures.get("n") if metric == "rows" else None)
            if metric in ("rows", "messages_per_s") and isinstance(value, float):
                value = round(value)
            cells.append("-" if value is None else f"{value:.4f}" if isinstance(value, float)
                         else f"{value:,}" if isinstance(value, int) else str(value))
        table.add_row(name, *cells)
    console.print(table)


@app.command("train-sentiment")
def train_sentiment_cmd(
    data: Annotated[Path, typer.Option(help="NSMC folder with train.tsv (+ extra.tsv).")] = Path(
        "../shared/data/nsmc"
    ),
    out: Annotated[
        Path | None,
        typer.Option(help="Model file (.npz) or folder; default: the shipped model's file."),
    ] = None,
    variant: Annotated[str, typer.Option(help="fast | accurate")] = "fast",
    seed: Annotated[int, typer.Option(help="Seed of the split and of training.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the model card as JSON.")] = False,
) -> None:
    """Train a sentiment model on NSMC and print its held-out figures (one core: fast about
    5 minutes, accurate about 12)."""
    from nunchi.analyzers.text import sentiment
    from nunchi.training.text import sentiment as train_sentiment

    try:
        target = out if out is not None else sentiment.default_model_path(variant)
        with _progress(not as_json) as progress:
            card = train_sentiment.train(data, target, seed=seed, variant=variant,
                                         progress=progress)
    except NunchiError as e:
        raise fail(e) from e
    _print_card(card, as_json)


@app.command("train-profanity")
def train_profanity_cmd(
    data: Annotated[Path, typer.Option(help="Labelled `text|label` file.")] = Path(
        "../shared/data/curse/train.txt"
    ),
    out: Annotated[
        Path | None, typer.Option(help="Model file; default: the shipped model's file.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the split and of training.")] = 0,
    val_fraction: Annotated[float, typer.Option(min=0.0, max=0.5,
                                                help="Share held out for validation.")] = 0.2,
    ship: Annotated[bool, typer.Option(
        "--ship/--no-ship",
        help="Measure the recipe on the held-out part, then train on ALL rows (the shipped"
             " model). --no-ship writes the model trained on the rest only.")] = True,
    extra: Annotated[list[Path] | None, typer.Option(
        help="More `text|label` rows for training only, e.g. the chat moderators' labels"
             " (`nunchi chat export --labels`); a text they label overrides its other rows.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the model card as JSON.")] = False,
) -> None:
    """Train the profanity detector and print its held-out figures."""
    from nunchi.analyzers.text import profanity
    from nunchi.training.text import profanity as train_profanity

    try:
        target = out if out is not None else profanity.DEFAULT_MODEL_PATH
        if ship and val_fraction > 0:
            shipped = train_profanity.ship(data, target, seed=seed, val_fraction=val_fraction,
                                           extra=extra or ())
            card = {**shipped["recipe_holdout"], "trained_on": "all rows",
                    "figures": f"recipe trained on {1 - val_fraction:.0%}, measured on the rest"}
        else:
            card = train_profanity.train(data, target, seed=seed, val_fraction=val_fraction,
                                         extra=extra or ())
    except NunchiError as e:
        raise fail(e) from e
    card = dict(card)
    card.setdefault("path", str(target))
    _print_card(card, as_json)


def _sentiment_figures(rows: list[tuple[str, int]], variant: str, model: Path | None
                       ) -> list[tuple[str, dict[str, Any]]]:
    from nunchi.analyzers.text.sentiment import VARIANTS, SentimentClassifier, default_model_path
    from nunchi.training.text.sentiment import evaluate

    if model is not None:
        classifier = SentimentClassifier.load(model)
        return [(str(model), evaluate(classifier, rows))]
    names: tuple[str, ...] = (variant,)
    if variant == "all":  # every shipped variant (a build may lack the accurate one)
        names = tuple(v for v in VARIANTS if default_model_path(v).is_file()) or VARIANTS
    return [(f"sentiment-{name}", evaluate(SentimentClassifier.load(variant=name), rows))
            for name in names]


def _profanity_figures(rows: list[tuple[str, int]], model: Path | None
                       ) -> list[tuple[str, dict[str, Any]]]:
    from nunchi.analyzers.text import profanity
    from nunchi.training.text import profanity as train_profanity

    detector_cls = profanity.ProfanityDetector
    detector = detector_cls.load(model) if model is not None else detector_cls.load()
    return [("profanity", {"rows": len(rows), **train_profanity.evaluate(detector, rows)})]


@app.command("eval")
def eval_cmd(
    task: Annotated[str, typer.Option(help="sentiment | profanity")],
    file: Annotated[Path, typer.Option(help="Labelled file to evaluate on.")],
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="tsv (`[id<TAB>]text<TAB>label`) | pipe (`text|label`); "
                     "default: tsv for sentiment, pipe for profanity."),
    ] = None,
    variant: Annotated[str, typer.Option(help="Sentiment model: fast | accurate | all.")] = "all",
    model: Annotated[Path | None, typer.Option(help="Evaluate this model file instead.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N rows.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per model.")] = False,
) -> None:
    """Print accuracy, precision, recall, F1 and messages/s of each model on a labelled file."""
    from nunchi.training.text.data import read_labelled

    if task not in _TASKS:
        raise typer.BadParameter(f"unknown task {task!r}: use sentiment or profanity",
                                 param_hint="--task")
    if variant not in ("fast", "accurate", "all"):
        raise typer.BadParameter(f"unknown variant {variant!r}: use fast, accurate or all",
                                 param_hint="--variant")
    chosen = fmt or ("tsv" if task == "sentiment" else "pipe")
    if chosen not in ("tsv", "pipe"):
        raise typer.BadParameter(f"unknown format {chosen!r}: use tsv or pipe",
                                 param_hint="--format")
    try:
        rows = read_labelled(file, chosen)[:limit]
        figures = (_sentiment_figures(rows, variant, model) if task == "sentiment"
                   else _profanity_figures(rows, model))
    except NunchiError as e:
        raise fail(e) from e
    if as_json:
        for name, values in figures:
            typer.echo(json.dumps({"model": name, **values, "file": str(file)},
                                  ensure_ascii=False))
        return
    _metrics_table(figures, Console(), title=f"{task} on {file}")


@app.command("heldout-sentiment")
def heldout_sentiment_cmd(
    out: Annotated[Path, typer.Option(help="Where to write the held-out reviews (TSV).")],
    data: Annotated[Path, typer.Option(help="NSMC folder with train.tsv.")] = Path(
        "../shared/data/nsmc"
    ),
    seed: Annotated[int, typer.Option(help="Seed of the split (as used in training).")] = 0,
) -> None:
    """Write the sentiment models' held-out test split (never trained on) as `text<TAB>label`."""
    from nunchi.training.text.sentiment import write_heldout

    try:
        count = write_heldout(data, out, seed=seed)
    except NunchiError as e:
        raise fail(e) from e
    typer.echo(f"wrote {count} rows to {out}")
