"""The engine's view of the ticket workflow: open a ticket, relay a requester's message, know users.

A thin adapter so the engine depends on three verbs rather than on the whole workflow package.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.workflow import operations
from bot.workflow.facts import FACTS, apply_facts
from bot.workflow.intake import open_ticket
from bot.workflow.queries import ensure_user
from bot.workflow.routing import Routing
from classifier.types import Facts, TriagePrediction
from models import Conversation, Ticket, TicketStatus, User


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

    def confirm_resolved(self, session: Session, ticket: Ticket, *, requester: User) -> bool:
        """The requester confirms the fix: a resolved ticket closes (True); otherwise nothing changes."""
        if ticket.status is not TicketStatus.RESOLVED:
            return False
        operations.close(session, ticket, actor=requester, reason="the requester confirmed the fix")
        return True

    def rate(self, session: Session, ticket: Ticket, *, requester: User, score: int, comment: str) -> None:
        """The requester's CSAT for a resolved ticket, which also confirms the fix (see operations.rate)."""
        operations.rate(session, ticket, actor=requester, score=score, comment=comment)

    def withdraw(self, session: Session, ticket: Ticket, *, requester: User, reason: str) -> None:
        """The requester says the problem has gone: close the ticket (see operations.withdraw)."""
        operations.withdraw(session, ticket, actor=requester, reason=reason)

    def ensure_user(self, session: Session, external_id: str, display_name: str = "") -> User:
        return ensure_user(session, external_id, display_name)

    def add_facts(self, session: Session, ticket: Ticket, *, requester: User, facts: Facts) -> str | None:
        """Record facts the requester just stated in free text; re-prioritise the ITIL way.

        Only gaps are filled (what the requester said first stays). Returns the new priority when
        impact × urgency changed it, else None.
        """
        known = ticket.facts or {}
        gaps = {
            name: value for name, value in facts.as_dict().items() if name in FACTS and not known.get(name)
        }
        if not gaps or ticket.status is TicketStatus.CLOSED:
            return None
        before = ticket.priority
        apply_facts(session, ticket, actor=requester, values=gaps, routing=self.routing)
        return ticket.priority if ticket.priority != before else None
