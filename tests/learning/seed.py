"""Seeding a test database from a ticket-history CSV (examples/tickets.csv or the fixture here).

The CSV gives what a real export has (text, category, priority, tier, dates, resolution); the
workflow fields an export lacks (first response, SLA due times, CSAT, conversations) are filled
from a seeded random generator, so every run builds the same database.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from models import (
    Conversation,
    ConversationState,
    Message,
    MessageRole,
    Ticket,
    TicketStatus,
    Tier,
    User,
)

FIXTURE_CSV = Path(__file__).with_name("tickets_fixture.csv")
RESPONSE_TARGET = {"critical": 0.25, "high": 1, "medium": 4, "low": 8}  # hours
RESOLUTION_TARGET = {"critical": 4, "high": 8, "medium": 24, "low": 72}


def _first(row: dict[str, str], *names: str) -> str:
    for name in names:
        value = row.get(name)
        if value and value.strip():
            return value.strip()
    return ""


def _when(text: str) -> datetime | None:
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@dataclass
class Seeded:
    tickets: list[Ticket] = field(default_factory=list)
    conversations: list[Conversation] = field(default_factory=list)
    requesters: list[User] = field(default_factory=list)
    start: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    end: datetime = datetime(2026, 1, 1, tzinfo=UTC)


def seed_from_csv(session: Session, path: Path, *, limit: int = 400, seed: int = 11) -> Seeded:
    rng = random.Random(seed)
    with path.open(newline="", encoding="utf-8") as fh:
        rows = [r for _, r in zip(range(limit), csv.DictReader(fh), strict=False)]
    out = Seeded()
    out.requesters = [User(external_id=f"U-seed-{i}", display_name=f"Requester {i}") for i in range(12)]
    session.add_all(out.requesters)
    session.flush()
    base = datetime(2026, 10, 1, 8, tzinfo=UTC)
    for i, row in enumerate(rows):
        subject = _first(row, "subject", "title", "summary")
        body = _first(row, "body", "description", "text")
        category = _first(row, "category") or "software"
        priority = _first(row, "priority").lower() or "medium"
        if priority not in RESPONSE_TARGET:
            priority = "medium"
        tier_text = _first(row, "tier").upper()
        tier = Tier(tier_text) if tier_text in {"L1", "L2", "L3"} else Tier.L1
        created = _when(_first(row, "created_at", "created", "opened_at")) or base + timedelta(
            hours=rng.randint(0, 45 * 24)
        )
        resolved = _when(_first(row, "resolved_at", "resolved"))
        resolution = _first(row, "resolution", "answer") or None
        if resolved is not None and resolved < created:
            resolved = None
        responded = None if rng.random() < 0.1 else created + timedelta(minutes=rng.randint(3, 600))
        if resolved is not None and (responded is None or responded > resolved):
            responded = resolved
        ticket = Ticket(
            number=f"SEED-{i + 1}",
            requester_id=out.requesters[i % len(out.requesters)].id,
            subject=(subject or body[:120] or "untitled")[:500],
            body=body,
            category=category,
            priority=priority,
            tier=tier,
            status=TicketStatus.RESOLVED if resolved else TicketStatus.IN_PROGRESS,
            source="form",
            resolution=resolution if resolved else None,
            created_at=created,
            updated_at=resolved or created,
            first_response_at=responded,
            resolved_at=resolved,
            sla_response_due=created + timedelta(hours=RESPONSE_TARGET[priority]),
            sla_resolution_due=created + timedelta(hours=RESOLUTION_TARGET[priority]),
            csat_score=rng.randint(1, 5) if resolved and rng.random() < 0.6 else None,
            reopen_count=1 if resolved and rng.random() < 0.08 else 0,
        )
        out.tickets.append(ticket)
    session.add_all(out.tickets)
    out.start = min(t.created_at for t in out.tickets)
    out.end = max(t.created_at for t in out.tickets)
    session.flush()
    return out


def add_conversation(
    session: Session,
    requester: User,
    *,
    key: str,
    question: str,
    at: datetime,
    answer_article: str | None,
    feedback: str | None,
    handoff: bool,
) -> Conversation:
    """A self-service conversation as the engine records it: question, answer/clarify, feedback, handoff."""
    state = ConversationState.OPEN
    conversation = Conversation(
        key=key, requester_id=requester.id, question=question, created_at=at, updated_at=at
    )
    session.add(conversation)
    session.flush()
    step = 0

    def say(role: MessageRole, kind: str, text: str, payload: dict[str, object]) -> None:
        nonlocal step
        step += 1
        session.add(
            Message(
                conversation_id=conversation.id,
                role=role,
                kind=kind,
                text=text,
                payload=payload,
                created_at=at + timedelta(seconds=step),
            )
        )

    say(MessageRole.REQUESTER, "question", question, {})
    if answer_article is not None:
        say(
            MessageRole.ASSISTANT,
            "answer",
            "answer",
            {"article_id": answer_article, "version": 1, "sources": []},
        )
        state = ConversationState.ANSWERED
    else:
        say(MessageRole.ASSISTANT, "clarify", "Could you tell me more?", {"sources": []})
        state = ConversationState.CLARIFYING
    if feedback is not None:
        say(MessageRole.REQUESTER, "feedback", feedback, {"action": feedback, "article_id": answer_article})
        if feedback == "solved":
            state = ConversationState.SOLVED
    if handoff:
        say(MessageRole.ASSISTANT, "handoff", "ticket opened", {"ticket": "IT-1", "reason": "test"})
        state = ConversationState.HANDED_OFF
    conversation.state = state
    session.flush()
    return conversation
