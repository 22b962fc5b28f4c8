"""``nunchi text``: analyse texts from the command line."""

from __future__ import annotations

import contextlib
import json
import select
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Annotated, Any, TextIO

import typer

from nunchi.apps.base import App
from nunchi.apps.text.service import TASKS, TextAnalysisService
from nunchi.cli.console import fail
from nunchi.errors import NunchiError

__all__ = ["parse_tasks", "text_cli"]

Analyzer = Callable[[Sequence[str]], list[Any]]


def parse_tasks(values: Sequence[str]) -> list[str]:
    """Tasks from repeated and/or comma-separated ``--task`` values, in order, no repeats."""
    tasks: list[str] = []
    for value in values:
        for part in value.split(","):
            name = part.strip().lower()
            if not name:
                continue
            if name not in TASKS:
                raise typer.BadParameter(
                    f"unknown task {name!r}: use {', '.join(TASKS)} (repeat --task or "
                    "separate with commas)",
                    param_hint="--task",
                )
            if name not in tasks:
                tasks.append(name)
    if not tasks:
        raise typer.BadParameter(f"name at least one of {', '.join(TASKS)}", param_hint="--task")
    return tasks


def _more_waiting(stream: TextIO) -> bool:
    """Whether more input is ready now (so a batch can grow without waiting on a live stream)."""
    try:
        ready, _, _ = select.select([stream], [], [], 0)
    except (OSError, ValueError, TypeError, AttributeError):
        return True  # not a selectable stream (a test's buffer): fill batches by size
    return bool(ready)


def _batches(stream: TextIO, size: int) -> Iterator[list[str]]:
    """Lines of ``stream`` (without their line ending) in batches of at most ``size``; a batch
    is cut early when no more input is waiting, so a live stream is answered promptly."""
    batch: list[str] = []
    for line in iter(stream.readline, ""):
        batch.append(line.rstrip("\r\n"))
        if len(batch) >= size or not _more_waiting(stream):
            yield batch
            batch = []
    if batch:
        yield batch


def _utf8(stdin: TextIO, stdout: TextIO) -> None:
    """Read and write UTF-8 whatever the locale; undecodable input bytes become U+FFFD."""
    for stream, errors in ((stdin, "replace"), (stdout, "strict")):
        # A stream that cannot be reconfigured (some test runners) is used as it is.
        with contextlib.suppress(AttributeError, ValueError, OSError):
            stream.reconfigure(encoding="utf-8", errors=errors)  # type: ignore[attr-defined]


def _analyzer(task: str, variant: str) -> Analyzer:
    if task == "sentiment":
        from nunchi.analyzers.text.sentiment import SentimentClassifier

        classifier = SentimentClassifier.load(variant=variant)
        return lambda texts: [r.to_dict() for r in classifier.score_batch(texts)]
    if task == "profanity":
        from nunchi.analyzers.text.profanity import ProfanityDetector

        detector = ProfanityDetector.load()
        return lambda texts: [r.to_dict() for r in detector.score_batch(list(texts))]
    from nunchi.analyzers.text.keywords import KeywordExtractor

    extractor = KeywordExtractor()
    return lambda texts: [{"keywords": words} for words in extractor.extract_batch(texts)]


def text_cli(app: App[TextAnalysisService]) -> typer.Typer:
    """The ``nunchi text`` command group."""
    cli = typer.Typer(help="Analyse Korean text: sentiment, profanity, keywords.")

    @cli.command("analyze")
    def analyze(
        task: Annotated[
            list[str],
            typer.Option(help="sentiment | profanity | keywords; repeat or separate with commas."),
        ],
        variant: Annotated[str, typer.Option(help="Sentiment model: fast | accurate.")] = "fast",
        batch_size: Annotated[
            int, typer.Option(min=1, max=100_000, help="Most lines scored together.")
        ] = 512,
    ) -> None:
        """Read one text per line on stdin; write one JSON object per line on stdout.

        With one task the object is ``{"text", <that task's fields>}`` (sentiment: label,
        score; profanity: profane, score, spans, masked; keywords: keywords). With several,
        each task's fields sit under its name: ``{"text", "sentiment": {...}, ...}``.
        """
        tasks = parse_tasks(task)
        if variant not in ("fast", "accurate"):
            raise typer.BadParameter(
                f"unknown variant {variant!r}: use fast or accurate", param_hint="--variant"
            )
        try:
            analyzers = {name: _analyzer(name, variant) for name in tasks}
            out = sys.stdout
            _utf8(sys.stdin, out)
            for batch in _batches(sys.stdin, batch_size):
                results = {name: analyze(batch) for name, analyze in analyzers.items()}
                lines = []
                for i, text in enumerate(batch):
                    record: dict[str, Any] = {"text": text}
                    if len(tasks) == 1:
                        record.update(results[tasks[0]][i])
                    else:
                        for name in tasks:
                            fields = results[name][i]
                            record[name] = fields["keywords"] if name == "keywords" else fields
                    lines.append(json.dumps(record, ensure_ascii=False))
                out.write("\n".join(lines) + "\n")
                out.flush()
        except NunchiError as e:
            raise fail(e) from e
        except BrokenPipeError:  # `| head`: the reader left, which is fine
            raise typer.Exit(code=0) from None

    return cli
