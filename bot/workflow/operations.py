"""Workflow operations on one ticket. Each checks the actor's role, refuses illegal transitions,
changes the ticket, appends an event and queues the notifications — all in the caller's session,
which the caller commits (front ends and the CLI), so the change and its outbox rows are atomic.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.workflow import timers
from bot.workflow.access import (
    is_admin,
    is_staff,
    require_handler,
    require_requester,
    require_requester_or_staff,
    require_staff,
    require_tier,
)
from bot.workflow.audit import clock, record, tell_engineer, tell_queue, tell_requester
from bot.workflow.errors import AlreadyClaimed, IllegalTransition, InvalidInput, PermissionDenied
from bot.workflow.routing import Routing
from bot.workflow.states import CLAIMABLE, OPEN, check_transition, describe
from classifier.labels import label_key
from classifier.types import NEEDS_TRIAGE
from models import Priority, Role, Ticket, TicketEvent, TicketStatus, Tier, User

S = TicketStatus


def _assign(ticket: Ticket, user: User | None) -> None:
    """Set the holder through both the relationship and the column, so checks made before the next
    flush (which read `assignee_id`) see the change."""
    ticket.assignee = user
    ticket.assignee_id = user.id if user is not None else None


def _text(value: str, what: str) -> str:
    cleaned = (value or "").strip()
    if not cleaned:
        raise InvalidInput(f"a {what} cannot be empty")
    return cleaned


# --- claims and assignment -----------------------------------------------------------------


def claim(session: Session, ticket: Ticket, *, actor: User, now: datetime | None = None) -> Ticket:
    """Take the ticket. Atomic: a conditional UPDATE lets exactly one of many racing engineers win,
    on SQLite (writers serialise) and PostgreSQL (the loser's UPDATE re-checks the row and misses)."""
    require_tier(actor, ticket, "claim")
    if ticket.assignee_id is not None:
        who = (
            "you"
            if ticket.assignee_id == actor.id
            else ticket.assignee.label
            if ticket.assignee
            else "someone"
        )
        raise AlreadyClaimed(f"{ticket.number} is already claimed by {who}")
    if ticket.status not in CLAIMABLE:
        raise IllegalTransition(f"{ticket.number} is {describe(ticket.status)}, so it cannot be claimed")
    at = clock(ticket, now)
    previous = ticket.status
    won = session.execute(
        update(Ticket)
        .where(
            Ticket.id == ticket.id,
            Ticket.assignee_id.is_(None),
            Ticket.tier == ticket.tier,
            Ticket.status.in_(CLAIMABLE),
        )
        .values(assignee_id=actor.id, status=S.IN_PROGRESS, updated_at=at)
        .execution_options(synchronize_session=False)
    )
    session.refresh(ticket)
    if won.rowcount != 1:  # type: ignore[attr-defined]
        holder = ticket.assignee.label if ticket.assignee else None
        raise AlreadyClaimed(
            f"{ticket.number} was just claimed by {holder}"
            if holder
            else f"{ticket.number} changed while you were claiming it; it is now {describe(ticket.status)}"
        )
    event = record(
        ticket, "claimed", actor=actor, at=at, data={"from": previous.value, "to": S.IN_PROGRESS.value}
    )
    tell_requester(
        session,
        ticket,
        "ticket_claimed",
        cause=event,
        text=f"{actor.label} is now working on {ticket.number}.",
    )
    return ticket


def unclaim(
    session: Session, ticket: Ticket, *, actor: User, routing: Routing, now: datetime | None = None
) -> Ticket:
    """Give the ticket back to its tier's queue."""
    if ticket.assignee_id is None:
        raise IllegalTransition(f"{ticket.number} is not claimed by anyone")
    if not (is_admin(actor) or ticket.assignee_id == actor.id):
        raise PermissionDenied(f"only the engineer holding {ticket.number} or an admin can release it")
    check_transition(ticket, S.TRIAGED, "released")
    at = clock(ticket, now)
    previous = ticket.assignee
    timers.resume(ticket, routing, at)
    _assign(ticket, None)
    ticket.status = S.TRIAGED
    timers.schedule(ticket, routing)
    event = record(
        ticket, "unclaimed", actor=actor, at=at, data={"previous": previous.external_id if previous else None}
    )
    tell_queue(
        session,
        ticket,
        "ticket_released",
        cause=event,
        text=f"{ticket.number} is back in the {ticket.tier.value} queue.",
    )
    return ticket


def reassign(
    session: Session, ticket: Ticket, *, actor: User, to: User, now: datetime | None = None
) -> Ticket:
    """Hand the ticket to another engineer of its tier (admins, the holder, or the tier's engineers)."""
    if not (is_admin(actor) or ticket.assignee_id == actor.id):
        require_tier(actor, ticket, "reassign")
    if not (to.role == Role.ADMIN or (to.role == Role.ENGINEER and ticket.tier in to.tiers)):
        raise InvalidInput(
            f"{to.label} is not an engineer of {ticket.tier.value}, so cannot take {ticket.number}"
        )
    if ticket.assignee_id == to.id:
        raise AlreadyClaimed(f"{ticket.number} is already assigned to {to.label}")
    target = S.IN_PROGRESS if ticket.status in CLAIMABLE else ticket.status
    check_transition(ticket, target, "reassigned")
    at = clock(ticket, now)
    previous = ticket.assignee
    _assign(ticket, to)
    ticket.status = target
    event = record(
        ticket,
        "reassigned",
        actor=actor,
        at=at,
        data={"from": previous.external_id if previous else None, "to": to.external_id},
    )
    tell_engineer(
        session,
        ticket,
        to,
        "ticket_assigned",
        cause=event,
        text=f"{actor.label} assigned {ticket.number} to you.",
    )
    return ticket


# --- escalation ------------------------------------------------------------------------------


def _recent_notes(session: Session, ticket: Ticket, limit: int = 5) -> list[dict[str, Any]]:
    """Notes and messages carried to the next tier (staff-only audience, so internal notes included).

    A direct query rather than `ticket.events`, which would load the whole history; the sweeper
    runs it with autoflush off, people's operations with it on (so a note just added is included)."""
    kept = list(
        session.scalars(
            select(TicketEvent)
            .where(
                TicketEvent.ticket_id == ticket.id,
                TicketEvent.kind.in_(("note", "message", "escalated")),
                TicketEvent.text.is_not(None),
            )
            .order_by(TicketEvent.id.desc())
            .limit(limit)
        )
    )
    return [
        {"kind": e.kind, "internal": e.internal, "text": e.text, "by": e.actor.label if e.actor else "system"}
        for e in reversed(kept)
    ]


def move_tier(
    session: Session,
    ticket: Ticket,
    *,
    actor: User | None,
    to_tier: Tier,
    reason: str,
    routing: Routing,
    at: datetime,
    kind: str,
    status: TicketStatus,
    data: dict[str, Any] | None = None,
) -> Ticket:
    """Shared by escalate, de-escalate and the SLA sweeper: change tier, clear the claim, tell the
    new tier's queue (with the notes so far) and the engineer who held it."""
    previous_tier, previous = ticket.tier, ticket.assignee
    notes = _recent_notes(session, ticket)
    timers.resume(ticket, routing, at)
    ticket.tier = to_tier
    _assign(ticket, None)
    ticket.status = status
    timers.schedule(ticket, routing)
    event = record(
        ticket,
        kind,
        actor=actor,
        at=at,
        text=reason,
        data={
            "from_tier": previous_tier.value,
            "to_tier": to_tier.value,
            "previous_assignee": previous.external_id if previous else None,
            **(data or {}),
        },
    )
    by = actor.label if actor else "Tierline"
    tell_queue(
        session,
        ticket,
        f"ticket_{kind}",
        cause=event,
        text=f"{ticket.number} moved from {previous_tier.value} to {to_tier.value} by {by}: {reason}",
        notes=notes,
    )
    if previous is not None and previous != actor:
        tell_engineer(
            session,
            ticket,
            previous,
            f"ticket_{kind}",
            cause=event,
            text=f"{ticket.number} moved to {to_tier.value}: {reason}",
        )
    tell_requester(
        session,
        ticket,
        "status_changed",
        cause=event,
        text=f"{ticket.number} has been passed to our {to_tier.value} team.",
    )
    return ticket


def escalate(
    session: Session,
    ticket: Ticket,
    *,
    actor: User,
    reason: str,
    routing: Routing,
    now: datetime | None = None,
) -> Ticket:
    """L1 -> L2 -> L3 with a reason; the claim is cleared and the next tier's queue is told."""
    if not (is_admin(actor) or ticket.assignee_id == actor.id):
        require_tier(actor, ticket, "escalate")
    why = _text(reason, "reason for escalating")
    target = ticket.tier.next_up()
    if target is None:
        raise IllegalTransition(f"{ticket.number} is already at {ticket.tier.value}, the highest tier")
    check_transition(ticket, S.ESCALATED, "escalated")
    return move_tier(
        session,
        ticket,
        actor=actor,
        to_tier=target,
        reason=why,
        routing=routing,
        at=clock(ticket, now),
        kind="escalated",
        status=S.ESCALATED,
        data={"auto": False},
    )


def deescalate(
    session: Session,
    ticket: Ticket,
    *,
    actor: User,
    reason: str,
    routing: Routing,
    now: datetime | None = None,
) -> Ticket:
    if not (is_admin(actor) or ticket.assignee_id == actor.id):
        require_tier(actor, ticket, "de-escalate")
    why = _text(reason, "reason for de-escalating")
    target = ticket.tier.next_down()
    if target is None:
        raise IllegalTransition(f"{ticket.number} is already at {ticket.tier.value}, the first tier")
    check_transition(ticket, S.TRIAGED, "de-escalated")
    return move_tier(
        session,
        ticket,
        actor=actor,
        to_tier=target,
        reason=why,
        routing=routing,
        at=clock(ticket, now),
        kind="deescalated",
        status=S.TRIAGED,
    )


# --- conversation ----------------------------------------------------------------------------


def add_message(
    session: Session, ticket: Ticket, *, actor: User, text: str, routing: Routing, now: datetime | None = None
) -> Ticket:
    """A public message. From the requester it goes to the engineer holding the ticket (or the tier
    queue), resumes a paused clock and may reopen a resolved ticket; from an engineer it goes to the
    requester and counts as the first response."""
    body = _text(text, "message")
    at = clock(ticket, now)
    if actor.id == ticket.requester_id:
        reopened = ticket.status in (S.RESOLVED, S.CLOSED)
        if reopened:  # the reopen notice carries their words to the queue: not relayed twice
            reopen(session, ticket, actor=actor, routing=routing, reason=body, now=at)
        resumed = ticket.status == S.WAITING_ON_USER
        if resumed:
            timers.resume(ticket, routing, at)
            ticket.status = S.IN_PROGRESS
            timers.schedule(ticket, routing)
            record(
                ticket,
                "status_changed",
                actor=actor,
                at=at,
                data={"from": S.WAITING_ON_USER.value, "to": S.IN_PROGRESS.value, "by": "requester reply"},
            )
        event = record(ticket, "message", actor=actor, at=at, text=body, data={"from": "requester"})
        # `resumed`: the card still says "waiting on user" and must catch up with the answer.
        if reopened:
            return ticket
        if ticket.assignee is not None:
            tell_engineer(
                session,
                ticket,
                ticket.assignee,
                "relay",
                cause=event,
                text=body,
                author=actor.label,
                resumed=resumed,
            )
        else:
            tell_queue(session, ticket, "relay", cause=event, text=body, author=actor.label, resumed=resumed)
        return ticket
    require_handler(actor, ticket, "reply on")
    if ticket.status == S.CLOSED:
        raise IllegalTransition(f"{ticket.number} is closed; ask the requester to open a new request")
    if ticket.first_response_at is None:
        ticket.first_response_at = at
        timers.schedule(ticket, routing)
    event = record(ticket, "message", actor=actor, at=at, text=body, data={"from": "engineer"})
    tell_requester(session, ticket, "relay", cause=event, text=body, author=actor.label)
    return ticket


def add_internal_note(
    session: Session, ticket: Ticket, *, actor: User, text: str, now: datetime | None = None
) -> Ticket:
    """A note for engineers only: the event is flagged internal and no outbox row is written, so no
    front end can relay it to the requester."""
    require_staff(actor, "add internal notes")
    # The ticket's tier, or anyone who has worked on it (the L1 engineer who escalated it may add
    # what they found); an engineer of an unrelated tier has no business writing in it.
    if not any(event.actor_id == actor.id for event in ticket.events):
        require_tier(actor, ticket, "add internal notes to")
    record(ticket, "note", actor=actor, at=clock(ticket, now), text=_text(text, "note"), internal=True)
    return ticket


def set_waiting_on_user(
    session: Session,
    ticket: Ticket,
    *,
    actor: User,
    routing: Routing,
    question: str | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Pause the SLA clocks until the requester answers (optionally sending them the question)."""
    require_handler(actor, ticket, "put on hold")
    check_transition(ticket, S.WAITING_ON_USER, "put on hold")
    if question:
        add_message(session, ticket, actor=actor, text=question, routing=routing, now=now)
    at = clock(ticket, now)
    previous = ticket.status
    ticket.status = S.WAITING_ON_USER
    timers.pause(ticket, at)
    record(
        ticket,
        "status_changed",
        actor=actor,
        at=at,
        data={"from": previous.value, "to": S.WAITING_ON_USER.value},
    )
    return ticket


def resume_work(
    session: Session, ticket: Ticket, *, actor: User, routing: Routing, now: datetime | None = None
) -> Ticket:
    """Take a ticket off hold without waiting for the requester."""
    require_handler(actor, ticket, "resume")
    if ticket.status != S.WAITING_ON_USER:
        raise IllegalTransition(f"{ticket.number} is {describe(ticket.status)}, not waiting on the requester")
    at = clock(ticket, now)
    timers.resume(ticket, routing, at)
    ticket.status = S.IN_PROGRESS
    timers.schedule(ticket, routing)
    record(
        ticket,
        "status_changed",
        actor=actor,
        at=at,
        data={"from": S.WAITING_ON_USER.value, "to": S.IN_PROGRESS.value},
    )
    return ticket


# --- closure loop ----------------------------------------------------------------------------


def resolve(
    session: Session,
    ticket: Ticket,
    *,
    actor: User,
    resolution: str,
    routing: Routing,
    now: datetime | None = None,
) -> Ticket:
    """Record the fix and ask the requester to confirm and rate it (CSAT 1–5)."""
    require_handler(actor, ticket, "resolve")
    note = _text(resolution, "resolution note")
    check_transition(ticket, S.RESOLVED, "resolved")
    event = _mark_resolved(ticket, actor=actor, note=note, routing=routing, at=clock(ticket, now))
    days = routing.closure.auto_close_after_days
    tell_requester(
        session,
        ticket,
        "csat_request",
        cause=event,
        text=note,
        question="Did this solve it? Rate the help from 1 to 5, or reply to reopen.",
        auto_close_days=days,
    )
    return ticket


def _mark_resolved(
    ticket: Ticket,
    *,
    actor: User,
    note: str,
    routing: Routing,
    at: datetime,
    data: dict[str, Any] | None = None,
) -> TicketEvent:
    ticket.status = S.RESOLVED
    ticket.resolution = note
    ticket.resolved_at = at
    if ticket.first_response_at is None:
        ticket.first_response_at = at
    if ticket.assignee is None:
        _assign(ticket, actor)
    timers.pause(ticket, at)
    timers.schedule(ticket, routing)
    return record(ticket, "resolved", actor=actor, at=at, text=note, data=data)


def resolve_with_incident(
    session: Session,
    ticket: Ticket,
    *,
    actor: User,
    resolution: str,
    incident: str,
    routing: Routing,
    now: datetime | None = None,
) -> bool:
    """Resolve a ticket because the major incident it is linked to was resolved; False when the
    ticket is already resolved or closed.

    The caller has checked that `actor` runs the incident: tickets of an outage are settled by
    whoever fixed it, claimed or not and whatever their tier, or their SLA timers would go on to
    breach and escalate tickets whose problem is gone. The tier's queue hears of it on the card;
    the requester is told once, by the incident's resolution message, instead of one CSAT request
    per ticket; a reply in the ticket's thread reopens it as usual, and unanswered it auto-closes
    like any resolved ticket.
    """
    if ticket.status not in OPEN:
        return False
    note = _text(resolution, "resolution note")
    at = clock(ticket, now)
    if ticket.status in CLAIMABLE:
        previous = ticket.status
        ticket.status = S.IN_PROGRESS
        moved = {"from": previous.value, "to": S.IN_PROGRESS.value}
        record(ticket, "claimed", actor=actor, at=at, data=moved)
    event = _mark_resolved(
        ticket, actor=actor, note=note, routing=routing, at=at, data={"incident": incident}
    )
    # The tier's card shows it settled, and its thread says by what.
    tell_queue(
        session, ticket, "ticket_resolved", cause=event, text=f"{ticket.number} resolved with {incident}."
    )
    return True


def rate(
    session: Session,
    ticket: Ticket,
    *,
    actor: User,
    score: int,
    comment: str | None = None,
    now: datetime | None = None,
) -> Ticket:
    """The requester's CSAT; rating a resolved ticket also confirms the fix and closes it."""
    require_requester(actor, ticket, "rate")
    if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
        raise InvalidInput(f"a rating is a whole number from 1 to 5, not {score!r}")
    if ticket.status not in (S.RESOLVED, S.CLOSED) or ticket.resolved_at is None:
        # A ticket closed without being resolved (an admin's cancel, a duplicate) had no help to rate.
        raise IllegalTransition(
            f"{ticket.number} is {describe(ticket.status)}; it can be rated once it is resolved"
        )
    if ticket.csat_score is not None:
        raise IllegalTransition(f"{ticket.number} was already rated {ticket.csat_score}/5")
    at = clock(ticket, now)
    ticket.csat_score = score
    ticket.csat_comment = (comment or "").strip() or None
    event = record(ticket, "rated", actor=actor, at=at, text=ticket.csat_comment, data={"score": score})
    if ticket.assignee is not None:
        tell_engineer(
            session,
            ticket,
            ticket.assignee,
            "rated",
            cause=event,
            text=f"{actor.label} rated {ticket.number} {score}/5",
            score=score,
            comment=ticket.csat_comment,
        )
    if ticket.status == S.RESOLVED:
        _close(ticket, actor=actor, at=at, data={"confirmed": True})
    return ticket


def _close(ticket: Ticket, *, actor: User | None, at: datetime, data: dict[str, Any]) -> TicketEvent:
    previous = ticket.status
    ticket.status = S.CLOSED
    ticket.closed_at = at
    timers.pause(ticket, at)  # a reopen must not count the closed months against the SLA
    return record(ticket, "closed", actor=actor, at=at, data={"from": previous.value, **data})


def close(
    session: Session, ticket: Ticket, *, actor: User | None, reason: str = "", now: datetime | None = None
) -> Ticket:
    """Close for good: the requester confirming a resolution, an admin cancelling, or the sweeper
    (actor None) after the confirmation window."""
    if actor is not None:
        if actor.id == ticket.requester_id and not is_staff(actor):
            if ticket.status != S.RESOLVED:
                raise IllegalTransition(
                    f"{ticket.number} is {describe(ticket.status)}; you can close it once it is resolved"
                )
        elif not is_admin(actor):
            require_handler(actor, ticket, "close")
    check_transition(ticket, S.CLOSED, "closed")
    at = clock(ticket, now)
    event = _close(ticket, actor=actor, at=at, data={"reason": reason, "auto": actor is None})
    if actor is None or actor.id != ticket.requester_id:
        tell_requester(
            session,
            ticket,
            "ticket_closed",
            cause=event,
            text=f"{ticket.number} is now closed. {reason}".strip(),
        )
    return ticket


def withdraw(
    session: Session, ticket: Ticket, *, actor: User, reason: str, now: datetime | None = None
) -> Ticket:
    """The requester says the problem has gone ("it works now") and asks to close the ticket.

    Closed at once, with the requester's words as its resolution, and the tier's card hears of it
    so nobody starts on it. Not "resolved": nobody from IT fixed it, so there is nothing to rate
    and no resolution time to count (SLA figures leave out a ticket closed before its due time).
    """
    if actor.id != ticket.requester_id:
        raise PermissionDenied(f"only the requester of {ticket.number} can withdraw it")
    if ticket.status not in OPEN:
        raise IllegalTransition(
            f"{ticket.number} is {describe(ticket.status)}, so there is nothing to withdraw"
        )
    note = _text(reason, "reason")
    at = clock(ticket, now)
    previous = ticket.status
    ticket.status = S.CLOSED
    ticket.resolution = f"Withdrawn by the requester: {note}"
    ticket.closed_at = at
    timers.pause(ticket, at)
    # Its own kind: training leaves out withdrawn tickets no engineer looked at (their labels
    # are the model's unchecked guesses).
    event = record(ticket, "withdrawn", actor=actor, at=at, text=note, data={"from": previous.value})
    tell_queue(
        session,
        ticket,
        "ticket_withdrawn",
        cause=event,
        text=f"{ticket.number} was withdrawn by the requester: {note}",
    )
    return ticket


def reopen(
    session: Session,
    ticket: Ticket,
    *,
    actor: User,
    routing: Routing,
    reason: str = "",
    now: datetime | None = None,
) -> Ticket:
    """Back to the tier's queue. Requesters may reopen within the reopen window after resolution;
    engineers and admins any time."""
    require_requester_or_staff(actor, ticket, "reopen")
    check_transition(ticket, S.REOPENED, "reopened")
    at = clock(ticket, now)
    finished_at = ticket.resolved_at or ticket.closed_at
    if not is_staff(actor) and finished_at is not None:
        window = timedelta(days=routing.closure.reopen_window_days)
        if at - finished_at > window:
            done = "resolved" if ticket.resolved_at is not None else "closed"
            raise IllegalTransition(
                f"{ticket.number} was {done} more than {routing.closure.reopen_window_days:g} days ago; "
                "please open a new request"
            )
    previous = ticket.assignee
    earlier_rating = ticket.csat_score
    # The rating was of the help that did not last: the next resolution is asked and rated afresh.
    ticket.csat_score, ticket.csat_comment = None, None
    timers.resume(ticket, routing, at)
    ticket.status = S.REOPENED
    # Open again, so not resolved: metrics count time to resolve, SLA attainment and CSAT from the
    # resolution that lasts, not from one the requester undid.
    ticket.resolved_at = None
    ticket.closed_at = None
    _assign(ticket, None)
    ticket.reopen_count = (ticket.reopen_count or 0) + 1
    timers.schedule(ticket, routing)
    event = record(
        ticket,
        "reopened",
        actor=actor,
        at=at,
        text=reason.strip() or None,
        data={
            "previous_assignee": previous.external_id if previous else None,
            "previous_csat": earlier_rating,
        },
    )
    tell_queue(
        session,
        ticket,
        "ticket_reopened",
        cause=event,
        text=f"{ticket.number} was reopened: {reason}".strip(),
    )
    if previous is not None and previous != actor:
        tell_engineer(
            session, ticket, previous, "ticket_reopened", cause=event, text=f"{ticket.number} was reopened."
        )
    return ticket


# --- corrections -----------------------------------------------------------------------------


def change_priority(
    session: Session,
    ticket: Ticket,
    *,
    actor: User,
    priority: str,
    routing: Routing,
    reason: str = "",
    now: datetime | None = None,
) -> Ticket:
    """Correct the priority; SLA due times are recomputed from creation with the new targets
    (on a resolved ticket only the label changes)."""
    if not (is_admin(actor) or ticket.assignee_id == actor.id):
        require_tier(actor, ticket, "change the priority of")
    try:
        new = Priority(priority.strip().lower())
    except ValueError:
        raise InvalidInput(
            f"unknown priority {priority!r}; use {', '.join(p.value for p in Priority)}"
        ) from None
    if ticket.status == S.CLOSED:
        raise IllegalTransition(f"{ticket.number} is closed")
    if new.value == ticket.recorded_priority:
        return ticket
    at = clock(ticket, now)
    old = ticket.recorded_priority
    ticket.set_priority(new.value)
    event = record(
        ticket,
        "priority_changed",
        actor=actor,
        at=at,
        text=reason or None,
        data={"from": old, "to": new.value},
    )
    if ticket.status == S.RESOLVED:
        # Finished work keeps the SLA it was measured by: new targets would put its due times in
        # the past and re-arm its timers, and its queue has nothing to do. Only the label changes.
        return ticket
    timers.apply_targets(ticket, routing)
    timers.rearm(ticket, at)
    timers.schedule(ticket, routing)
    tell_queue(
        session,
        ticket,
        "priority_changed",
        cause=event,
        text=f"{ticket.number} is now {new.value} (was {old or 'not set'}).",
    )
    return ticket


def change_category(
    session: Session,
    ticket: Ticket,
    *,
    actor: User,
    category: str,
    routing: Routing,
    reason: str = "",
    now: datetime | None = None,
) -> Ticket:
    """Correct the category (this is also how a "needs triage" ticket gets triaged); the ticket is
    re-routed when the category belongs to another tier."""
    if not (is_admin(actor) or ticket.assignee_id == actor.id):
        require_tier(actor, ticket, "change the category of")
    new = _text(category, "category")
    if new.lower() == NEEDS_TRIAGE:
        raise InvalidInput("choose a real category; needs_triage is what the classifier sets when unsure")
    if ticket.status in (S.CLOSED, S.RESOLVED):
        raise IllegalTransition(f"{ticket.number} is {describe(ticket.status)}")
    if label_key(new) == label_key(ticket.category or ""):
        return ticket
    at = clock(ticket, now)
    old = ticket.category
    ticket.category = new
    ticket.needs_triage = False
    if ticket.status == S.NEW:
        ticket.status = S.TRIAGED
    record(ticket, "category_changed", actor=actor, at=at, text=reason or None, data={"from": old, "to": new})
    tier = routing.tier_for(new)
    if tier != ticket.tier:
        move_tier(
            session,
            ticket,
            actor=actor,
            to_tier=tier,
            reason=f"category is {new}",
            routing=routing,
            at=at,
            kind="rerouted",
            status=S.TRIAGED,
        )
    return ticket
