"""The app contract: everything an app contributes, declared in one :class:`App`.

An app is one package under ``nunchi/apps/`` (or anywhere importable, e.g. a test's) that
defines an ``App`` and is named in the one explicit list, :data:`nunchi.apps.APPS`. The
composition root (:mod:`nunchi.assembly`) reads the list and wires each app:

- ``services(core)`` builds the app's services once per process (cheap: models load on first
  use); the other factories and the app's routes and commands get that object.
- ``kinds`` / ``stages`` / ``background`` are the app's job kinds (registered in the process's
  registry, so ``nunchi jobs submit`` knows them in any process), stream stages and background
  loops (run by ``nunchi up`` and ``nunchi worker --stage NAME``).
- ``models`` / ``migrations``: the modules declaring its tables and whether the package has a
  ``migrations/`` folder (an Alembic branch labelled with the app's name).
- ``api`` is mounted under ``/api/v1/<name>``; ``pages`` at the site root (its paths start with
  ``/<name>``), rendered from the package's ``templates/`` folder, which templates reach as
  ``<name>/…``; ``locales/ko.json`` and ``locales/en.json`` hold its texts, keys starting with
  ``<name>.``.
- ``cli`` becomes ``nunchi <name> …``; ``figure`` is the live number on its home-page card.

The core never names an app; an app never edits the core (its topics live in its own package).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter

    from nunchi.core import Core
    from nunchi.jobs.kinds import JobKind
    from nunchi.runtime.background import Background
    from nunchi.runtime.stage import Stage

__all__ = ["App", "Figure", "no_parts"]

S = TypeVar("S")

_NAME = re.compile(r"^[a-z][a-z0-9]{1,19}$")
_LANGUAGES = ("ko", "en")


def no_parts(core: Core, services: Any) -> Sequence[Any]:
    """The default of ``kinds``, ``stages`` and ``background``: none."""
    return ()


@dataclass(frozen=True)
class Figure:
    """The live number on an app's home-page card: ``value`` with a label (message key of
    the app's locales, e.g. ``text.figure``), and an optional link."""

    value: int | float | str
    label: str
    href: str | None = None


@dataclass(frozen=True)
class App(Generic[S]):
    """One app: see the module docstring for what each part is."""

    name: str
    """Package-style name: lowercase letters and digits (``chat``, ``vision``)."""
    title: Mapping[str, str]
    """Its name in each language, ``{"ko": …, "en": …}``: navigation bar and home card."""
    summary: Mapping[str, str]
    """One sentence per language for the home card."""
    package: str
    """The module whose folder holds ``templates/``, ``locales/`` and ``migrations/``."""
    services: Callable[[Core], S]
    path: str | None = None
    """The app's main page (navigation entry and card link); None for an app without pages."""
    kinds: Callable[[Core, S], Sequence[JobKind[Any]]] = no_parts
    stages: Callable[[Core, S], Sequence[Stage]] = no_parts
    background: Callable[[Core, S], Sequence[Background]] = no_parts
    models: Sequence[str] = ()
    migrations: bool = False
    api: Callable[[App[S]], APIRouter] | None = None
    """Builds the API router, given this app (its routes reach the services through it)."""
    api_aliases: Sequence[str] = ()
    """Other names under ``/api/v1/`` that serve the same API, outside the OpenAPI document
    (``catalogs`` beside ``catalog``: the plural is the path the catalog API was asked for)."""
    pages: Callable[[App[S]], APIRouter] | None = None
    cli: Callable[[App[S]], typer.Typer] | None = None
    figure: Callable[[S], Figure] | None = None
    order: int = field(default=100, compare=False)
    """Position in the navigation bar and on the home page (smaller first)."""

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"bad app name {self.name!r}: use 2-20 lowercase letters/digits")
        for alias in self.api_aliases:
            if not _NAME.match(alias) or alias == self.name:
                raise ValueError(f"app {self.name!r}: bad API alias {alias!r}")
        for what, texts in (("title", self.title), ("summary", self.summary)):
            missing = [lang for lang in _LANGUAGES if not texts.get(lang)]
            if missing:
                raise ValueError(f"app {self.name!r}: {what} needs {', '.join(missing)}")
        if self.path is not None and not (
            self.path == f"/{self.name}" or self.path.startswith(f"/{self.name}/")
        ):
            raise ValueError(f"app {self.name!r}: its path must start with /{self.name}")

    def folder(self, name: str) -> Path | None:
        """The package's ``name`` folder (``templates``, ``locales``, ``migrations``), if any."""
        found = resources.files(self.package).joinpath(name)
        path = Path(str(found))
        return path if path.is_dir() else None

    def migration_dir(self) -> Path | None:
        """The app's Alembic revisions, when it declares ``migrations``."""
        if not self.migrations:
            return None
        folder = self.folder("migrations")
        if folder is None:
            raise ValueError(f"app {self.name!r} declares migrations but has no migrations/")
        return folder

    def text(self, texts: Mapping[str, str], lang: str) -> str:
        """``texts`` (``title`` or ``summary``) in ``lang``, Korean when missing."""
        return texts.get(lang) or texts["ko"]
