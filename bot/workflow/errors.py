"""The workflow's errors: one small hierarchy whose messages are fit to show the person who acted.

Front ends catch `WorkflowError` and print `str(exc)`; nothing here is swallowed.
"""

from __future__ import annotations


class WorkflowError(Exception):
    """Base of every refusal or failure raised by `bot.workflow`."""


class PermissionDenied(WorkflowError):
    """The actor's role or tier does not allow the operation."""


class IllegalTransition(WorkflowError):
    """The ticket's current status does not allow the operation."""


class AlreadyClaimed(WorkflowError):
    """Someone else holds the ticket (or won the race for it)."""


class NotFound(WorkflowError):
    """No ticket or user with that number or id."""


class InvalidInput(WorkflowError):
    """A value given by the actor is out of range (CSAT score, empty resolution, unknown priority)."""


class RoutingError(WorkflowError):
    """The routing file is missing or invalid; the message names the bad key."""
