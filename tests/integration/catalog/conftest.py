"""Fixtures of the catalog tests on both databases: a store migrated with the catalog's
branch and the packaged catalogs imported once per module (the food import is the slow
part: a few seconds on SQLite, ~5 s on PostgreSQL), and helpers that open fresh ones."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from nunchi.apps.catalog.app import CATALOG_APP
from nunchi.apps.catalog.search import CatalogSearch
from nunchi.apps.catalog.shipped import ensure_shipped
from nunchi.apps.catalog.store import CatalogStore
from nunchi.assembly import schema_of
from nunchi.store.db import create_engine_for, migrate, session_factory
from tests.fixtures.postgres import PG_DATABASE, PG_HOST, PG_PORT, _admin, _pg_user
from tests.fixtures.services import require_service


def _module_db(request: pytest.FixtureRequest, tmp: Path) -> Iterator[str]:
    """A database URL (SQLite file or a fresh PostgreSQL schema) for a whole module."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp / 'catalog.db'}"
        return
    user = _pg_user()
    require_service("PostgreSQL", user is not None, f"start it on {PG_HOST}:{PG_PORT}")
    assert user is not None
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with _admin(user) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield (f"postgresql+psycopg://{user}@{PG_HOST}:{PG_PORT}/{PG_DATABASE}"
               f"?options=-csearch_path%3D{schema}")  # fmt: skip
    finally:
        with _admin(user) as conn:
            conn.execute("SET lock_timeout = '20s'")
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(scope="module",
                params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def module_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[str]:
    """One database per module and backend."""
    yield from _module_db(request, tmp_path_factory.mktemp("catalogdb"))


def open_store(url: str) -> tuple[CatalogStore, Engine]:
    """A catalog store on ``url``, migrated."""
    engine = create_engine_for(url)
    migrate(engine, schema_of([CATALOG_APP]))
    return CatalogStore(session_factory(engine)), engine


@pytest.fixture(scope="module")
def shipped_store(module_db: str) -> Iterator[CatalogStore]:
    """A store with the packaged food and plant catalogs imported (read-only for tests)."""
    store, engine = open_store(module_db)
    assert ensure_shipped(store) == ["food", "plant"]
    yield store
    engine.dispose()


@pytest.fixture(scope="module")
def search(shipped_store: CatalogStore) -> CatalogSearch:
    """The search over the shipped catalogs."""
    return CatalogSearch(shipped_store)
