"""tickets.sla_pauses: the SLA pause spans, so a priority change onto another calendar re-measures them.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing tickets have no recorded spans: their paused seconds stand as they are. A plain ADD
    # COLUMN, as in 0007 (batch mode would rebuild the tickets table on SQLite).
    op.add_column("tickets", sa.Column("sla_pauses", sa.JSON(), server_default="[]", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("sla_pauses")
