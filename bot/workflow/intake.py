"""Opening a ticket from a conversation the assistant could not resolve, routed and timed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot.workflow import timers
from bot.workflow.audit import clock, record, tell_queue, tell_requester
from bot.workflow.calendar import BusinessCalendar
from bot.workflow.durations import format_duration
from bot.workflow.errors import InvalidInput
from bot.workflow.routing import Routing
from classifier.types import NEEDS_TRIAGE, Facts, TriagePrediction
from models import Conversation, Ticket, TicketStatus, User

NUMBER_OFFSET = 1000  # IT-1001 reads as a ticket number; IT-1 reads as a typo.


def ticket_number(prefix: str, ticket_id: int) -> str:
    """Unique because the id is: numbers are derived from the primary key after the insert."""
    return f"{prefix}-{NUMBER_OFFSET + ticket_id}"


def open_ticket(
    session: Session,
    *,
    requester: User,
    subject: str,
    body: str,
    triage: TriagePrediction,
    facts: Facts,
    routing: Routing,
    conversation: Conversation | None = None,
    source: str = "chat",
    now: datetime | None = None,
    prefix: str = "IT",
) -> Ticket:
    """Create, classify, route and time a ticket; queue the tier's card and the requester's receipt.

    A category the classifier abstained on becomes "needs_triage" in the triage tier's queue rather
    than a guess. Does not commit: the caller's transaction holds the ticket and its outbox rows.
    """
    title = " ".join((subject or "").split())
    if not title:
        raise InvalidInput("a ticket needs a subject")
    at = clock(None, now)
    # The model's label is kept as the history spells it ("Network" stays "Network"), so new
    # tickets and imported ones count as one category in queues, reports and the next training.
    label = (triage.category.label or "").strip()
    needs_triage = triage.category.abstained or not label or label.lower() == NEEDS_TRIAGE
    category = NEEDS_TRIAGE if needs_triage else label
    tier = routing.triage_tier if needs_triage else routing.tier_for(category)
    priority = routing.priority_of(triage.priority.label)
    ticket = Ticket(
        requester=requester,
        requester_id=requester.id,
        subject=title[:500],
        body=body or "",
        category=category,
        priority=priority.value,
        tier=tier,
        status=TicketStatus.NEW,
        needs_triage=needs_triage,
        category_confidence=triage.category.confidence,
        priority_confidence=triage.priority.confidence,
        model_version=triage.model_version,
        impact=facts.impact,
        urgency=facts.urgency,
        facts=facts.as_dict(),
        conversation_id=conversation.id if conversation is not None else None,
        source=source,
        created_at=at,
        updated_at=at,
    )
    session.add(ticket)
    session.flush()  # the id gives the human-friendly number
    ticket.number = ticket_number(prefix, ticket.id)
    timers.apply_targets(ticket, routing)
    created = record(ticket, "created", actor=requester, at=at, text=title, data={"source": source})
    record(
        ticket,
        "classified",
        actor=None,
        at=at,
        data={
            "category": triage.category.label,
            "category_confidence": triage.category.confidence,
            "category_abstained": triage.category.abstained,
            "category_alternatives": [list(a) for a in triage.category.alternatives],
            "priority": priority.value,
            "priority_label": triage.priority.label,
            "priority_confidence": triage.priority.confidence,
            "priority_abstained": triage.priority.abstained,
            "priority_reason": triage.priority_reason,
            "model_version": triage.model_version,
            "tier": tier.value,
            "needs_triage": needs_triage,
        },
    )
    if not needs_triage:
        ticket.status = TicketStatus.TRIAGED
    timers.schedule(ticket, routing)
    target = routing.target(priority)
    tell_queue(
        session,
        ticket,
        "ticket_created",
        cause=created,
        text=f"New {priority.value} {category} ticket {ticket.number}: {title}",
        body=ticket.body,
        facts=ticket.facts,
        needs_triage=needs_triage,
    )
    tell_requester(
        session,
        ticket,
        "ticket_opened",
        cause=created,
        text=(
            f"I opened {ticket.number} for you with the {tier.value} team. "
            f"Expect a first response within {format_duration(target.first_response)}"
            f"{' (business hours)' if isinstance(routing.calendar_for(priority), BusinessCalendar) else ''}."
        ),
    )
    return ticket
