"""``nunchi vision``: train, use and evaluate image classifiers from the command line, on the
store of the configured settings (in this process: no worker needed)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from nunchi.analyzers.vision.recipes import DEFAULT_RECIPE
from nunchi.apps.base import App
from nunchi.apps.vision.schemas import TrainRequest
from nunchi.apps.vision.service import VisionServices
from nunchi.cli.console import err, fail, out
from nunchi.config import get_settings
from nunchi.errors import Conflict, InvalidInput, NotFound, NunchiError

__all__ = ["metrics_tables", "vision_cli"]


def metrics_tables(metrics: dict[str, Any], title: str) -> list[Table]:
    """An iteration's held-out figures as tables: per tag, then the confusion matrix."""
    tags = Table(title=title)
    for column in ("tag", "precision", "recall", "F1", "held out"):
        tags.add_column(column, justify="left" if column == "tag" else "right")
    for tag, m in (metrics.get("per_tag") or {}).items():
        tags.add_row(
            tag, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}", str(m["support"])
        )
    labels = [label if label is not None else "(unknown)" for label in metrics.get("labels", [])]
    confusion = Table(title="confusion on held-out photos (rows: truth, columns: answer)")
    confusion.add_column("")
    for label in labels:
        confusion.add_column(label, justify="right")
    for label, row in zip(labels, metrics.get("confusion", []), strict=False):
        confusion.add_row(label, *(str(v) for v in row))
    return [tags, confusion]


