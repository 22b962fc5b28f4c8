"""Jobs are found by when they finished (the throughput and failures over time on Operations).

Revision ID: 0005_jobs_finished_at
Revises: 0004_webhook_subject
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005_jobs_finished_at"
down_revision: str | Sequence[str] | None = "0004_webhook_subject"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Index ``jobs.finished_at``."""
    op.create_index("ix_jobs_finished_at", "jobs", ["finished_at"])


def downgrade() -> None:
    """Drop the index."""
    op.drop_index("ix_jobs_finished_at", table_name="jobs")
