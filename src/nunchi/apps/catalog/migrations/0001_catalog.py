"""The catalog app's tables: sources, items, numeric attributes, identifications, state.

Revision ID: catalog_0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from nunchi.store.types import BigSerial, JSONDocument, UTCDateTime

revision: str = "catalog_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("catalog",)
depends_on: str | Sequence[str] | None = None

_NAME = sa.String(300).with_variant(sa.String(300, collation="C"), "postgresql")


def upgrade() -> None:
    """Create the catalog tables."""
    op.create_table(
        "catalog_sources",
        sa.Column("id", BigSerial, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("file", sa.String(300), nullable=True),
        sa.Column("url", sa.String(2048), nullable=True),
        sa.Column("licence", sa.String(500), nullable=True),
        sa.Column("data_version", sa.String(80), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("started_version", sa.Integer(), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("imported_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_sources")),
    )
    op.create_index("ix_catalog_sources_kind_name", "catalog_sources", ["kind", "name"])
    op.create_table(
        "catalog_items",
        sa.Column("id", BigSerial, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("name", _NAME, nullable=False),
        sa.Column("maker", sa.String(200), nullable=True),
        sa.Column("category", sa.String(200), nullable=True),
        sa.Column("aliases", JSONDocument, nullable=False),
        sa.Column("attrs", JSONDocument, nullable=False),
        sa.Column("texts", JSONDocument, nullable=False),
        sa.Column("source_id", BigSerial, nullable=True),
        sa.Column("source_note", sa.Text(), nullable=True),
        sa.Column("identified", sa.Integer(), server_default="0", nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"], ["catalog_sources.id"],
            name=op.f("fk_catalog_items_source_id_catalog_sources"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_items")),
        sa.UniqueConstraint("kind", "key", name="uq_catalog_items_kind_key"),
    )  # fmt: skip
    op.create_index("ix_catalog_items_kind_name", "catalog_items", ["kind", "name", "id"])
    op.create_index("ix_catalog_items_kind_revision", "catalog_items", ["kind", "revision"])
    op.create_index(
        "ix_catalog_items_kind_identified", "catalog_items", ["kind", "identified", "id"]
    )
    op.create_table(
        "catalog_numbers",
        sa.Column("item_id", BigSerial, nullable=False),
        sa.Column("attr", sa.String(60), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["catalog_items.id"],
            name=op.f("fk_catalog_numbers_item_id_catalog_items"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("item_id", "attr", name=op.f("pk_catalog_numbers")),
    )  # fmt: skip
    op.create_index(
        "ix_catalog_numbers_kind_attr_value",
        "catalog_numbers",
        ["kind", "attr", "value", "item_id"],
    )
    op.create_table(
        "catalog_identifications",
        sa.Column("id", BigSerial, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("item_id", BigSerial, nullable=False),
        sa.Column("job_id", sa.String(32), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["catalog_items.id"],
            name=op.f("fk_catalog_identifications_item_id_catalog_items"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_identifications")),
        sa.UniqueConstraint("job_id", name=op.f("uq_catalog_identifications_job_id")),
    )  # fmt: skip
    op.create_index(
        "ix_catalog_identifications_kind_at", "catalog_identifications", ["kind", "at"]
    )
    op.create_index(
        "ix_catalog_identifications_item_at", "catalog_identifications", ["item_id", "at"]
    )
    op.create_table(
        "catalog_state",
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("identified", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_catalog_state")),
    )


def downgrade() -> None:
    """Drop the catalog tables."""
    for table in ("catalog_state", "catalog_identifications", "catalog_numbers",
                  "catalog_items", "catalog_sources"):  # fmt: skip
        op.drop_table(table)
