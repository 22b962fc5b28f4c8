"""Alembic environment: migrates ``Base.metadata`` with the schema's model modules imported
(``config.attributes["model_modules"]``, set by :func:`nunchi.store.db.alembic_config`).

Run by :func:`nunchi.store.db.migrate`, which passes an open connection in
``config.attributes["connection"]``; without one, a connection is made from the
``sqlalchemy.url`` main option (for ad-hoc ``alembic`` commands built with
:func:`nunchi.store.db.alembic_config`).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from nunchi.store.base import Base
from nunchi.store.db import import_models

import_models(context.config.attributes.get("model_modules", ()))
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the given connection, or on a fresh one."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection and no sqlalchemy.url: use nunchi.store.db.migrate")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported; use migrate(engine)")
run_migrations_online()