def vision_cli(app: App[VisionServices]) -> typer.Typer:
    """The ``nunchi vision`` command group."""
    cli = typer.Typer(help="Image classifiers: train, predict, evaluate.", no_args_is_help=True)

    @contextmanager
    def services() -> Iterator[VisionServices]:
        from nunchi.assembly import open_platform

        platform = open_platform(get_settings())
        try:
            yield platform.services(app)
        finally:
            platform.close()

    @cli.command("train")
    def train(
        project: Annotated[str, typer.Option(help="Project name (created when missing).")],
        images: Annotated[Path, typer.Option(help="Folder of <tag>/<photo> files.")],
        recipe: Annotated[
            str, typer.Option(help="precise | accurate | fast (new projects).")
        ] = DEFAULT_RECIPE,
        method: Annotated[str, typer.Option(help="lda | logistic")] = "lda",
        holdout: Annotated[float, typer.Option(min=0.0, max=0.5, help="Share held out.")] = 0.2,
        publish: Annotated[bool, typer.Option(help="Publish the new iteration.")] = True,
    ) -> None:
        """Add the photos of IMAGES/<tag>/ to the project, train an iteration, publish it;
        prints one JSON line (what was added and refused, the iteration's figures)."""
        try:
            settings = TrainRequest.model_validate({"method": method, "holdout": holdout})
            with services() as service:
                with suppress(Conflict):
                    service.create_project(project, recipe=recipe)
                report = service.imports.folder(project, images)
                for failure in report.failed:
                    err.print(f"skipped {failure.item}: {failure.message}", highlight=False)
                done = service.iterations.train_now(project, settings.settings())
                if publish:
                    done = service.iterations.publish(project, done.number)
        except NunchiError as e:
            raise fail(e) from e
        except ValueError as e:
            raise fail(InvalidInput(str(e))) from e
        metrics = done.metrics or {}
        for table in metrics_tables(metrics, f"{project} iteration {done.number}"):
            err.print(table)
        line = {
            "project": project,
            "iteration": done.number,
            "published": done.published,
            "added": report.added,
            "duplicates": report.duplicates,
            "failed": [f.model_dump() for f in report.failed],
            "accuracy": metrics.get("accuracy"),
            "top1_accuracy": metrics.get("top1_accuracy"),
            "heldout_images": metrics.get("heldout_images"),
        }
        typer.echo(json.dumps(line, ensure_ascii=False))

    @cli.command("predict")
    def predict(
        project: Annotated[str, typer.Option(help="A project with a published iteration.")],
        files: Annotated[list[Path], typer.Argument(help="Photos to classify.")],
        top_k: Annotated[int, typer.Option(min=1, max=20, help="Tags listed per photo.")] = 3,
    ) -> None:
        """One JSON line per file with file, tag, probability and top (pairs of tag and
        probability, best first); tag is null when the classifier is unsure. A file that
        cannot be read gets file and error, and the command ends with status 2."""
        from nunchi.inputs.images import load_image

        failed = False
        try:
            with services() as service:
                if service.published.model(project) is None:
                    raise NotFound(f"project {project!r} has no published iteration")
                for path in files:
                    try:
                        photo = load_image(path.read_bytes(), name=path.name)
                    except (NunchiError, OSError) as e:
                        failed = True
                        typer.echo(
                            json.dumps({"file": str(path), "error": str(e)}, ensure_ascii=False)
                        )
                        continue
                    (p,) = service.published.predict(project, [photo], top_k)
                    record = {
                        "file": str(path),
                        "tag": p.tag,
                        "probability": p.probability,
                        "top": [[t, q] for t, q in p.top],
                    }
                    typer.echo(json.dumps(record, ensure_ascii=False))
                    sys.stdout.flush()
        except NunchiError as e:
            raise fail(e) from e
        if failed:
            raise typer.Exit(code=2)

    @cli.command("eval")
    def evaluate(
        project: Annotated[str | None, typer.Option(help="Report a project's iteration.")] = None,
        iteration: Annotated[int | None, typer.Option(help="Default: the published one.")] = None,
        images: Annotated[
            Path | None, typer.Option(help="Or: a few-shot run on a folder of <tag>/<photo>.")
        ] = None,
        shots: Annotated[int, typer.Option(min=1, help="Training photos per tag.")] = 10,
        seeds: Annotated[int, typer.Option(min=1, max=100, help="Random splits.")] = 10,
        recipe: Annotated[str, typer.Option(help="precise | accurate | fast")] = DEFAULT_RECIPE,
        method: Annotated[str, typer.Option(help="lda | logistic")] = "lda",
        as_json: Annotated[bool, typer.Option("--json", help="Only the JSON line.")] = False,
    ) -> None:
        """The figures of an iteration (held-out metrics, confusion matrix), or of a few-shot
        run: SHOTS photos per tag train, the rest test, over SEEDS splits."""
        try:
            if (project is None) == (images is None):
                raise InvalidInput("give --project (an iteration's figures) or --images (few-shot)")
            if images is not None:
                report = _few_shot(images, shots, seeds, recipe, method)
                if not as_json:
                    acc = report["accuracy"]
                    err.print(
                        f"{shots}-shot accuracy over {seeds} seeds: mean {acc['mean']:.4f}, "
                        f"min {acc['min']:.4f}, max {acc['max']:.4f}"
                    )
                typer.echo(json.dumps(report, ensure_ascii=False))
                return
            assert project is not None
            with services() as service:
                if iteration is None:
                    number = service.project(project).published_iteration
                    if number is None:
                        raise NotFound(
                            f"project {project!r} has nothing published: give --iteration"
                        )
                else:
                    number = iteration
                found = service.iterations.get(project, number)
        except NunchiError as e:
            raise fail(e) from e
        metrics = found.metrics or {}
        if not as_json:
            for table in metrics_tables(metrics, f"{project} iteration {found.number}"):
                out().print(table)
        typer.echo(json.dumps(found.model_dump(mode="json"), ensure_ascii=False))

    return cli


def _few_shot(root: Path, shots: int, seeds: int, recipe: str, method: str) -> dict[str, Any]:
    """Embed the photos of ``root/<tag>/`` and run the few-shot study."""
    from nunchi.analyzers.vision.recipes import recipe as recipe_named
    from nunchi.analyzers.vision.trainer import few_shot
    from nunchi.inputs.archives import iter_folder
    from nunchi.inputs.images import load_image

    chosen = recipe_named(recipe)
    photos, tags = [], []
    for entry in iter_folder(root):
        if entry.data is None or entry.tag is None:
            continue
        try:
            photos.append(load_image(entry.data, name=entry.path).image)
        except NunchiError:
            continue
        tags.append(entry.tag)
    if not photos:
        raise InvalidInput(f"no readable photos under {root}/<tag>/")
    vectors = chosen.embed(photos)
    settings = TrainRequest.model_validate({"method": method}).settings()
    report = few_shot(vectors, tags, settings, shots=shots, seeds=seeds)
    return {"data": str(root), "images": len(photos), "recipe": recipe, **report}
