"""The structured facts asked after a handoff (device, version, error text, impact, urgency).

Only facts the ticket lacks and an engineer would use are asked (none for a service request).
When impact and urgency are both known, the ITIL matrix decides the priority (the requester's
answers beat the model's guess) and SLA due times follow, unless an engineer already set the
priority by hand: a person's correction is never undone.
Both front ends use this: Slack's buttons and modal, and free-text replies in any thread.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.workflow import access, timers
from bot.workflow.audit import clock, record, tell_queue
from bot.workflow.errors import InvalidInput
from bot.workflow.routing import Routing
from classifier.facts import facts_to_ask
from classifier.priority import decide_priority
from classifier.types import FACT_NAMES, Facts
from models import Ticket, TicketStatus, User

FACTS = FACT_NAMES
CHOICES = {
    "impact": frozenset({"one", "team", "many", "everyone"}),
    "urgency": frozenset({"blocking", "workaround", "low"}),
}
MAX_FACT_CHARS = 1_000


def missing_facts(ticket: Ticket) -> tuple[str, ...]:
    """What the requester is still asked for: the same choice the handoff message made."""
    return facts_to_ask(ticket.body or "", Facts.of(ticket.facts or {}))


def _priority_set_by_staff(ticket: Ticket) -> bool:
    return any(
        e.kind == "priority_changed" and e.actor_id not in (None, ticket.requester_id) for e in ticket.events
    )


def apply_facts(
    session: Session, ticket: Ticket, *, actor: User, values: dict[str, str], routing: Routing
) -> Ticket:
    """Record the answers on the ticket (requester or staff only) and re-derive its priority."""
    access.require_requester_or_staff(actor, ticket, "add details to")
    if ticket.status in (TicketStatus.CLOSED,):
        raise InvalidInput(f"{ticket.number} is closed")
    given: dict[str, str] = {}
    for name, raw in values.items():
        value = " ".join(str(raw).split())[:MAX_FACT_CHARS]
        if name not in FACTS or not value:
            continue
        if name in CHOICES and value not in CHOICES[name]:
            raise InvalidInput(f"{value!r} is not a valid answer for {name}")
        given[name] = value
    if not given:
        return ticket
    at = clock(ticket, None)
    ticket.facts = {**(ticket.facts or {}), **given}  # a new dict, so the JSON column is saved
    ticket.impact = ticket.facts.get("impact") or ticket.impact
    ticket.urgency = ticket.facts.get("urgency") or ticket.urgency
    record(ticket, "facts_added", actor=actor, at=at, data=given)
    if ticket.impact and ticket.urgency and not _priority_set_by_staff(ticket):
        priority, reason, by_matrix = decide_priority(
            ticket.priority, ticket.body, ticket.impact, ticket.urgency
        )
        if by_matrix and priority != ticket.priority:
            old = ticket.priority
            ticket.priority = priority
            timers.apply_targets(ticket, routing)
            timers.schedule(ticket, routing)
            event = record(
                ticket,
                "priority_changed",
                actor=actor,
                at=at,
                text=reason,
                data={"from": old, "to": priority},
            )
            tell_queue(
                session,
                ticket,
                "priority_changed",
                cause=event,
                text=f"{ticket.number} is now {priority} (was {old}) from the requester's answers.",
            )
    session.flush()
    return ticket
