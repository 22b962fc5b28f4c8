"""The sample app's notes.

Revision ID: sample_0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "sample_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("sample",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``sample_notes``."""
    op.create_table(
        "sample_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sample_notes")),
    )


def downgrade() -> None:
    """Drop ``sample_notes``."""
    op.drop_table("sample_notes")
