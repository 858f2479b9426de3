"""Small builders shared by the workflow tests: people with roles and tiers, triage results, tickets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from bot.workflow import ensure_user, grant_tier, open_ticket
from bot.workflow.routing import Routing
from classifier.types import Facts, HeadPrediction, TriagePrediction
from models import Role, Ticket, Tier, User

# A Monday morning inside the example business hours (09:00-17:00 UTC).
MONDAY_10AM = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@dataclass
class People:
    requester: User
    other_requester: User
    l1: User
    l1b: User
    l2: User
    l3: User
    admin: User


def people(session: Session) -> People:
    def engineer(name: str, tier: Tier) -> User:
        return grant_tier(session, ensure_user(session, f"cli:{name}", name.title(), Role.ENGINEER), tier)

    crew = People(
        requester=ensure_user(session, "cli:rita", "Rita"),
        other_requester=ensure_user(session, "cli:omar", "Omar"),
        l1=engineer("lena", Tier.L1),
        l1b=engineer("liam", Tier.L1),
        l2=engineer("mia", Tier.L2),
        l3=engineer("noah", Tier.L3),
        admin=ensure_user(session, "cli:ada", "Ada", Role.ADMIN),
    )
    session.flush()
    return crew


def triage(
    category: str = "printing", priority: str = "medium", *, abstained: bool = False
) -> TriagePrediction:
    return TriagePrediction(
        category=HeadPrediction(category, 0.3 if abstained else 0.91, abstained, (("hardware", 0.05),)),
        priority=HeadPrediction(priority, 0.8, False),
        model_version="test-model-1",
        priority_reason=f"model: {priority}",
    )


def ticket(
    session: Session,
    requester: User,
    *,
    routing: Routing,
    category: str = "printing",
    priority: str = "medium",
    abstained: bool = False,
    now: datetime = MONDAY_10AM,
) -> Ticket:
    return open_ticket(
        session,
        requester=requester,
        subject=f"{category} problem",
        body="It stopped working this morning.",
        triage=triage(category, priority, abstained=abstained),
        facts=Facts(device="laptop", urgency="blocking"),
        routing=routing,
        now=now,
    )
