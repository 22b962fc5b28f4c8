"""Opening the store: one engine, its session factory and the blob store, migrated on open."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from nunchi.config import Settings
from nunchi.store.blobs import BlobStore, open_blob_store
from nunchi.store.db import Schema, create_engine_for, migrate, session_factory

__all__ = ["Store", "open_store"]


@dataclass(frozen=True)
class Store:
    """Everything persistent: the SQL database and the blob store."""

    engine: Engine
    sessions: sessionmaker[Session]
    blobs: BlobStore

    def close(self) -> None:
        """Release database connections."""
        self.engine.dispose()


def open_store(
    settings: Settings, schema: Schema | None = None, *, apply_migrations: bool = True
) -> Store:
    """Open the database and blob store named by ``settings``; migrate the platform's tables
    and ``schema``'s (the apps') to their newest revisions unless ``apply_migrations`` is
    False."""
    engine = create_engine_for(settings.database_url)
    if apply_migrations:
        try:
            migrate(engine, schema)
        except BaseException:
            engine.dispose()
            raise
    return Store(
        engine=engine, sessions=session_factory(engine), blobs=open_blob_store(settings.blob_url)
    )
