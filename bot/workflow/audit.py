"""Writing history: the append-only event for every change and the outbox row for every person
who must hear about it, both in the caller's transaction so they commit (or vanish) together."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import uuid4
from weakref import WeakKeyDictionary

from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session

from models import OutboxMessage, Ticket, TicketEvent, User, utcnow

REQUESTER = "requester"
TIER_QUEUE = "tier_queue"
ENGINEER = "engineer"


# Latest event time per loaded ticket, valid for one transaction (another session may add events
# between transactions), so the clock below costs one query per ticket per transaction — or one
# per batch via prime_clock — instead of one per change.
_latest_event: WeakKeyDictionary[Ticket, tuple[object, datetime]] = WeakKeyDictionary()
_event_tokens: WeakKeyDictionary[TicketEvent, str] = WeakKeyDictionary()


def _transaction(ticket: Ticket) -> object:
    session = object_session(ticket)
    return session.get_transaction() if session is not None else None


def _cached_latest(ticket: Ticket) -> datetime | None:
    cached = _latest_event.get(ticket)
    if cached is None or cached[0] is not _transaction(ticket) or cached[0] is None:
        return None
    return cached[1]


def _remember(ticket: Ticket, at: datetime) -> None:
    previous = _cached_latest(ticket)
    if previous is None or at > previous:
        _latest_event[ticket] = (_transaction(ticket), at)


def clock(ticket: Ticket | None, now: datetime | None) -> datetime:
    """The time of a change: never before the ticket's latest event, so its history stays
    monotonic even when two workers' clocks disagree by a little."""
    at = now or utcnow()
    if ticket is None or ticket.id is None:
        return at
    latest = _cached_latest(ticket)
    if latest is None:
        stored = object_session(ticket)
        if stored is not None:
            with stored.no_autoflush:
                latest = stored.scalar(
                    select(func.max(TicketEvent.at)).where(TicketEvent.ticket_id == ticket.id)
                )
            if latest is not None:
                _remember(ticket, latest)
    return max(at, latest) if latest is not None else at


def prime_clock(session: Session, tickets: list[Ticket]) -> None:
    """Load the latest event time of many tickets in one query (the SLA sweeper's batches)."""
    ids = {t.id: t for t in tickets}
    if not ids:
        return
    rows = session.execute(
        select(TicketEvent.ticket_id, func.max(TicketEvent.at))
        .where(TicketEvent.ticket_id.in_(ids))
        .group_by(TicketEvent.ticket_id)
    )
    for ticket_id, latest in rows:
        if latest is not None:
            _remember(ids[ticket_id], latest)


def record(
    ticket: Ticket,
    kind: str,
    *,
    actor: User | None,
    at: datetime,
    text: str | None = None,
    data: dict[str, Any] | None = None,
    internal: bool = False,
) -> TicketEvent:
    # Assigning `ticket=` (not `ticket.events.append`) avoids loading the whole history each time.
    event = TicketEvent(
        ticket=ticket,
        kind=kind,
        actor=actor,
        actor_id=actor.id if actor else None,
        internal=internal,
        text=text,
        data=dict(data or {}),
        at=at,
    )
    ticket.updated_at = at
    # SQLAlchemy 2.x no longer cascades backref assignments into the session: add explicitly.
    session = object_session(ticket)
    if session is not None:
        session.add(event)
    _remember(ticket, at)
    return event


def ticket_card(ticket: Ticket) -> dict[str, Any]:
    """What a front end needs to render a notification without querying the database again."""
    return {
        "ticket": ticket.number,
        "subject": ticket.subject,
        "category": ticket.category,
        "priority": ticket.priority,
        "tier": ticket.tier.value,
        "status": ticket.status.value,
        "assignee": ticket.assignee.external_id if ticket.assignee else None,
        "requester": ticket.requester.external_id if ticket.requester else None,
        "response_due": ticket.sla_response_due.isoformat() if ticket.sla_response_due else None,
        "resolution_due": ticket.sla_resolution_due.isoformat() if ticket.sla_resolution_due else None,
    }


