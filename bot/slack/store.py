"""Database look-ups the Slack adapter needs: handled-event receipts and ticket ↔ thread links.

Helpers take the caller's session and never commit (the listener owns the unit of work).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import Conversation, SlackEventReceipt, SlackThread, Ticket, Tier, User

REQUESTER = "requester"
CARD = "card"
# A "How did we do?" message with rating buttons, kept so its buttons can be taken away once
# the ticket is rated (by a typed "5" too) or reopened: a stale prompt invites a rating that
# is refused or lands on the wrong resolution.
CSAT = "csat"


class DuplicatePost(Exception):
    """This post (or outbox row) was already handled; the caller's transaction must roll back."""


def claim_post(session: Session, key: str) -> None:
    """Record that `key` is being handled; raise DuplicatePost when it already was (or is, elsewhere).

    The receipt is part of the caller's transaction: if handling fails, it rolls back with
    everything else and Slack's retry is handled normally. On PostgreSQL a concurrent duplicate
    waits for the first transaction and then fails the unique index; on SQLite writers are
    serialised. (No savepoint: with pysqlite a savepoint opened first commits on release.)
    """
    session.add(SlackEventReceipt(key=key[:255]))
    try:
        session.flush()
    except IntegrityError:
        raise DuplicatePost(key) from None


def post_key(channel: str, ts: str) -> str:
    """One key per Slack post, shared by its `message` and `app_mention` events and every retry."""
    return f"post:{channel}:{ts}"


def parse_conversation_key(key: str) -> tuple[str, str] | None:
    """`slack:<channel>:<thread_ts>` → (channel, thread_ts); None for other front ends."""
    parts = key.split(":")
    if len(parts) == 3 and parts[0] == "slack":
        return parts[1], parts[2]
    return None


def conversation_key(channel: str, thread_ts: str) -> str:
    return f"slack:{channel}:{thread_ts}"


def latest_conversation_in(session: Session, channel: str, user: str) -> str | None:
    """The key of `user`'s most recently active conversation in `channel` (a DM), if any."""
    return session.scalars(
        select(Conversation.key)
        .join(Conversation.requester)
        .where(Conversation.key.startswith(f"slack:{channel}:"), User.external_id == user)
        .order_by(Conversation.updated_at.desc(), Conversation.id.desc())
        .limit(1)
    ).one_or_none()


def link_thread(
    session: Session, ticket: Ticket, role: str, channel: str, ts: str, tier: Tier | None = None
) -> SlackThread:
    thread = session.scalars(
        select(SlackThread).where(SlackThread.channel == channel, SlackThread.ts == ts)
    ).one_or_none()
    if thread is None:
        thread = SlackThread(ticket_id=ticket.id, role=role, channel=channel, ts=ts, tier=tier)
        session.add(thread)
        session.flush()
    return thread


def unlink_thread(session: Session, channel: str, ts: str) -> None:
    """Forget a thread we can no longer post in (the ticket then gets a DM thread instead)."""
    thread = thread_at(session, channel, ts)
    if thread is not None:
        session.delete(thread)
        session.flush()


def thread_at(session: Session, channel: str, ts: str) -> SlackThread | None:
    return session.scalars(
        select(SlackThread).where(SlackThread.channel == channel, SlackThread.ts == ts)
    ).one_or_none()


def requester_thread(session: Session, ticket: Ticket) -> tuple[str, str] | None:
    """Where the requester talks about this ticket: the thread it came from, or the DM we opened."""
    linked = session.scalars(
        select(SlackThread)
        .where(SlackThread.ticket_id == ticket.id, SlackThread.role == REQUESTER)
        .order_by(SlackThread.id)
        .limit(1)
    ).one_or_none()
    if linked is not None:
        return linked.channel, linked.ts
    if ticket.conversation_id is not None:
        conversation = session.get(Conversation, ticket.conversation_id)
        if conversation is not None:
            return parse_conversation_key(conversation.key)
    return None


def latest_card(session: Session, ticket: Ticket) -> SlackThread | None:
    """The card in the ticket's current tier (escalation posts a new one in the next tier; a ticket
    sent back to a tier it left uses that tier's card again), else the newest card it has."""
    return (
        card_for_tier(session, ticket, ticket.tier)
        or session.scalars(
            select(SlackThread)
            .where(SlackThread.ticket_id == ticket.id, SlackThread.role == CARD)
            .order_by(SlackThread.id.desc())
            .limit(1)
        ).first()
    )


def cards_of(session: Session, ticket: Ticket) -> list[SlackThread]:
    """Every card the ticket has had, one per tier it was queued in, oldest first."""
    return list(
        session.scalars(
            select(SlackThread)
            .where(SlackThread.ticket_id == ticket.id, SlackThread.role == CARD)
            .order_by(SlackThread.id)
        )
    )


def take_csat_prompts(session: Session, ticket: Ticket) -> list[tuple[str, str]]:
    """(channel, ts) of the ticket's rating prompts that still show buttons, forgotten as they are
    returned: the caller redraws them once, after its commit."""
    prompts = list(
        session.scalars(
            select(SlackThread)
            .where(SlackThread.ticket_id == ticket.id, SlackThread.role == CSAT)
            .order_by(SlackThread.id)
        )
    )
    for prompt in prompts:
        session.delete(prompt)
    session.flush()
    return [(prompt.channel, prompt.ts) for prompt in prompts]


def card_for_tier(session: Session, ticket: Ticket, tier: Tier) -> SlackThread | None:
    return session.scalars(
        select(SlackThread)
        .where(SlackThread.ticket_id == ticket.id, SlackThread.role == CARD, SlackThread.tier == tier)
        .order_by(SlackThread.id.desc())
        .limit(1)
    ).first()
