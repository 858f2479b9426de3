"""The learning loop's errors: one small hierarchy whose messages are fit to show the person who acted.

Front ends catch `LearningError` and print `str(exc)`; nothing here is swallowed.
"""

from __future__ import annotations


class LearningError(Exception):
    """Base of every refusal or failure raised by `bot.learning`."""


class NotFound(LearningError):
    """No draft, alert, incident or ticket with that id or number."""


class NotAllowed(LearningError):
    """The actor's role or tier does not allow the operation (e.g. declaring a major incident)."""


class InvalidState(LearningError):
    """The object's state does not allow the operation (approving a rejected draft, ...)."""


class InvalidInput(LearningError):
    """A value given by the actor is unusable (empty message, unknown article id, bad period)."""
