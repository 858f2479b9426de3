"""Slack bookkeeping: which events were already handled, and which Slack threads carry a ticket."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow
from models.users import Tier


class SlackEventReceipt(Base):
    """One row per Slack post handled; the unique key makes retries and event pairs no-ops.

    The key is the post itself (channel + ts), not Slack's event id, because one post arrives as two
    events (`app_mention` and `message`) with different ids. A unique index is what makes this hold
    across several worker processes.
    """

    __tablename__ = "slack_event_receipts"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class SlackThread(Base):
    """A Slack message that stands for a ticket: the requester's thread or a tier-queue card."""

    __tablename__ = "slack_threads"
    __table_args__ = (
        UniqueConstraint("channel", "ts", name="uq_slack_threads_channel_ts"),
        Index("ix_slack_threads_ticket_role", "ticket_id", "role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    # requester | card | csat (a rating prompt whose buttons are taken away once it is answered)
    role: Mapped[str] = mapped_column(String(20))
    tier: Mapped[Tier | None] = mapped_column(Enum(Tier, native_enum=False, length=4), default=None)
    channel: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
