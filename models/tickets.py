"""Tickets, their append-only event trail, and the outbox of messages owed to people."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Enum, ForeignKey, Index, String, Text
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow
from models.users import Tier, User


class TicketStatus(enum.StrEnum):
    NEW = "new"
    TRIAGED = "triaged"
    IN_PROGRESS = "in_progress"
    WAITING_ON_USER = "waiting_on_user"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    CLOSED = "closed"


class Priority(enum.StrEnum):
    """ITIL-style priorities, most urgent first."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def code(self) -> str:
        return f"P{list(Priority).index(self) + 1}"


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_status_tier", "status", "tier"),
        Index("ix_tickets_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Human-friendly and unique, e.g. "IT-1042"; assigned from the id after the insert.
    number: Mapped[str | None] = mapped_column(String(32), unique=True, default=None)
    requester_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(100))
    priority: Mapped[str] = mapped_column(String(20), default=Priority.MEDIUM.value)
    # False for imported history whose export gave no priority: the row still says medium (SLA
    # code needs one), but training must not learn that stand-in as a label someone chose.
    priority_known: Mapped[bool] = mapped_column(default=True, server_default=sa_true())
    tier: Mapped[Tier] = mapped_column(Enum(Tier, native_enum=False, length=4), default=Tier.L1)
    status: Mapped[TicketStatus] = mapped_column(
        Enum(TicketStatus, native_enum=False, length=20), default=TicketStatus.NEW
    )
    needs_triage: Mapped[bool] = mapped_column(default=False)
    category_confidence: Mapped[float | None] = mapped_column(default=None)
    priority_confidence: Mapped[float | None] = mapped_column(default=None)
    model_version: Mapped[str | None] = mapped_column(String(64), default=None)
    impact: Mapped[str | None] = mapped_column(String(20), default=None)
    urgency: Mapped[str | None] = mapped_column(String(20), default=None)
    facts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"), default=None)
    # chat | slack | form | import
    source: Mapped[str] = mapped_column(String(20), default="chat")
    # Identity in an imported export (row id), so a re-import never duplicates history.
    external_ref: Mapped[str | None] = mapped_column(String(200), unique=True, default=None)
    resolution: Mapped[str | None] = mapped_column(Text, default=None)
    sla_response_due: Mapped[datetime | None] = mapped_column(default=None)
    sla_resolution_due: Mapped[datetime | None] = mapped_column(default=None)
    sla_paused_at: Mapped[datetime | None] = mapped_column(default=None)
    sla_paused_seconds: Mapped[float] = mapped_column(default=0.0)
    # Each ended pause as [start ISO, end ISO, seconds it added] (migration 0008): a priority change
    # onto another calendar (24x7 vs business hours) re-measures the spans on the new calendar.
    sla_pauses: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    sla_warned_at: Mapped[datetime | None] = mapped_column(default=None)
    sla_breached_at: Mapped[datetime | None] = mapped_column(default=None)
    first_response_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    csat_score: Mapped[int | None] = mapped_column(default=None)
    csat_comment: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Workflow additions (migration 0004): warning times, the resolution clock's own warning and
    # breach marks, and the next instant the SLA sweeper must look at this ticket (None = nothing
    # due: paused, closed, or every timer already fired). One indexed column keeps the sweep cheap.
    sla_response_warn_at: Mapped[datetime | None] = mapped_column(default=None)
    sla_resolution_warn_at: Mapped[datetime | None] = mapped_column(default=None)
    sla_resolution_warned_at: Mapped[datetime | None] = mapped_column(default=None)
    sla_resolution_breached_at: Mapped[datetime | None] = mapped_column(default=None)
    sla_next_check_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    reopen_count: Mapped[int] = mapped_column(default=0)
    # Row lease so that several workers never sweep the same ticket at once.
    lease_owner: Mapped[str | None] = mapped_column(String(100), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)

    requester: Mapped[User | None] = relationship(foreign_keys=[requester_id])
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id", cascade="all, delete-orphan"
    )

    @property
    def recorded_priority(self) -> str | None:
        """The priority someone set, or None where only the medium stand-in is stored."""
        return self.priority if self.priority_known else None

    def set_priority(self, value: str) -> None:
        """A priority someone chose: from now on it is a label, even where it equals the stand-in."""
        self.priority, self.priority_known = value, True


class TicketEvent(Base):
    """Append-only audit record: one row per change, never updated."""

    __tablename__ = "ticket_events"
    __table_args__ = (Index("ix_ticket_events_ticket_at", "ticket_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    # created | classified | claimed | unclaimed | reassigned | escalated | deescalated |
    # message | note | priority_changed | category_changed | status_changed | resolved |
    # reopened | closed | rated | sla_warning | sla_breach | linked
    kind: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    # Internal notes carry internal=True; front ends must never relay such events to requesters.
    internal: Mapped[bool] = mapped_column(default=False)
    text: Mapped[str | None] = mapped_column(Text, default=None)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()


class OutboxMessage(Base):
    """A notification owed to a person or a queue, written in the same transaction as its cause.

    Delivery marks `delivered_at`; a crash between commit and delivery leaves the row pending, and
    `dedupe_key` makes a second write of the same notification impossible.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "delivered_at", "available_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # requester | tier_queue | engineer | broadcast
    audience: Mapped[str] = mapped_column(String(20))
    # The recipient within that audience: a user external id, a tier name, ...
    recipient: Mapped[str] = mapped_column(String(200))
    # ticket_created | ticket_escalated | status_changed | relay | csat_request | sla_warning | ...
    kind: Mapped[str] = mapped_column(String(40))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), default=None)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    dedupe_key: Mapped[str | None] = mapped_column(String(255), unique=True, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    available_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    lease_owner: Mapped[str | None] = mapped_column(String(100), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
