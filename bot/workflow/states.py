"""The ticket lifecycle as data: which status may follow which. Every operation asks here first."""

from __future__ import annotations

from models import Ticket, TicketStatus

S = TicketStatus

TRANSITIONS: dict[TicketStatus, frozenset[TicketStatus]] = {
    S.NEW: frozenset({S.TRIAGED, S.IN_PROGRESS, S.ESCALATED, S.CLOSED}),
    S.TRIAGED: frozenset({S.TRIAGED, S.IN_PROGRESS, S.ESCALATED, S.CLOSED}),
    S.IN_PROGRESS: frozenset(
        {S.IN_PROGRESS, S.TRIAGED, S.WAITING_ON_USER, S.ESCALATED, S.RESOLVED, S.CLOSED}
    ),
    S.WAITING_ON_USER: frozenset({S.IN_PROGRESS, S.TRIAGED, S.ESCALATED, S.RESOLVED, S.CLOSED}),
    S.ESCALATED: frozenset({S.ESCALATED, S.TRIAGED, S.IN_PROGRESS, S.CLOSED}),
    S.RESOLVED: frozenset({S.CLOSED, S.REOPENED}),
    S.REOPENED: frozenset({S.REOPENED, S.TRIAGED, S.IN_PROGRESS, S.ESCALATED, S.CLOSED}),
    # Closed is final except for a requester reply inside the reopen window (checked by reopen()).
    S.CLOSED: frozenset({S.REOPENED}),
}

# Statuses in which nobody holds the ticket and its tier's engineers may claim it.
CLAIMABLE = frozenset({S.NEW, S.TRIAGED, S.ESCALATED, S.REOPENED})
# Statuses whose SLA clocks run (waiting_on_user pauses them; resolved/closed stop them).
ACTIVE = frozenset({S.NEW, S.TRIAGED, S.IN_PROGRESS, S.ESCALATED, S.REOPENED})
OPEN = ACTIVE | {S.WAITING_ON_USER}


def check_transition(ticket: Ticket, target: TicketStatus, action: str) -> None:
    """Raise IllegalTransition with a sentence naming the ticket, its status and what is allowed."""
    from bot.workflow.errors import IllegalTransition

    if target not in TRANSITIONS[ticket.status]:
        raise IllegalTransition(f"{ticket.number} is {describe(ticket.status)}, so it cannot be {action}")


def describe(status: TicketStatus) -> str:
    return status.value.replace("_", " ")
