"""Tiny builders for rows the learning tests need (real rows in the test database, no mocks)."""

from __future__ import annotations

from datetime import datetime
from itertools import count

from sqlalchemy.orm import Session

from models import Role, Ticket, TicketStatus, Tier, TierMembership, User

_numbers = count(1)


def user(
    session: Session, external_id: str, *, role: Role = Role.REQUESTER, tiers: tuple[Tier, ...] = ()
) -> User:
    person = User(external_id=external_id, display_name=external_id, role=role)
    person.memberships = [TierMembership(tier=t) for t in tiers]
    session.add(person)
    session.flush()
    return person


def ticket(
    session: Session,
    subject: str,
    *,
    at: datetime,
    requester: User | None = None,
    category: str = "network",
    tier: Tier = Tier.L1,
    status: TicketStatus = TicketStatus.NEW,
    resolution: str | None = None,
    body: str = "",
    facts: dict[str, str] | None = None,
) -> Ticket:
    n = next(_numbers)
    row = Ticket(
        number=f"T-{n}",
        subject=subject,
        body=body or subject,
        category=category,
        tier=tier,
        status=status,
        requester_id=requester.id if requester else None,
        resolution=resolution,
        resolved_at=at if status in (TicketStatus.RESOLVED, TicketStatus.CLOSED) else None,
        created_at=at,
        updated_at=at,
        facts=facts or {},
        source="chat",
    )
    session.add(row)
    session.flush()
    return row
