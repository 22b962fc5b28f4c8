"""Webhook deliveries name the job or batch they are about (``subject_id``).

Revision ID: 0004_webhook_subject
Revises: 0003_api_keys
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from nunchi.store.types import JSONDocument

revision: str = "0004_webhook_subject"
down_revision: str | Sequence[str] | None = "0003_api_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``webhook_deliveries.subject_id`` (indexed) and fill it for job and batch events
    from their payload's ``id``."""
    op.add_column("webhook_deliveries", sa.Column("subject_id", sa.String(200), nullable=True))
    op.create_index(
        "ix_webhook_deliveries_subject_id_id", "webhook_deliveries", ["subject_id", "id"]
    )
    deliveries = sa.table(
        "webhook_deliveries",
        sa.column("type", sa.String),
        sa.column("payload", JSONDocument),
        sa.column("subject_id", sa.String),
    )
    op.execute(
        deliveries.update()
        .where(sa.or_(deliveries.c.type.like("job.%"), deliveries.c.type.like("batch.%")))
        .values(subject_id=deliveries.c.payload["id"].as_string())
    )


def downgrade() -> None:
    """Drop ``webhook_deliveries.subject_id``."""
    op.drop_index("ix_webhook_deliveries_subject_id_id", table_name="webhook_deliveries")
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("subject_id")
