"""Looking things up: tickets by number, users by front-end identity, queues."""

from __future__ import annotations

from sqlalchemy import case, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.workflow.audit import REQUESTER
from bot.workflow.errors import NotFound
from bot.workflow.states import CLAIMABLE, OPEN
from models import OutboxMessage, Priority, Role, Ticket, Tier, TierMembership, User, utcnow


def ticket_numbered(session: Session, number: str) -> Ticket | None:
    """The ticket with this number, typed in any case with spaces around it; None if there is none."""
    return session.scalars(select(Ticket).where(Ticket.number == number.strip().upper())).one_or_none()


def find_ticket(session: Session, number: str) -> Ticket:
    ticket = ticket_numbered(session, number)
    if ticket is None:
        raise NotFound(f"there is no ticket {number.strip().upper()}")
    return ticket


def find_user(session: Session, external_id: str) -> User:
    user = session.scalars(select(User).where(User.external_id == external_id)).one_or_none()
    if user is None:
        raise NotFound(f"there is no user {external_id!r}; add one with `tierline users add`")
    return user


def ensure_user(
    session: Session, external_id: str, display_name: str = "", role: Role = Role.REQUESTER
) -> User:
    """The user with that front-end id, created on first sight (an existing user's role is kept).

    Two first messages from the same new person can arrive at once: the insert is
    ON CONFLICT DO NOTHING (SQLite and PostgreSQL), so the loser reads the winner's row instead
    of failing its whole transaction on the unique key.
    """
    user = session.scalars(select(User).where(User.external_id == external_id)).one_or_none()
    if user is None:
        dialect = session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        session.execute(
            insert(User)
            .values(external_id=external_id, display_name=display_name, role=role, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["external_id"])
        )
        user = session.scalars(select(User).where(User.external_id == external_id)).one()
    elif display_name and not user.display_name:
        user.display_name = display_name
    return user


def grant_tier(session: Session, user: User, tier: Tier) -> User:
    """Make the user an engineer of `tier` (admins keep their role)."""
    if user.role == Role.REQUESTER:
        user.role = Role.ENGINEER
    if tier not in user.tiers:
        user.memberships.append(TierMembership(tier=tier))
    session.flush()
    return user


def revoke_tier(session: Session, user: User, tier: Tier) -> User:
    """Take `tier` away; an engineer left with no tier is a requester again (admins keep their role)."""
    for membership in [m for m in user.memberships if m.tier == tier]:
        user.memberships.remove(membership)
    if not user.memberships and user.role == Role.ENGINEER:
        user.role = Role.REQUESTER
    session.flush()
    return user


def _priority_rank() -> object:
    return case({p.value: i for i, p in enumerate(Priority)}, value=Ticket.priority, else_=len(Priority))


def tickets_for_requester(session: Session, user: User, *, include_closed: bool = True) -> list[Ticket]:
    query = select(Ticket).where(Ticket.requester_id == user.id)
    if not include_closed:
        query = query.where(Ticket.status.in_(OPEN))
    return list(session.scalars(query.order_by(Ticket.created_at.desc(), Ticket.id.desc())))


def queue(session: Session, tier: Tier) -> list[Ticket]:
    """Unclaimed tickets waiting for the tier, most urgent first, then by first-response due time."""
    query = (
        select(Ticket)
        .where(Ticket.tier == tier, Ticket.assignee_id.is_(None), Ticket.status.in_(CLAIMABLE))
        .order_by(_priority_rank(), Ticket.sla_response_due, Ticket.id)  # type: ignore[arg-type]
    )
    return list(session.scalars(query))


def list_tickets(
    session: Session,
    *,
    tier: Tier | None = None,
    tiers: frozenset[Tier] | None = None,
    statuses: frozenset[str] | None = None,
    assignee: User | None = None,
    limit: int = 50,
) -> list[Ticket]:
    """Tickets most urgent first, across `tier` or all of `tiers` in one ordering (an engineer of
    L1 and L2 sees a critical L2 ticket before a low L1 one), `limit` applied to the whole list."""
    query = select(Ticket)
    if tier is not None:
        query = query.where(Ticket.tier == tier)
    if tiers:
        query = query.where(Ticket.tier.in_(tiers))
    if statuses:
        query = query.where(Ticket.status.in_(statuses))
    if assignee is not None:
        query = query.where(Ticket.assignee_id == assignee.id)
    query = query.order_by(_priority_rank(), Ticket.sla_response_due, Ticket.id).limit(limit)  # type: ignore[arg-type]
    return list(session.scalars(query))


# What the engine's own reply in the conversation already said, so a front end showing a
# requester's news need not say it again.
_SAID_IN_THE_REPLY = ("ticket_opened",)


def last_outbox_id(session: Session) -> int:
    """The newest outbox row's id (0 when empty): where a front end starts watching for news."""
    return int(session.scalar(select(func.max(OutboxMessage.id))) or 0)


def requester_news(session: Session, external_id: str, after_id: int) -> list[OutboxMessage]:
    """Notifications for this requester written after outbox row `after_id`, oldest first: an
    engineer's reply, a claim, an escalation, a resolution asking for a rating. Read only — the
    worker still delivers them. Requester rows never hold an internal note: `audit.tell_requester`
    alone writes them, from explicit text."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.audience == REQUESTER,
                OutboxMessage.recipient == external_id,
                OutboxMessage.id > after_id,
                OutboxMessage.kind.not_in(_SAID_IN_THE_REPLY),
            )
            .order_by(OutboxMessage.id)
        )
    )
