"""Who may do what. Every workflow operation calls one of these before it changes anything."""

from __future__ import annotations

from bot.workflow.errors import PermissionDenied
from models import Role, Ticket, User


def is_admin(user: User) -> bool:
    return user.role == Role.ADMIN


def is_engineer_of(user: User, ticket: Ticket) -> bool:
    return user.role == Role.ENGINEER and ticket.tier in user.tiers


def is_staff(user: User) -> bool:
    return user.role in (Role.ENGINEER, Role.ADMIN)


def require_staff(actor: User, action: str) -> None:
    if not is_staff(actor):
        raise PermissionDenied(
            f"only engineers and admins can {action}; {actor.label} is a {actor.role.value}"
        )


def require_tier(actor: User, ticket: Ticket, action: str) -> None:
    """Admins, or engineers who belong to the ticket's current tier."""
    if is_admin(actor) or is_engineer_of(actor, ticket):
        return
    raise PermissionDenied(
        f"{actor.label} is not an engineer of {ticket.tier.value}, so cannot {action} {ticket.number}"
    )


def require_handler(actor: User, ticket: Ticket, action: str) -> None:
    """Admins, the assignee, or — while nobody holds the ticket — an engineer of its tier."""
    if is_admin(actor) or (ticket.assignee_id is not None and ticket.assignee_id == actor.id):
        return
    if ticket.assignee_id is None and is_engineer_of(actor, ticket):
        return
    holder = ticket.assignee.label if ticket.assignee is not None else None
    who = (
        f"it is claimed by {holder}" if holder else f"{actor.label} is not an engineer of {ticket.tier.value}"
    )
    raise PermissionDenied(f"{actor.label} cannot {action} {ticket.number}: {who}")


def require_requester_or_staff(actor: User, ticket: Ticket, action: str) -> None:
    if is_staff(actor) or actor.id == ticket.requester_id:
        return
    raise PermissionDenied(f"{actor.label} did not open {ticket.number}, so cannot {action} it")


def require_requester(actor: User, ticket: Ticket, action: str) -> None:
    if actor.id == ticket.requester_id:
        return
    raise PermissionDenied(f"only the requester of {ticket.number} can {action} it")
