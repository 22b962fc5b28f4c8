"""Alembic environment and schema revisions (applied by ``nunchi.store.db.migrate``)."""
