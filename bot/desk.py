"""The engine's view of the ticket workflow: open a ticket, relay a requester's message, know users.

A thin adapter so the engine depends on three verbs rather than on the whole workflow package.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.workflow import operations
from bot.workflow.audit import clock, record
from bot.workflow.intake import open_ticket
from bot.workflow.queries import ensure_user
from bot.workflow.routing import Routing
from classifier.facts import merge_facts
from classifier.priority import decide_priority
from classifier.types import Facts, TriagePrediction
from models import Conversation, Role, Ticket, TicketStatus, User

# Automatic changes (priority from the requester's answers) are made by this account, so the audit
# trail says who did them.
SYSTEM_USER = "system:tierline"


class WorkflowDesk:
    def __init__(self, routing: Routing, *, ticket_prefix: str = "IT") -> None:
        self.routing = routing
        self.ticket_prefix = ticket_prefix

    def open_ticket(
        self,
        session: Session,
        *,
        requester: User,
        subject: str,
        body: str,
        triage: TriagePrediction,
        facts: Facts,
        conversation: Conversation | None,
        source: str,
    ) -> Ticket:
        return open_ticket(
            session,
            requester=requester,
            subject=subject,
            body=body,
            triage=triage,
            facts=facts,
            routing=self.routing,
            conversation=conversation,
            source=source,
            prefix=self.ticket_prefix,
        )

    def requester_message(self, session: Session, ticket: Ticket, *, requester: User, text: str) -> None:
        operations.add_message(session, ticket, actor=requester, text=text, routing=self.routing)

    def ensure_user(self, session: Session, external_id: str, display_name: str = "") -> User:
        return ensure_user(session, external_id, display_name)

    def add_facts(self, session: Session, ticket: Ticket, *, requester: User, facts: Facts) -> str | None:
        """Merge facts the requester just gave into the ticket; re-prioritise the ITIL way.

        Returns the new priority when impact × urgency changed it, else None. New facts only fill
        gaps: what the requester said first stays, and an engineer's correction is never undone.
        """
        known = Facts(
            device=ticket.facts.get("device"),
            software_version=ticket.facts.get("software_version"),
            error_text=ticket.facts.get("error_text"),
            impact=ticket.impact,
            urgency=ticket.urgency,
        )
        merged = merge_facts(known, facts)
        added = {k: v for k, v in merged.as_dict().items() if k not in known.as_dict()}
        if not added or ticket.status is TicketStatus.CLOSED:
            return None
        ticket.facts = {**ticket.facts, **merged.as_dict()}
        ticket.impact, ticket.urgency = merged.impact, merged.urgency
        record(ticket, "facts_added", actor=requester, at=clock(ticket, None), data=added)
        corrected = any(e.kind == "priority_changed" and e.actor_id != requester.id for e in ticket.events)
        if corrected or merged.impact is None or merged.urgency is None:
            return None
        priority, reason, by_matrix = decide_priority(
            ticket.priority, ticket.body, merged.impact, merged.urgency, basis="was"
        )
        if not by_matrix or priority == ticket.priority:
            return None
        system = ensure_user(session, SYSTEM_USER, "Tierline", role=Role.ADMIN)
        operations.change_priority(
            session, ticket, actor=system, priority=priority, routing=self.routing, reason=reason
        )
        return priority
