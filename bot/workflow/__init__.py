"""The ticket workflow (L1/L2/L3): intake, routing, claims, escalation, SLA timers, closure loop,
audit trail and outbox — independent of Slack, which only renders and forwards.

Every operation takes the caller's session and never commits.
"""

from bot.workflow.errors import (
    AlreadyClaimed,
    IllegalTransition,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RoutingError,
    WorkflowError,
)
from bot.workflow.intake import open_ticket
from bot.workflow.operations import (
    add_internal_note,
    add_message,
    change_category,
    change_priority,
    claim,
    close,
    deescalate,
    escalate,
    rate,
    reassign,
    reopen,
    resolve,
    resolve_with_incident,
    resume_work,
    set_waiting_on_user,
    unclaim,
    withdraw,
)
from bot.workflow.queries import ensure_user, find_ticket, find_user, grant_tier, queue, tickets_for_requester
from bot.workflow.routing import Routing, load_routing

__all__ = [
    "AlreadyClaimed",
    "IllegalTransition",
    "InvalidInput",
    "NotFound",
    "PermissionDenied",
    "Routing",
    "RoutingError",
    "WorkflowError",
    "add_internal_note",
    "add_message",
    "change_category",
    "change_priority",
    "claim",
    "close",
    "deescalate",
    "ensure_user",
    "escalate",
    "find_ticket",
    "find_user",
    "grant_tier",
    "load_routing",
    "open_ticket",
    "queue",
    "rate",
    "reassign",
    "reopen",
    "resolve",
    "resolve_with_incident",
    "resume_work",
    "set_waiting_on_user",
    "tickets_for_requester",
    "unclaim",
    "withdraw",
]
