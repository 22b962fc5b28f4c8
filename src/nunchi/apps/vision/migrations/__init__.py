"""The vision app's Alembic revisions (branch ``vision``)."""
