"""A test app that plugs into nunchi only through the app contract: nothing outside the tests
names it. It has a job kind, a stream stage, a background loop, a table with its own migration,
an API route, a page with its own template and texts, and a CLI command."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import typer
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import insert, select
from starlette.responses import Response

from nunchi.apps.base import App, Figure
from nunchi.core import Core
from nunchi.jobs.kinds import JobContext, JobKind
from nunchi.runtime.background import Background, every
from nunchi.runtime.stage import Delivery, Stage, StageContext
from nunchi.web.deps import app_services
from nunchi.web.pages.rendering import render
from tests.apps.sample.models import SampleNote, notes_table

__all__ = ["SAMPLE_APP", "SAMPLE_EVENTS", "SampleServices"]

SAMPLE_EVENTS = "sample.events"
"""The sample app's own topic (named here, never in nunchi's bus package)."""


@dataclass
class SampleServices:
    """What the sample app builds once per process from the core."""

    core: Core
    ticks: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def notes(self) -> list[str]:
        with self.core.sessions() as s:
            return list(s.scalars(select(SampleNote.text).order_by(SampleNote.id)))

    def add_note(self, text: str) -> None:
        with self.core.sessions.begin() as s:
            s.execute(insert(notes_table).values(text=text))

    def tick(self) -> None:
        with self.lock:
            self.ticks += 1


class CountInput(BaseModel):
    """Input of ``sample.count``."""

    model_config = ConfigDict(extra="forbid")

    n: int = Field(ge=0, le=1000)


def _kinds(core: Core, services: SampleServices) -> Sequence[JobKind[Any]]:
    def run(ctx: JobContext, data: CountInput) -> dict[str, Any]:
        assert ctx.sessions is core.sessions and ctx.client is core.client
        return {"counted": list(range(data.n)), "settings_dir": str(ctx.settings.data_dir)}

    return [JobKind("sample.count", CountInput, run, example={"n": 3})]


def _stages(core: Core, services: SampleServices) -> Sequence[Stage]:
    def handle(delivery: Delivery, ctx: StageContext) -> None:
        services.add_note(delivery.record.value.decode("utf-8"))

    return [Stage(name="sample.notes", topic=SAMPLE_EVENTS, handle=handle)]


def _background(core: Core, services: SampleServices) -> Sequence[Background]:
    return [every("sample.ticker", 0.05, services.tick)]


def _api(app: App[SampleServices]) -> APIRouter:
    router = APIRouter()

    @router.get("/notes")
    def notes(request: Request) -> dict[str, list[str]]:
        return {"notes": app_services(request, app).notes()}

    return router


def _pages(app: App[SampleServices]) -> APIRouter:
    router = APIRouter()

    @router.get("/sample")
    def page(request: Request) -> Response:
        notes = app_services(request, app).notes()
        return render(request, "sample/index.html", {"notes": notes})

    return router


def _cli(app: App[SampleServices]) -> typer.Typer:
    cli = typer.Typer(help="The sample app.")

    @cli.command("hello")
    def hello(name: str = "world") -> None:
        """Say hello."""
        typer.echo(f"sample says hello to {name}")

    @cli.command("bye")
    def bye() -> None:
        """Say goodbye."""
        typer.echo("bye")

    return cli


SAMPLE_APP: App[SampleServices] = App(
    name="sample",
    title={"ko": "견본 앱", "en": "Sample app"},
    summary={"ko": "계약만으로 끼워 넣은 시험용 앱", "en": "A test app plugged in by contract"},
    package="tests.apps.sample",
    services=SampleServices,
    path="/sample",
    kinds=_kinds,
    stages=_stages,
    background=_background,
    models=("tests.apps.sample.models",),
    migrations=True,
    api=_api,
    pages=_pages,
    cli=_cli,
    figure=lambda s: Figure(s.ticks, "sample.figure", "/sample"),
)
