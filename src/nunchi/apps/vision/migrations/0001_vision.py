"""The vision app's tables: projects, tags, images, iterations, seeds.

Revision ID: vision_0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from nunchi.store.types import BigSerial, JSONDocument, UTCDateTime

revision: str = "vision_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("vision",)
depends_on: str | Sequence[str] | None = None


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete="CASCADE"
    )


def upgrade() -> None:
    """Create the vision tables."""
    op.create_table(
        "vision_projects",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("recipe", sa.String(16), nullable=False),
        sa.Column("keep_originals", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("published_iteration_id", sa.String(32), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vision_projects")),
        sa.UniqueConstraint("name", name=op.f("uq_vision_projects_name")),
    )
    op.create_table(
        "vision_tags",
        sa.Column("id", BigSerial, autoincrement=True, nullable=False),
        sa.Column("project_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        _fk("vision_tags", "project_id", "vision_projects"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vision_tags")),
        sa.UniqueConstraint("project_id", "name", name=op.f("uq_vision_tags_project_name")),
    )
    op.create_table(
        "vision_images",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("project_id", sa.String(32), nullable=False),
        sa.Column("tag_id", BigSerial, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("source_url", sa.String(2048), nullable=True),
        sa.Column("filename", sa.String(255), nullable=True),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("recipe", sa.String(16), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.Column("thumbnail_key", sa.String(64), nullable=False),
        sa.Column("original_key", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "source IN ('upload', 'url', 'zip', 'folder')", name=op.f("ck_vision_images_source")
        ),
        _fk("vision_images", "project_id", "vision_projects"),
        _fk("vision_images", "tag_id", "vision_tags"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vision_images")),
        sa.UniqueConstraint("project_id", "sha256", name=op.f("uq_vision_images_project_sha256")),
    )
    op.create_index(
        "ix_vision_images_project_tag_id", "vision_images", ["project_id", "tag_id", "id"]
    )
    op.create_table(
        "vision_iterations",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("project_id", sa.String(32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("settings", JSONDocument, nullable=False),
        sa.Column("metrics", JSONDocument, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("head_key", sa.String(64), nullable=True),
        sa.Column("job_id", sa.String(32), nullable=True),
        sa.Column("image_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("published", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'training', 'done', 'failed')",
            name=op.f("ck_vision_iterations_status"),
        ),
        _fk("vision_iterations", "project_id", "vision_projects"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vision_iterations")),
        sa.UniqueConstraint(
            "project_id", "number", name=op.f("uq_vision_iterations_project_number")
        ),
    )
    op.create_table(
        "vision_seeds",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("applied_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_vision_seeds")),
    )


def downgrade() -> None:
    """Drop the vision tables."""
    op.drop_table("vision_seeds")
    op.drop_table("vision_iterations")
    op.drop_index("ix_vision_images_project_tag_id", table_name="vision_images")
    op.drop_table("vision_images")
    op.drop_table("vision_tags")
    op.drop_table("vision_projects")
