"""Migrations on SQLite and PostgreSQL: applied, idempotent, and matching the models."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData, inspect, text

from nunchi.apps import APPS
from nunchi.assembly import schema_of
from nunchi.config import Settings
from nunchi.errors import StoreError
from nunchi.store import open_store
from nunchi.store.base import Base
from nunchi.store.db import (
    create_engine_for,
    current_heads,
    head_revisions,
    import_models,
    migrate,
)

SCHEMA = schema_of(APPS)
"""The platform's tables and every app's."""


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = create_engine_for(db_url)
    yield eng
    eng.dispose()


def test_migrate_creates_the_jobs_tables(engine: Engine) -> None:
    assert current_heads(engine) == set()
    migrate(engine, SCHEMA)
    tables = set(inspect(engine).get_table_names())
    assert {"jobs", "job_events", "batches", "jobs_outbox", "alembic_version"} <= tables
    assert current_heads(engine) == head_revisions(SCHEMA)


def test_migrate_twice_is_a_no_op(engine: Engine) -> None:
    migrate(engine, SCHEMA)
    migrate(engine, SCHEMA)
    assert current_heads(engine) == head_revisions(SCHEMA)


def _schema_metadata() -> MetaData:
    """The tables of the schema's model modules only (other tests may have added models of
    their own to the one ``Base.metadata``)."""
    import_models(SCHEMA.model_modules)
    wanted = MetaData(naming_convention=Base.metadata.naming_convention)
    for mapper in Base.registry.mappers:
        if mapper.class_.__module__ in SCHEMA.model_modules:
            for table in mapper.tables:
                table.to_metadata(wanted)
    return wanted


def test_schema_matches_the_models(engine: Engine) -> None:
    migrate(engine, SCHEMA)
    metadata = _schema_metadata()
    assert {"jobs", "webhook_deliveries", "api_keys"} <= set(metadata.tables)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, metadata)
    assert diff == []


def test_revision_chain_starts_with_0001_jobs(engine: Engine) -> None:
    migrate(engine, revision="0001_jobs")
    assert current_heads(engine) == {"0001_jobs"}
    migrate(engine, SCHEMA)
    assert current_heads(engine) == head_revisions(SCHEMA)


def test_concurrent_migrations_do_not_race(engine: Engine) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            migrate(engine, SCHEMA)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert current_heads(engine) == head_revisions(SCHEMA)


def test_foreign_keys_are_enforced(engine: Engine) -> None:
    migrate(engine)
    with pytest.raises(Exception, match=r"(?i)foreign key"), engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO job_events (job_id, at, type, attempt) "
                "VALUES ('0123456789abcdef0123456789abcdef', CURRENT_TIMESTAMP, 'queued', 0)"
            )
        )


def test_open_store_migrates_and_opens_blobs(db_url: str, tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, database_url=db_url, blob_url=f"file://{tmp_path / 'blobs'}"
    )
    store = open_store(settings)
    try:
        assert current_heads(store.engine) == head_revisions()  # the platform's own
        key = store.blobs.put(b"hello", "text/plain")
        assert store.blobs.get(key) == b"hello"
        with store.sessions() as s:
            assert s.execute(text("SELECT count(*) FROM jobs")).scalar() == 0
    finally:
        store.close()


def test_database_from_a_newer_version_is_a_clear_error(engine: Engine) -> None:
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    with pytest.raises(StoreError, match="newer nunchi version"):
        migrate(engine)


def test_a_core_only_process_opens_a_database_with_app_branches(engine: Engine) -> None:
    """``nunchi keys`` opens only the core; the apps' branches in the database are not an
    error then (they are not this process's to upgrade)."""
    migrate(engine, SCHEMA)
    assert head_revisions(None) < current_heads(engine)
    migrate(engine)
    assert current_heads(engine) == head_revisions(SCHEMA)


def test_webhook_subject_is_filled_in_for_older_deliveries(engine: Engine) -> None:
    migrate(engine, revision="0003_api_keys")
    insert = text(
        "INSERT INTO webhook_deliveries (id, event_id, type, url, payload, status, attempts, "
        "schedule_step, next_trigger, created_at, updated_at) VALUES (:id, :id, :type, "
        "'https://hooks.example/h', :payload, 'delivered', 1, 1, 'auto', "
        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    )
    rows = [
        ("a" * 32, "job.succeeded", '{"id": "job1", "status": "succeeded"}'),
        ("b" * 32, "batch.completed", '{"id": "batch1"}'),
        ("c" * 32, "other.event", '{"id": "not-a-subject"}'),
    ]
    with engine.begin() as conn:
        for id_, type_, payload in rows:
            conn.execute(insert, {"id": id_, "type": type_, "payload": payload})
    migrate(engine)
    with engine.connect() as conn:
        found = dict(conn.execute(text("SELECT id, subject_id FROM webhook_deliveries")).all())
    assert found == {"a" * 32: "job1", "b" * 32: "batch1", "c" * 32: None}
