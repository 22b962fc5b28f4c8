"""The store: SQL database (SQLite or PostgreSQL, Alembic-migrated) and content-addressed blobs."""

from __future__ import annotations

from nunchi.store.base import Base
from nunchi.store.blobs import BlobInfo, BlobStore, open_blob_store
from nunchi.store.db import create_engine_for, migrate, session_factory
from nunchi.store.store import Store, open_store

__all__ = [
    "Base",
    "BlobInfo",
    "BlobStore",
    "Store",
    "create_engine_for",
    "migrate",
    "open_blob_store",
    "open_store",
    "session_factory",
]
