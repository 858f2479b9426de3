"""Service-desk metrics for the dashboards: response and resolution times, SLA attainment per
tier and priority, backlog by tier and age, reopen rate, CSAT and deflection.

Each function takes a session and a half-open window [since, until) and returns plain dataclasses.
Durations are wall-clock seconds; SLA attainment compares against the stored due times, which
already include business hours and time spent waiting on the requester.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.workflow.states import OPEN
from models import Conversation, ConversationState, Priority, Ticket, Tier


@dataclass(frozen=True)
class DurationStats:
    count: int
    mean_seconds: float | None
    median_seconds: float | None
    p90_seconds: float | None

    @classmethod
    def of(cls, seconds: list[float]) -> DurationStats:
        if not seconds:
            return cls(0, None, None, None)
        ordered = sorted(seconds)
        p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
        return cls(len(ordered), statistics.fmean(ordered), statistics.median(ordered), p90)


@dataclass(frozen=True)
class Rate:
    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None


@dataclass(frozen=True)
class SlaAttainment:
    tier: str
    priority: str
    first_response: Rate
    resolution: Rate


@dataclass(frozen=True)
class BacklogRow:
    tier: str
    age_bucket: str
    count: int


@dataclass(frozen=True)
class Csat:
    count: int
    mean: float | None
    distribution: dict[int, int] = field(default_factory=dict)

    @property
    def satisfied_rate(self) -> float | None:
        """Share of 4 and 5 ratings (the usual CSAT headline)."""
        if not self.count:
            return None
        return (self.distribution.get(4, 0) + self.distribution.get(5, 0)) / self.count


AGE_BUCKETS: tuple[tuple[str, timedelta], ...] = (
    ("<1h", timedelta(hours=1)),
    ("1-4h", timedelta(hours=4)),
    ("4-24h", timedelta(hours=24)),
    ("1-3d", timedelta(days=3)),
    ("3-7d", timedelta(days=7)),
    (">7d", timedelta.max),
)


def _seconds(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds()


def first_response_time(session: Session, since: datetime, until: datetime) -> DurationStats:
    """Creation to first public engineer response, for tickets created in the window."""
    rows = session.execute(
        select(Ticket.created_at, Ticket.first_response_at).where(
            Ticket.created_at >= since, Ticket.created_at < until, Ticket.first_response_at.is_not(None)
        )
    )
    return DurationStats.of([_seconds(c, f) for c, f in rows if f is not None])


def time_to_resolve(session: Session, since: datetime, until: datetime) -> DurationStats:
    """Creation to (latest) resolution, for tickets resolved in the window."""
    rows = session.execute(
        select(Ticket.created_at, Ticket.resolved_at).where(
            Ticket.resolved_at >= since, Ticket.resolved_at < until
        )
    )
    return DurationStats.of([_seconds(c, r) for c, r in rows if r is not None])


def _owed(due: datetime, done: datetime | None, closed: datetime | None, until: datetime) -> bool:
    """Whether a target counts: it was met or missed by `until`, and not called off by a close first."""
    if done is not None:
        return True
    return due < until and not (closed is not None and closed <= due)


def sla_attainment(session: Session, since: datetime, until: datetime) -> list[SlaAttainment]:
    """Per tier (the ticket's current tier) and priority, for tickets created in the window whose
    outcome is known at `until`: met = answered/resolved by the due time. A ticket closed before a
    due time without that answer or resolution (withdrawn by its requester, cancelled as a
    duplicate) owed nothing more and counts for neither."""
    rows = session.execute(
        select(
            Ticket.tier,
            Ticket.priority,
            Ticket.first_response_at,
            Ticket.sla_response_due,
            Ticket.resolved_at,
            Ticket.sla_resolution_due,
            Ticket.closed_at,
        ).where(Ticket.created_at >= since, Ticket.created_at < until)
    )
    counts: dict[tuple[str, str], list[int]] = {}
    for tier, priority, responded, response_due, resolved, resolution_due, closed in rows:
        c = counts.setdefault((tier.value, priority), [0, 0, 0, 0])
        if response_due is not None and _owed(response_due, responded, closed, until):
            c[1] += 1
            c[0] += int(responded is not None and responded <= response_due)
        if resolution_due is not None and _owed(resolution_due, resolved, closed, until):
            c[3] += 1
            c[2] += int(resolved is not None and resolved <= resolution_due)
    order = {p.value: i for i, p in enumerate(Priority)}
    return [
        SlaAttainment(tier, priority, Rate(c[0], c[1]), Rate(c[2], c[3]))
        for (tier, priority), c in sorted(counts.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 99)))
    ]


def backlog(session: Session, until: datetime) -> list[BacklogRow]:
    """Open tickets (anything not resolved or closed) by tier and age at `until`."""
    rows = session.execute(
        select(Ticket.tier, Ticket.created_at).where(Ticket.status.in_(OPEN), Ticket.created_at < until)
    )
    counts: Counter[tuple[str, str]] = Counter()
    for tier, created in rows:
        age = until - created
        bucket = next(name for name, limit in AGE_BUCKETS if age < limit)
        counts[(tier.value, bucket)] += 1
    names = [name for name, _ in AGE_BUCKETS]
    return [
        BacklogRow(tier.value, bucket, counts[(tier.value, bucket)])
        for tier in Tier
        for bucket in names
        if counts[(tier.value, bucket)]
    ]


def reopen_rate(session: Session, since: datetime, until: datetime) -> Rate:
    """Tickets resolved in the window that were reopened at least once / tickets resolved."""
    resolved = Ticket.resolved_at.is_not(None) & (Ticket.resolved_at >= since) & (Ticket.resolved_at < until)
    total = session.scalar(select(func.count()).select_from(Ticket).where(resolved)) or 0
    reopened = (
        session.scalar(select(func.count()).select_from(Ticket).where(resolved, Ticket.reopen_count > 0)) or 0
    )
    return Rate(reopened, total)


def csat(session: Session, since: datetime, until: datetime) -> Csat:
    """Ratings of tickets resolved in the window."""
    rows = session.execute(
        select(Ticket.csat_score, func.count())
        .where(Ticket.csat_score.is_not(None), Ticket.resolved_at >= since, Ticket.resolved_at < until)
        .group_by(Ticket.csat_score)
    )
    distribution = {int(score): int(n) for score, n in rows if score is not None}
    count = sum(distribution.values())
    mean = sum(s * n for s, n in distribution.items()) / count if count else None
    return Csat(count, mean, distribution)


def deflection(session: Session, since: datetime, until: datetime) -> Rate:
    """Conversations answered from the KB and confirmed solved / all conversations in the window."""
    window = (Conversation.created_at >= since) & (Conversation.created_at < until)
    total = session.scalar(select(func.count()).select_from(Conversation).where(window)) or 0
    solved = (
        session.scalar(
            select(func.count())
            .select_from(Conversation)
            .where(window, Conversation.state == ConversationState.SOLVED)
        )
        or 0
    )
    return Rate(solved, total)