def notify(
    session: Session,
    ticket: Ticket,
    *,
    audience: str,
    recipient: str,
    kind: str,
    at: datetime,
    dedupe_key: str,
    text: str = "",
    extra: dict[str, Any] | None = None,
) -> OutboxMessage:
    """Queue one notification in the caller's transaction. `dedupe_key` is unique in the table, so
    the same notification can never be written twice (e.g. by two SLA workers racing on a breach)."""
    payload = {**ticket_card(ticket), "text": text, **(extra or {})}
    message = OutboxMessage(
        audience=audience,
        recipient=recipient,
        kind=kind,
        ticket_id=ticket.id,
        payload=payload,
        dedupe_key=dedupe_key,
        created_at=at,
        available_at=at,
    )
    session.add(message)
    return message


def cause_time(ticket: Ticket, cause: TicketEvent | str, at: datetime | None) -> datetime:
    if at is not None:
        return at
    return cause.at if isinstance(cause, TicketEvent) else utcnow()


def cause_key(session: Session, ticket: Ticket, cause: TicketEvent | str) -> str:
    """The notification's dedupe key. Timers pass their name and due time ("sla:response:breach:
    20261201T101500"), so two workers racing on one timer collide on the unique key instead of
    notifying twice, while a timer re-armed for a new time (a priority change) can fire again. A person's
    action is unique by nature: its key is the event kind plus a random id, which (unlike the
    event's row id) needs no flush — flushing per notification made large sweeps quadratic."""
    if isinstance(cause, str):
        return f"{ticket.id}:{cause}"
    return f"{ticket.id}:{cause.kind}:{_event_token(cause)}"


def _event_token(event: TicketEvent) -> str:
    """One random token per event, so the requester's and the queue's rows of one change share it."""
    token = _event_tokens.get(event)
    if token is None:
        token = _event_tokens[event] = uuid4().hex[:16]
    return token


def tell_requester(
    session: Session,
    ticket: Ticket,
    kind: str,
    *,
    cause: TicketEvent | str,
    text: str,
    at: datetime | None = None,
    **extra: Any,
) -> OutboxMessage | None:
    """Requester-facing rows are only ever built here, from explicit text — never from an event, so
    an internal note cannot reach a requester by construction."""
    if ticket.requester is None:
        return None
    return notify(
        session,
        ticket,
        audience=REQUESTER,
        recipient=ticket.requester.external_id,
        kind=kind,
        at=cause_time(ticket, cause, at),
        dedupe_key=f"{cause_key(session, ticket, cause)}:requester",
        text=text,
        extra=extra,
    )


def queue_key(session: Session, ticket: Ticket, cause: TicketEvent | str) -> str:
    """The dedupe key of the queue's row for `cause`, in the ticket's current tier."""
    return f"{cause_key(session, ticket, cause)}:{ticket.tier.value}"


def tell_queue(
    session: Session,
    ticket: Ticket,
    kind: str,
    *,
    cause: TicketEvent | str,
    text: str,
    at: datetime | None = None,
    **extra: Any,
) -> OutboxMessage:
    return notify(
        session,
        ticket,
        audience=TIER_QUEUE,
        recipient=ticket.tier.value,
        kind=kind,
        at=cause_time(ticket, cause, at),
        dedupe_key=queue_key(session, ticket, cause),
        text=text,
        extra=extra,
    )


def tell_engineer(
    session: Session,
    ticket: Ticket,
    engineer: User,
    kind: str,
    *,
    cause: TicketEvent | str,
    text: str,
    at: datetime | None = None,
    **extra: Any,
) -> OutboxMessage:
    return notify(
        session,
        ticket,
        audience=ENGINEER,
        recipient=engineer.external_id,
        kind=kind,
        at=cause_time(ticket, cause, at),
        dedupe_key=f"{cause_key(session, ticket, cause)}:{engineer.external_id}",
        text=text,
        extra=extra,
    )
