"""``nunchi catalog``: import tables into catalogs, search them, identify photos, rankings.

``nunchi catalog import KIND FILE --map '이름=name,열량=energy_kcal' --source '누가 펴낸 자료'``
reads CSV (UTF-8 or CP949), TSV, JSON lines or xlsx; ``nunchi catalog search KIND QUERY``
prints one JSON object a line, best first, each with ``name``.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from nunchi.apps.base import App
from nunchi.apps.catalog.mapping import ColumnMapping
from nunchi.apps.catalog.query import Range, SearchQuery
from nunchi.apps.catalog.services import CatalogServices
from nunchi.cli.console import err, fail
from nunchi.config import get_settings
from nunchi.errors import InvalidInput, NunchiError
from nunchi.inputs.images import load_image

__all__ = ["catalog_cli", "parse_bounds"]


@contextlib.contextmanager
def _services(app: App[CatalogServices]) -> Iterator[CatalogServices]:
    """The catalog services of a platform opened from the settings (every app, nothing
    started)."""
    from nunchi.apps import APPS
    from nunchi.assembly import open_platform

    apps = [a for a in APPS if a.name != app.name] + [app]
    platform = open_platform(get_settings(), apps)
    try:
        yield platform.services(app)
    finally:
        platform.close()


def parse_bounds(values: list[str], side: str) -> dict[str, float]:
    """``attr=number`` options (``--min energy_kcal=100``) as a dict."""
    out: dict[str, float] = {}
    for value in values:
        attr, eq, number = value.partition("=")
        try:
            out[attr.strip()] = float(number)
        except ValueError:
            eq = ""
        if not eq:
            raise typer.BadParameter(f"write attr=number, e.g. energy_kcal=100 (got {value!r})",
                                     param_hint=f"--{side}")
    return out


def _print(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")


def catalog_cli(app: App[CatalogServices]) -> typer.Typer:
    """The ``nunchi catalog`` command group."""
    cli = typer.Typer(help="Catalogs: import, search, identify photos, rankings.",
                      no_args_is_help=True)

    @cli.command("import")
    def import_(
        kind: Annotated[str, typer.Argument(help="The catalog: food, plant or a new kind.")],
        file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
        source: Annotated[str, typer.Option(help="Who published the data (kept as the "
                                            "attribution of every item).")],
        map_: Annotated[str | None, typer.Option("--map", help="column=target,... (targets: "
                        "key name maker category alias search serving basis, number:<attr>, "
                        "text:<attr> or <attr>).")] = None,
        mapping_file: Annotated[Path | None, typer.Option(help="The mapping as a file: JSON "
                                "{column: target} or column=target lines.")] = None,
        null: Annotated[list[str] | None, typer.Option(help="A cell value that means empty "
                        "(repeat), e.g. 해당없음.")] = None,
        encoding: Annotated[str | None, typer.Option(help="Force a text encoding (cp949, "
                            "utf-8); by default judged from the bytes.")] = None,
        licence: Annotated[str | None, typer.Option(help="The data's licence.")] = None,
        url: Annotated[str | None, typer.Option(help="Where the data was published.")] = None,
    ) -> None:
        """Import a table into a catalog with a column mapping; prints one JSON line."""
        if (map_ is None) == (mapping_file is None):
            raise typer.BadParameter("give --map or --mapping-file (one of them)")
        try:
            if map_ is not None:
                mapping = ColumnMapping.parse(map_, null or [])
            else:
                assert mapping_file is not None
                mapping = ColumnMapping.from_file(mapping_file, null or [])
            with _services(app) as services:
                done = services.import_table(kind, file.read_bytes(), mapping, source=source,
                                             file=file.name, url=url, licence=licence,
                                             encoding=encoding)  # fmt: skip
        except NunchiError as e:
            raise fail(e) from e
        _print(done)

    @cli.command("search")
    def search(
        kind: Annotated[str, typer.Argument(help="The catalog: food, plant, ...")],
        query: Annotated[str, typer.Argument(help="Text; typos, ㄱㅊ and rlacl work. '' for "
                                             "all.")],
        limit: Annotated[int, typer.Option(min=1, max=100)] = 10,
        min_: Annotated[list[str] | None, typer.Option("--min", help="attr=number.")] = None,
        max_: Annotated[list[str] | None, typer.Option("--max", help="attr=number.")] = None,
        sort: Annotated[str | None, typer.Option(help="relevance, name, popular, <attr>, "
                                                 "-<attr>.")] = None,
    ) -> None:
        """Search a catalog: one JSON object a line, best first, each with ``name``."""
        lows, highs = parse_bounds(min_ or [], "min"), parse_bounds(max_ or [], "max")
        ranges = tuple(Range(a, lows.get(a), highs.get(a)) for a in sorted({*lows, *highs}))
        try:
            with _services(app) as services:
                page = services.find(SearchQuery(kind=kind, q=query or None, ranges=ranges,
                                                 sort=sort, limit=limit))  # fmt: skip
        except NunchiError as e:
            raise fail(e) from e
        for item in page.items:
            _print(item)

    @cli.command("identify")
    def identify(
        kind: Annotated[str, typer.Argument(help="food or plant")],
        files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False)],
    ) -> None:
        """Identify photos here and now (no job; not counted in the rankings): one JSON
        line per file, ``{file, status, ...}``."""
        try:
            with _services(app) as services:
                for path in files:
                    try:
                        photo = load_image(path.read_bytes(), name=path.name)
                    except InvalidInput as e:
                        err.print(f"{path}: {e}", markup=False)
                        continue
                    _print({"file": str(path), **services.identify(kind, photo.image)})
        except NunchiError as e:
            raise fail(e) from e

    @cli.command("rankings")
    def rankings(
        kind: Annotated[str, typer.Argument(help="food or plant (or any kind)")],
        window: Annotated[str, typer.Option(help="hour or all")] = "all",
        limit: Annotated[int, typer.Option(min=1, max=100)] = 10,
    ) -> None:
        """The most identified items: one JSON line each, ``{name, id, count}``."""
        try:
            with _services(app) as services:
                rows = services.rankings(kind, window, limit)
        except NunchiError as e:
            raise fail(e) from e
        for row in rows:
            _print({"name": row["item"]["name"], "id": row["item"]["id"], "count": row["count"]})

    return cli
