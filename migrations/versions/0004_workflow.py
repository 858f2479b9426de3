"""workflow: SLA warning/breach marks, the sweeper's next-check time, reopen count.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIMES = (
    "sla_response_warn_at",
    "sla_resolution_warn_at",
    "sla_resolution_warned_at",
    "sla_resolution_breached_at",
    "sla_next_check_at",
)


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        for name in _TIMES:
            batch_op.add_column(sa.Column(name, UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("reopen_count", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_index(batch_op.f("ix_tickets_sla_next_check_at"), ["sla_next_check_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tickets_sla_next_check_at"))
        batch_op.drop_column("reopen_count")
        for name in reversed(_TIMES):
            batch_op.drop_column(name)
