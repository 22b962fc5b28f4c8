"""The SQL store: engine and session factories and schema migrations (Alembic, run in code).

SQLite (embedded default) gets WAL, foreign keys, a busy timeout and ``synchronous=NORMAL``
on every connection, and its WAL checkpointed off the commit path (:func:`_checkpoints`).
PostgreSQL goes through psycopg 3 with a pre-pinged connection pool.
The platform's migrations ship inside the package (``nunchi/store/migrations/versions``); each
app brings its own folder, a branch of the same history (its first revision has the app's name
as branch label), named in a :class:`Schema`. :func:`migrate` applies every branch under a lock
so that several processes opening the store at once do not race (an advisory lock on
PostgreSQL, a lock file beside the database on SQLite).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import logging
import os
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine, event, text
from sqlalchemy import create_engine as _sa_create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from nunchi.errors import InvalidInput, StoreError
from nunchi.paths import private_file
from nunchi.sqlite_wal import PASSIVE, WalCheckpoints

__all__ = [
    "MIGRATIONS_DIR",
    "VERSIONS_DIR",
    "Schema",
    "alembic_config",
    "create_engine_for",
    "current_heads",
    "head_revisions",
    "import_models",
    "migrate",
    "normalise_url",
    "session_factory",
]

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
"""Where the packaged Alembic environment lives."""
VERSIONS_DIR = MIGRATIONS_DIR / "versions"
"""The platform's own revisions (jobs, webhooks, API keys)."""


@dataclass(frozen=True)
class Schema:
    """What a database holds beyond the platform's own tables: the apps' migration folders
    and the modules declaring their models (imported only to compare models with the
    migrated schema, e.g. for ``alembic revision --autogenerate``)."""

    migration_dirs: tuple[Path, ...] = ()
    model_modules: tuple[str, ...] = ()

    def locations(self) -> list[Path]:
        """Every folder of revisions: the platform's, then the apps'."""
        return [VERSIONS_DIR, *self.migration_dirs]

SQLITE_BUSY_TIMEOUT_MS = 30_000
_PG_MIGRATION_LOCK = 0x6E756E636869  # "nunchi": the advisory lock key held while migrating


def normalise_url(url: str) -> URL:
    """Parse a database URL, mapping plain ``postgresql://``/``postgres://`` to psycopg 3.

    Raises :class:`InvalidInput` for anything that is not SQLite or PostgreSQL."""
    if not url:
        raise InvalidInput("database URL is empty: set NUNCHI_DATABASE_URL or NUNCHI_DATA_DIR")
    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise InvalidInput(
            f"cannot parse database URL: {e}; expected sqlite:///PATH or "
            "postgresql+psycopg://USER@HOST:PORT/DB"
        ) from e
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        return parsed
    if backend == "sqlite":
        return parsed
    raise InvalidInput(
        f"unsupported database {backend!r}: use sqlite:///PATH or "
        "postgresql+psycopg://USER@HOST:PORT/DB"
    )


def import_models(modules: Sequence[str]) -> None:
    """Import ``modules`` so ``Base.metadata`` describes their tables."""
    for name in modules:
        importlib.import_module(name)


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    try:
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA synchronous=NORMAL")
    finally:
        cur.close()


def _checkpoints(engine: Engine) -> None:
    """The WAL of a SQLite store's file checkpointed off the commit path
    (:mod:`nunchi.sqlite_wal`): after commits, paused while the engine is disposed, ended once
    it is garbage collected."""
    ref = weakref.ref(engine)

    def checkpoint() -> bool:
        found = ref()
        if found is None:
            return False
        with found.connect() as conn:
            conn.exec_driver_sql(PASSIVE)
        return True

    checkpoints = WalCheckpoints(checkpoint, "nunchi-store-checkpoint")
    event.listen(engine, "commit", lambda _conn: checkpoints.wrote())
    event.listen(engine, "engine_disposed", lambda _engine: checkpoints.stop())


def _is_memory_sqlite(url: URL) -> bool:
    db = url.database or ""
    return db in ("", ":memory:") or "mode=memory" in db or url.query.get("mode") == "memory"


def create_engine_for(url: str, *, echo: bool = False) -> Engine:
    """An engine for ``url`` (SQLite or PostgreSQL), tuned for nunchi's workload.

    For a SQLite file the parent directory is created and the file made private
    (``0600``). An in-memory SQLite database is
    shared by every thread of the engine (one connection)."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        connect_args: dict[str, Any] = {
            "check_same_thread": False,
            "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
        }
        if _is_memory_sqlite(parsed):
            engine = _sa_create_engine(
                parsed, echo=echo, connect_args=connect_args, poolclass=StaticPool
            )
        else:
            db_path = Path(parsed.database or "")
            if not str(db_path).startswith("file:"):
                db_path.parent.mkdir(parents=True, exist_ok=True)
                private_file(db_path)  # it holds inputs and callback URLs: 0600
            engine = _sa_create_engine(
                parsed, echo=echo, connect_args=connect_args, pool_size=8, max_overflow=16
            )
        event.listen(engine, "connect", _sqlite_on_connect)
        if not _is_memory_sqlite(parsed):
            _checkpoints(engine)
        return engine
    return _sa_create_engine(
        parsed,
        echo=echo,
        pool_size=5,
        max_overflow=10,
        pool_pre_ping=True,
        pool_recycle=1800,
        pool_timeout=30,
    )


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to ``engine``. Objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(engine: Engine | None = None, schema: Schema | None = None) -> Config:
    """An Alembic config for the platform's migrations and ``schema``'s (no ``alembic.ini``
    needed). With ``engine`` given, ``alembic`` commands run against it."""
    schema = schema or Schema()
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", os.pathsep.join(map(str, schema.locations())))
    cfg.attributes["model_modules"] = schema.model_modules
    if engine is not None:
        cfg.set_main_option(
            "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
        )
    return cfg


def head_revisions(schema: Schema | None = None) -> set[str]:
    """The newest revision of every branch (the platform's and each app's)."""
    return set(ScriptDirectory.from_config(alembic_config(schema=schema)).get_heads())


def current_heads(engine: Engine) -> set[str]:
    """The revisions the database at ``engine`` is at (empty when never migrated)."""
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    if engine.dialect.name == "sqlite":
        db = engine.url.database or ""
        if _is_memory_sqlite(engine.url) or db.startswith("file:"):
            yield
            return
        lock_path = Path(db).with_name(Path(db).name + ".migrate.lock")
        with open(lock_path, "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK})
            conn.commit()


def migrate(engine: Engine, schema: Schema | None = None, revision: str = "heads") -> None:
    """Bring the schema at ``engine`` up to ``revision`` (default: the newest of every
    branch, the platform's and those of ``schema``'s apps).

    Safe to call from several processes at once and cheap when already up to date.
    Raises :class:`StoreError` when the database cannot be reached or a migration fails."""
    try:
        with _migration_lock(engine):
            # Up to date when every branch of ``schema`` is at its head; other heads belong to
            # apps this process does not load (a command that opens only the core).
            if revision == "heads" and head_revisions(schema) <= current_heads(engine):
                return
            with engine.begin() as conn:
                cfg = alembic_config(schema=schema)
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
            log.info("database migrated to %s", revision)
    except OperationalError as e:
        raise StoreError(f"cannot migrate the database: {e.orig}") from e
    except CommandError as e:
        raise StoreError(
            f"cannot migrate the database: {e} (is it from a newer nunchi version? upgrade "
            "nunchi, or point NUNCHI_DATABASE_URL at another database)"
        ) from e
