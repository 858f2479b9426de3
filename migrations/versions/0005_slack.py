"""slack tables: handled-event receipts (dedupe across processes) and ticket ↔ Slack thread links.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "slack_event_receipts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("received_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slack_event_receipts")),
        sa.UniqueConstraint("key", name=op.f("uq_slack_event_receipts_key")),
    )
    op.create_table(
        "slack_threads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("tier", sa.Enum("L1", "L2", "L3", name="tier", native_enum=False, length=4), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("ts", sa.String(length=32), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_slack_threads_ticket_id_tickets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slack_threads")),
        sa.UniqueConstraint("channel", "ts", name="uq_slack_threads_channel_ts"),
    )
    op.create_index("ix_slack_threads_ticket_role", "slack_threads", ["ticket_id", "role"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_slack_threads_ticket_role", table_name="slack_threads")
    op.drop_table("slack_threads")
    op.drop_table("slack_event_receipts")
