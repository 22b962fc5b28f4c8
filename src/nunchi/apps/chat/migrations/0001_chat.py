"""Chat: watches, broadcasts, messages, aggregates, labels, alerts

Revision ID: chat_0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from nunchi.store.types import BigSerial, JSONDocument, UTCDateTime

revision: str = "chat_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("chat",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the chat tables."""
    op.create_table(
        "chat_alert_rules",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("broadcast", sa.String(length=200), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("params", JSONDocument, nullable=False),
        sa.Column("channels", JSONDocument, nullable=False),
        sa.Column("cooldown_s", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_alert_rules")),
    )
    op.create_table(
        "chat_authors",
        sa.Column("broadcast", sa.String(length=200), nullable=False),
        sa.Column("author_id", sa.String(length=200), nullable=False),
        sa.Column("author_name", sa.String(length=200), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("profane", sa.Integer(), nullable=False),
        sa.Column("last_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("broadcast", "author_id", name=op.f("pk_chat_authors")),
    )
    with op.batch_alter_table("chat_authors", schema=None) as batch_op:
        batch_op.create_index(
            "ix_chat_authors_broadcast_profane", ["broadcast", "profane"], unique=False
        )

    op.create_table(
        "chat_broadcasts",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=200), nullable=False),
        sa.Column("watch_id", sa.String(length=32), nullable=True),
        sa.Column("first_at", UTCDateTime(), nullable=False),
        sa.Column("last_at", UTCDateTime(), nullable=False),
        sa.Column("messages", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("profane", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("positive", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("neutral", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("negative", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_broadcasts")),
    )
    with op.batch_alter_table("chat_broadcasts", schema=None) as batch_op:
        batch_op.create_index("ix_chat_broadcasts_last_at", ["last_at"], unique=False)

    op.create_table(
        "chat_keywords",
        sa.Column("broadcast", sa.String(length=200), nullable=False),
        sa.Column("minute", UTCDateTime(), nullable=False),
        sa.Column("word", sa.String(length=100), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("broadcast", "minute", "word", name=op.f("pk_chat_keywords")),
    )
    op.create_table(
        "chat_messages",
        sa.Column("id", BigSerial, autoincrement=True, nullable=False),
        sa.Column("broadcast", sa.String(length=200), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("author_id", sa.String(length=200), nullable=False),
        sa.Column("author_name", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=16), nullable=True),
        sa.Column("badges", JSONDocument, nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("profane", sa.Boolean(), nullable=False),
        sa.Column("profanity", sa.Float(), nullable=False),
        sa.Column("spans", JSONDocument, nullable=False),
        sa.Column("masked", sa.Text(), nullable=False),
        sa.Column("polarity", sa.String(length=8), nullable=False),
        sa.Column("polarity_score", sa.Float(), nullable=False),
        sa.Column("keywords", JSONDocument, nullable=False),
        sa.Column("deleted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_messages")),
        sa.UniqueConstraint("broadcast", "message_id", name="broadcast_message"),
    )
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_chat_messages_broadcast_author_id", ["broadcast", "author_id", "id"], unique=False
        )
        batch_op.create_index("ix_chat_messages_broadcast_id", ["broadcast", "id"], unique=False)
        batch_op.create_index(
            "ix_chat_messages_broadcast_sent_at", ["broadcast", "sent_at"], unique=False
        )

    op.create_table(
        "chat_minutes",
        sa.Column("broadcast", sa.String(length=200), nullable=False),
        sa.Column("minute", UTCDateTime(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("profane", sa.Integer(), nullable=False),
        sa.Column("positive", sa.Integer(), nullable=False),
        sa.Column("neutral", sa.Integer(), nullable=False),
        sa.Column("negative", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("broadcast", "minute", name=op.f("pk_chat_minutes")),
    )
    op.create_table(
        "chat_watches",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("options", JSONDocument, nullable=False),
        sa.Column("desired", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("broadcast", sa.String(length=200), nullable=True),
        sa.Column("owner", sa.String(length=100), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("messages", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("parse_failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("reconnects", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_watches")),
    )
    with op.batch_alter_table("chat_watches", schema=None) as batch_op:
        batch_op.create_index(
            "ix_chat_watches_desired_lease", ["desired", "lease_until"], unique=False
        )

    op.create_table(
        "chat_alerts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("rule_id", sa.String(length=32), nullable=False),
        sa.Column("broadcast", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("detail", JSONDocument, nullable=False),
        sa.Column("deliveries", JSONDocument, nullable=False),
        sa.Column("open_key", sa.String(length=240), nullable=True),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["chat_alert_rules.id"],
            name=op.f("fk_chat_alerts_rule_id_chat_alert_rules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_alerts")),
        sa.UniqueConstraint("open_key", name=op.f("uq_chat_alerts_open_key")),
    )
    with op.batch_alter_table("chat_alerts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_chat_alerts_rule_broadcast_state", ["rule_id", "broadcast", "state"], unique=False
        )

    op.create_table(
        "chat_alert_notices",
        sa.Column("alert_id", sa.String(length=32), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=False),
        sa.Column("outcome", JSONDocument, nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["chat_alerts.id"],
            name=op.f("fk_chat_alert_notices_alert_id_chat_alerts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("alert_id", "event", "channel", name=op.f("pk_chat_alert_notices")),
    )

    op.create_table(
        "chat_labels",
        sa.Column("id", BigSerial, autoincrement=True, nullable=False),
        sa.Column("message_row", sa.BigInteger(), nullable=False),
        sa.Column("broadcast", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("label", sa.String(length=8), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_row"],
            ["chat_messages.id"],
            name=op.f("fk_chat_labels_message_row_chat_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_labels")),
    )
    with op.batch_alter_table("chat_labels", schema=None) as batch_op:
        batch_op.create_index("ix_chat_labels_message_row", ["message_row"], unique=False)


def downgrade() -> None:
    """Drop the chat tables."""
    with op.batch_alter_table("chat_labels", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_labels_message_row")

    op.drop_table("chat_labels")
    op.drop_table("chat_alert_notices")
    with op.batch_alter_table("chat_alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_alerts_rule_broadcast_state")

    op.drop_table("chat_alerts")
    with op.batch_alter_table("chat_watches", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_watches_desired_lease")

    op.drop_table("chat_watches")
    op.drop_table("chat_minutes")
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_messages_broadcast_sent_at")
        batch_op.drop_index("ix_chat_messages_broadcast_id")
        batch_op.drop_index("ix_chat_messages_broadcast_author_id")

    op.drop_table("chat_messages")
    op.drop_table("chat_keywords")
    with op.batch_alter_table("chat_broadcasts", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_broadcasts_last_at")

    op.drop_table("chat_broadcasts")
    with op.batch_alter_table("chat_authors", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_authors_broadcast_profane")

    op.drop_table("chat_authors")
    op.drop_table("chat_alert_rules")
