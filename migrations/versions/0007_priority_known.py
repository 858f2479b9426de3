"""tickets.priority_known: imported history without a priority is not trained on as "medium".

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing rows keep meaning what they meant: their priority was set by someone. A plain ADD
    # COLUMN (not batch mode): on SQLite, batch mode would rebuild the table that every ticket
    # event, outbox row and thread link refers to.
    op.add_column("tickets", sa.Column("priority_known", sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("priority_known")
