"""API keys and web sessions on both databases (SQLite file and a fresh PostgreSQL schema),
through the real migrations."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from nunchi.config import Settings
from nunchi.errors import Unauthorized
from nunchi.store.base import Base
from nunchi.store.db import current_heads
from nunchi.store.store import Store, open_store
from nunchi.web.keys import KeyService


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> Iterator[Store]:
    s = open_store(Settings(_env_file=None, data_dir=tmp_path, database_url=db_url))  # type: ignore[call-arg]
    yield s
    s.close()


def test_migrated_schema_matches_the_key_models(store: Store) -> None:
    assert current_heads(store.engine)
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    ours = [d for d in diff if "api_keys" in repr(d) or "web_sessions" in repr(d)]
    assert ours == []


def test_keys_and_sessions_round_trip(store: Store) -> None:
    keys = KeyService(store.sessions)
    info, plaintext = keys.create("운영자", ["submit"])
    principal = keys.verify(plaintext)
    assert principal.name == "운영자" and principal.allows("read")
    token = keys.open_session(principal, timedelta(minutes=5))
    assert keys.session_principal(token) == principal
    assert keys.get(info.id).last_used_at is not None
    keys.revoke(info.prefix)
    assert keys.session_principal(token) is None
    with pytest.raises(Unauthorized):
        keys.verify(plaintext)
    assert [k.revoked for k in keys.list()] == [True]
