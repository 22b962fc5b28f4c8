"""What routes and pages take from the running process, as FastAPI dependencies.

The app factory puts one :class:`WebState` on ``app.state.web`` (the platform of this process,
the API keys, the readiness checks); every route reaches a service through these ``Annotated``
types, and an app's routes reach its own services with :func:`app_services`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, TypeVar

from fastapi import Depends, Path, Query
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import HTTPConnection

from nunchi.assembly import Platform
from nunchi.bus.base import Bus
from nunchi.errors import BusError, NotFound, Unavailable
from nunchi.jobs.service import JobService
from nunchi.jobs.topics import JOBS_COMPLETED
from nunchi.web.keys import KeyService
from nunchi.webhooks.service import WebhookService

if TYPE_CHECKING:
    from nunchi.apps.base import App

__all__ = [
    "Jobs",
    "Keys",
    "PlatformDep",
    "ReadinessCheck",
    "WebState",
    "Webhooks",
    "app_services",
    "readiness_checks",
    "web_state",
]

S = TypeVar("S")

ReadinessCheck = Callable[[], None]
"""Returns when a dependency is usable; raises (anything) when it is not."""


@dataclass
class WebState:
    """The running parts the web app serves from."""

    platform: Platform
    keys: KeyService
    readiness: dict[str, ReadinessCheck] = field(default_factory=dict)
    """Checks ``/readyz`` runs, by name."""

    @classmethod
    def of(cls, platform: Platform) -> WebState:
        """The state of ``platform``: its API keys and its database and bus checks."""
        checks = readiness_checks(platform.sessions, platform.bus)
        return cls(platform, KeyService(platform.sessions), checks)


def readiness_checks(sessions: sessionmaker[Session], bus: Bus) -> dict[str, ReadinessCheck]:
    """``database`` (``SELECT 1``) and ``bus`` (asks about a topic: a missing topic still
    proves the bus answers; only a bus error fails it)."""

    def database() -> None:
        with sessions() as session:
            session.execute(text("SELECT 1"))

    def event_log() -> None:
        try:
            bus.partitions(JOBS_COMPLETED)
        except NotFound:
            return
        except BusError:
            raise

    return {"database": database, "bus": event_log}


def web_state(conn: HTTPConnection) -> WebState:
    """The :class:`WebState` of the app serving ``conn``; 503 while it starts or stops."""
    state: WebState | None = getattr(conn.app.state, "web", None)
    if state is None:
        raise Unavailable("nunchi is starting or stopping; try again in a moment")
    return state


def _platform(conn: HTTPConnection) -> Platform:
    return web_state(conn).platform


def _jobs(conn: HTTPConnection) -> JobService:
    return web_state(conn).platform.jobs


def _webhooks(conn: HTTPConnection) -> WebhookService:
    return web_state(conn).platform.webhooks


def _keys(conn: HTTPConnection) -> KeyService:
    return web_state(conn).keys


def app_services(conn: HTTPConnection, app: App[S]) -> S:
    """The services ``app`` built in this process."""
    return web_state(conn).platform.services(app)


# Module-level, as FastAPI resolves postponed annotations in the module's globals (an alias
# defined inside a function would silently become a query field).
PlatformDep = Annotated[Platform, Depends(_platform)]
"""The platform of this process (the core and every app's services)."""
Jobs = Annotated[JobService, Depends(_jobs)]
"""The job service."""
Webhooks = Annotated[WebhookService, Depends(_webhooks)]
"""The webhook notifier and delivery log."""
Keys = Annotated[KeyService, Depends(_keys)]

ROW_ID_MAX = 2**63 - 1
"""The largest id a database row can have (a signed 64-bit integer on both databases)."""
RowId = Annotated[int, Path(ge=1, le=ROW_ID_MAX, description="A stored row's id.")]
"""A row id in a path: out of range is a 422, never a database overflow."""
RowCursor = Annotated[
    int | None, Query(ge=0, le=ROW_ID_MAX, description="The row id a page continues after.")
]
"""A row-id cursor in a query string, bounded the same way."""
"""API keys and web sessions."""
