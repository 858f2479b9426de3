"""Tables of the learning loop: KB drafts, cached ticket embeddings, spike alerts, major incidents
and ticket links (duplicates).

Drafts and alerts keep their whole decision trail (who, when, why) because an admin will ask
"why was this published?" or "why did L3 get paged?" long after the fact.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Enum, Float, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow
from models.tickets import Ticket
from models.users import User


class DraftStatus(enum.StrEnum):
    DRAFT = "draft"  # waiting for review; never visible to requesters
    APPROVED = "approved"  # published into kb_published and indexed
    REJECTED = "rejected"


class KBDraft(Base):
    """A proposed KB article (or new version of one) written from a resolved ticket."""

    __tablename__ = "kb_drafts"
    __table_args__ = (Index("ix_kb_drafts_status", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"), default=None)
    status: Mapped[DraftStatus] = mapped_column(
        Enum(DraftStatus, native_enum=False, length=20), default=DraftStatus.DRAFT
    )
    title: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    audience: Mapped[str] = mapped_column(String(20), default="public")
    # The id the article will get if published as a new article.
    proposed_article_id: Mapped[str] = mapped_column(String(200))
    # The closest existing article and its cosine similarity to the draft, when one was found.
    similar_article_id: Mapped[str | None] = mapped_column(String(200), default=None)
    similarity: Mapped[float | None] = mapped_column(Float, default=None)
    # What approval will do unless the reviewer overrides it: "new" or "update".
    suggested_action: Mapped[str] = mapped_column(String(10), default="new")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    review_note: Mapped[str | None] = mapped_column(Text, default=None)
    # Filled on approval: which article got which version, from which file.
    published_article_id: Mapped[str | None] = mapped_column(String(200), default=None)
    published_path: Mapped[str | None] = mapped_column(String(1000), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    reviewed_at: Mapped[datetime | None] = mapped_column(default=None)

    ticket: Mapped[Ticket | None] = relationship()
    author: Mapped[User | None] = relationship(foreign_keys=[author_id])
    reviewer: Mapped[User | None] = relationship(foreign_keys=[reviewer_id])


class TicketEmbedding(Base):
    """One ticket's vector under one encoder, so sweeps never re-embed unchanged tickets.

    `text_hash` is the hash of the text that was embedded: an edited subject invalidates it.
    """

    __tablename__ = "ticket_embeddings"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    encoder: Mapped[str] = mapped_column(String(100), primary_key=True)
    text_hash: Mapped[str] = mapped_column(String(64))
    dim: Mapped[int]
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertStatus(enum.StrEnum):
    OPEN = "open"  # raised to L3, nobody acted yet
    DECLARED = "declared"  # L3 declared a major incident from it
    DISMISSED = "dismissed"  # L3 judged it a coincidence


class SpikeAlert(Base):
    """N similar tickets inside a window: a possible major incident, raised once per cluster."""

    __tablename__ = "spike_alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[AlertStatus] = mapped_column(
        Enum(AlertStatus, native_enum=False, length=20), default=AlertStatus.OPEN
    )
    # The cluster's most central ticket's subject: what L3 reads first.
    summary: Mapped[str] = mapped_column(String(500))
    category: Mapped[str | None] = mapped_column(String(100), default=None)
    encoder: Mapped[str] = mapped_column(String(100))
    similarity_threshold: Mapped[float] = mapped_column(Float)
    window_seconds: Mapped[float] = mapped_column(Float)
    first_ticket_at: Mapped[datetime]
    last_ticket_at: Mapped[datetime]
    ticket_count: Mapped[int] = mapped_column(default=0)
    # Mean vector of the members (float32 bytes): later similar tickets join this alert.
    centroid: Mapped[bytes] = mapped_column(LargeBinary)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("major_incidents.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    members: Mapped[list[SpikeAlertTicket]] = relationship(
        back_populates="alert", cascade="all, delete-orphan", order_by="SpikeAlertTicket.ticket_id"
    )


class SpikeAlertTicket(Base):
    """Membership of a ticket in an alert. A ticket belongs to at most one alert (idempotency)."""

    __tablename__ = "spike_alert_tickets"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("spike_alerts.id", ondelete="CASCADE"), index=True)
    similarity: Mapped[float] = mapped_column(Float)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)

    alert: Mapped[SpikeAlert] = relationship(back_populates="members")
    ticket: Mapped[Ticket] = relationship()


class IncidentStatus(enum.StrEnum):
    ACTIVE = "active"
    RESOLVED = "resolved"


class MajorIncident(Base):
    """A declared major incident: one problem, many tickets, one voice to every requester."""

    __tablename__ = "major_incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    status: Mapped[IncidentStatus] = mapped_column(
        Enum(IncidentStatus, native_enum=False, length=20), default=IncidentStatus.ACTIVE
    )
    declared_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    declared_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    resolution: Mapped[str | None] = mapped_column(Text, default=None)
    updates_sent: Mapped[int] = mapped_column(default=0)

    links: Mapped[list[IncidentTicket]] = relationship(
        back_populates="incident", cascade="all, delete-orphan", order_by="IncidentTicket.ticket_id"
    )


class IncidentTicket(Base):
    __tablename__ = "incident_tickets"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("major_incidents.id", ondelete="CASCADE"), primary_key=True
    )
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)

    incident: Mapped[MajorIncident] = relationship(back_populates="links")
    ticket: Mapped[Ticket] = relationship()


class TicketLink(Base):
    """`ticket` duplicates `target` (the one the work happens on)."""

    __tablename__ = "ticket_links"
    __table_args__ = (UniqueConstraint("ticket_id", "target_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20), default="duplicate")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    ticket: Mapped[Ticket] = relationship(foreign_keys=[ticket_id])
    target: Mapped[Ticket] = relationship(foreign_keys=[target_id])
