"""Similar and duplicate tickets: what the engineer card shows beside a new ticket.

Candidates are the open tickets and the tickets resolved recently (their resolutions are the
useful part). Both are compared with the new ticket by embedding cosine; vectors come from the
cache in `ticket_embeddings`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.learning.embeddings import cached_ids, ticket_vectors
from bot.learning.errors import InvalidInput, NotAllowed
from kb_index.encoders import Encoder, load_encoder
from models import Role, Ticket, TicketEvent, TicketLink, TicketStatus, User, utcnow

CLOSED_STATUSES = (TicketStatus.RESOLVED, TicketStatus.CLOSED)
# Below this cosine two tickets are rarely about the same problem (MiniLM; see the tests).
DEFAULT_MIN_SIMILARITY = 0.45
DEFAULT_RESOLVED_WITHIN = timedelta(days=90)
# The most recent candidates only: a card must render in a second, not embed years of history.
MAX_CANDIDATES = 2_000
# Candidates without a cached vector embedded on the spot; the rest wait for the worker's warm-up
# (`warm_embeddings`), so a cold cache costs the card at most this many encodings.
MAX_FRESH_EMBEDDINGS = 64


@dataclass(frozen=True)
class SimilarTicket:
    number: str
    subject: str
    status: str
    tier: str
    category: str
    similarity: float
    resolution: str | None
    created_at: datetime
    resolved_at: datetime | None

    @property
    def is_open(self) -> bool:
        return self.status not in {s.value for s in CLOSED_STATUSES}

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "subject": self.subject,
            "status": self.status,
            "tier": self.tier,
            "category": self.category,
            "similarity": round(self.similarity, 4),
            "resolution": self.resolution,
            "created_at": self.created_at.isoformat(),
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
        }


def similar_tickets(
    session: Session,
    ticket: Ticket,
    k: int = 3,
    *,
    encoder: Encoder | str = "minilm",
    now: datetime | None = None,
    resolved_within: timedelta = DEFAULT_RESOLVED_WITHIN,
    min_similarity: float = DEFAULT_MIN_SIMILARITY,
    max_fresh: int = MAX_FRESH_EMBEDDINGS,
) -> list[SimilarTicket]:
    """The `k` most similar open or recently resolved tickets, most similar first."""
    enc = load_encoder(encoder) if isinstance(encoder, str) else encoder
    now = now or utcnow()
    since = now - resolved_within
    candidates = list(
        session.scalars(
            select(Ticket)
            .where(
                Ticket.id != ticket.id,
                or_(
                    Ticket.status.not_in(CLOSED_STATUSES),
                    Ticket.resolved_at >= since,
                    Ticket.closed_at >= since,
                ),
            )
            .order_by(Ticket.created_at.desc(), Ticket.id.desc())
            .limit(MAX_CANDIDATES)
        )
    )
    if not candidates or k <= 0:
        return []
    cached = cached_ids(session, enc, [c.id for c in candidates])
    fresh = [c for c in candidates if c.id not in cached][:max_fresh]
    candidates = [c for c in candidates if c.id in cached or c in fresh]
    vectors = ticket_vectors(session, enc, [ticket, *candidates])
    sims = vectors[1:] @ vectors[0]
    order = np.argsort(-sims, kind="stable")
    out: list[SimilarTicket] = []
    for i in order[:k]:
        score = float(sims[i])
        if score < min_similarity:
            break
        c = candidates[int(i)]
        out.append(
            SimilarTicket(
                number=c.number or str(c.id),
                subject=c.subject,
                status=c.status.value,
                tier=c.tier.value,
                category=c.category,
                similarity=score,
                resolution=c.resolution,
                created_at=c.created_at,
                resolved_at=c.resolved_at,
            )
        )
    return out


def _duplicate_link(session: Session, ticket: Ticket, original: Ticket) -> TicketLink | None:
    return session.scalars(
        select(TicketLink).where(
            TicketLink.ticket_id == ticket.id,
            TicketLink.target_id == original.id,
            TicketLink.kind == "duplicate",
        )
    ).first()


def _original_of(session: Session, ticket: Ticket) -> Ticket | None:
    """The ticket `ticket` is already marked as a duplicate of, if any."""
    return session.scalars(
        select(Ticket)
        .join(TicketLink, TicketLink.target_id == Ticket.id)
        .where(TicketLink.ticket_id == ticket.id, TicketLink.kind == "duplicate")
        .order_by(TicketLink.id)
    ).first()


def link_duplicate(session: Session, ticket: Ticket, original: Ticket, *, actor: User | None) -> TicketLink:
    """Record that `ticket` duplicates `original`; idempotent, both audit trails say so."""
    if actor is not None and actor.role not in (Role.ENGINEER, Role.ADMIN):
        raise NotAllowed(
            f"only engineers and admins can mark duplicates; {actor.label} is a {actor.role.value}"
        )
    if ticket.id == original.id:
        raise InvalidInput(f"{ticket.number} cannot duplicate itself")
    if _duplicate_link(session, original, ticket) is not None:
        raise InvalidInput(f"{original.number} is already marked as a duplicate of {ticket.number}")
    existing = _duplicate_link(session, ticket, original)
    if existing is not None:
        return existing
    # One original per duplicate, and never a duplicate as the original: the work, the KB draft
    # and the requester's updates happen on one ticket, which a chain or a fork would hide.
    earlier = _original_of(session, ticket)
    if earlier is not None:
        raise InvalidInput(f"{ticket.number} is already marked as a duplicate of {earlier.number}")
    root = _original_of(session, original)
    if root is not None:
        raise InvalidInput(
            f"{original.number} is itself a duplicate of {root.number}: mark {ticket.number} "
            f"as a duplicate of {root.number}"
        )
    link = TicketLink(
        ticket_id=ticket.id,
        target_id=original.id,
        kind="duplicate",
        created_by_id=actor.id if actor else None,
    )
    session.add(link)
    who = actor.id if actor else None
    session.add(
        TicketEvent(
            ticket_id=ticket.id,
            kind="linked",
            actor_id=who,
            internal=True,
            text=f"Marked as a duplicate of {original.number}",
            data={"duplicate_of": original.number},
        )
    )
    session.add(
        TicketEvent(
            ticket_id=original.id,
            kind="linked",
            actor_id=who,
            internal=True,
            text=f"{ticket.number} was marked as a duplicate of this ticket",
            data={"duplicate": ticket.number},
        )
    )
    session.flush()
    return link


def duplicates_of(session: Session, ticket: Ticket) -> list[Ticket]:
    """Tickets marked as duplicates of `ticket`."""
    return list(
        session.scalars(
            select(Ticket)
            .join(TicketLink, TicketLink.ticket_id == Ticket.id)
            .where(TicketLink.target_id == ticket.id, TicketLink.kind == "duplicate")
            .order_by(Ticket.id)
        )
    )
