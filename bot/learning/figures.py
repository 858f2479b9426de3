"""The service-desk figures behind `tierline report` and the admin App Home.

The headline numbers come from `bot.workflow.metrics` (one definition of each metric for the
whole product); this module adds what charts need on top: volume per day/week by category and
tier, the raw duration lists behind the histograms, SLA attainment rolled up per tier and per
priority, and deflection per day/week. Definitions (all over the half-open period [since, until)):

* volume, first response time, SLA attainment: tickets *created* in the period (current tier);
* time to resolve, CSAT, reopen rate: tickets *resolved* in the period;
* SLA attainment: a clock counts once decided — met (responded/resolved by the due time) or
  breached (late, or still open with the due time passed before `until`);
* deflection: conversations started in the period that the requester marked Solved from a KB
  answer ÷ all conversations started in the period.
Durations are wall-clock hours.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.workflow import metrics
from models import Conversation, ConversationState, Priority, Ticket, Tier

HOUR = 3600.0
# Periods up to this long are bucketed by day, longer ones by ISO week.
DAILY_UP_TO = timedelta(days=62)


@dataclass
class Attainment:
    met: int = 0
    decided: int = 0

    @property
    def breached(self) -> int:
        return self.decided - self.met

    @property
    def rate(self) -> float | None:
        return self.met / self.decided if self.decided else None

    def add(self, rate: metrics.Rate) -> None:
        self.met += rate.numerator
        self.decided += rate.denominator

    def to_json(self) -> dict[str, Any]:
        rate = self.rate
        return {"met": self.met, "decided": self.decided, "rate": None if rate is None else round(rate, 4)}


@dataclass
class Distribution:
    """Durations in hours (for the histogram) and the workflow's summary of the same tickets."""

    hours: list[float] = field(default_factory=list)
    stats: metrics.DurationStats = field(default_factory=lambda: metrics.DurationStats.of([]))

    @property
    def count(self) -> int:
        return self.stats.count

    @property
    def median(self) -> float | None:
        m = self.stats.median_seconds
        return None if m is None else m / HOUR

    @property
    def p90(self) -> float | None:
        p = self.stats.p90_seconds
        return None if p is None else p / HOUR

    def to_json(self) -> dict[str, Any]:
        def r(v: float | None) -> float | None:
            return None if v is None else round(v, 4)

        return {"count": self.count, "median_hours": r(self.median), "p90_hours": r(self.p90)}


@dataclass
class Figures:
    since: datetime
    until: datetime
    bucket: str  # "day" | "week"
    tickets: int = 0
    by_category: Counter[str] = field(default_factory=Counter)
    by_tier: Counter[str] = field(default_factory=Counter)
    by_priority: Counter[str] = field(default_factory=Counter)
    # bucket label -> category/tier -> count
    volume_by_category: dict[str, Counter[str]] = field(default_factory=dict)
    volume_by_tier: dict[str, Counter[str]] = field(default_factory=dict)
    first_response: Distribution = field(default_factory=Distribution)
    resolution: Distribution = field(default_factory=Distribution)
    reopen: metrics.Rate = field(default_factory=lambda: metrics.Rate(0, 0))
    sla_response: Attainment = field(default_factory=Attainment)
    sla_resolution: Attainment = field(default_factory=Attainment)
    sla_response_by_tier: dict[str, Attainment] = field(default_factory=dict)
    sla_resolution_by_tier: dict[str, Attainment] = field(default_factory=dict)
    sla_response_by_priority: dict[str, Attainment] = field(default_factory=dict)
    sla_resolution_by_priority: dict[str, Attainment] = field(default_factory=dict)
    csat: metrics.Csat = field(default_factory=lambda: metrics.Csat(0, None, {}))
    deflection: metrics.Rate = field(default_factory=lambda: metrics.Rate(0, 0))
    deflection_by_bucket: dict[str, tuple[int, int]] = field(default_factory=dict)
    backlog: list[metrics.BacklogRow] = field(default_factory=list)

    @property
    def csat_scores(self) -> Counter[int]:
        return Counter(self.csat.distribution)

    @property
    def csat_mean(self) -> float | None:
        return self.csat.mean

    @property
    def csat_count(self) -> int:
        return self.csat.count

    @property
    def deflection_rate(self) -> float | None:
        return self.deflection.value

    @property
    def reopen_rate(self) -> float | None:
        return self.reopen.value

    def to_json(self) -> dict[str, Any]:
        def rnd(v: float | None) -> float | None:
            return None if v is None else round(v, 4)

        def table(t: dict[str, Attainment]) -> dict[str, Any]:
            return {k: v.to_json() for k, v in t.items()}

        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "bucket": self.bucket,
            "tickets": self.tickets,
            "by_category": dict(sorted(self.by_category.items())),
            "by_tier": dict(sorted(self.by_tier.items())),
            "by_priority": dict(sorted(self.by_priority.items())),
            "volume_by_category": {k: dict(v) for k, v in self.volume_by_category.items()},
            "volume_by_tier": {k: dict(v) for k, v in self.volume_by_tier.items()},
            "first_response": self.first_response.to_json(),
            "resolution": self.resolution.to_json(),
            "reopen": {
                "reopened": self.reopen.numerator,
                "resolved": self.reopen.denominator,
                "rate": rnd(self.reopen.value),
            },
            "sla": {
                "response": self.sla_response.to_json(),
                "resolution": self.sla_resolution.to_json(),
                "response_by_tier": table(self.sla_response_by_tier),
                "resolution_by_tier": table(self.sla_resolution_by_tier),
                "response_by_priority": table(self.sla_response_by_priority),
                "resolution_by_priority": table(self.sla_resolution_by_priority),
            },
            "csat": {
                "count": self.csat.count,
                "mean": rnd(self.csat.mean),
                "satisfied": rnd(self.csat.satisfied_rate),
                "scores": {str(s): self.csat.distribution.get(s, 0) for s in range(1, 6)},
            },
            "deflection": {
                "conversations": self.deflection.denominator,
                "deflected": self.deflection.numerator,
                "rate": rnd(self.deflection.value),
            },
            "backlog": [{"tier": b.tier, "age": b.age_bucket, "count": b.count} for b in self.backlog],
        }


def bucket_of(moment: datetime, bucket: str) -> str:
    if bucket == "day":
        return moment.date().isoformat()
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def buckets_between(since: datetime, until: datetime, bucket: str) -> list[str]:
    """Every bucket label of the period in order, including empty ones (charts need the gaps)."""
    labels: list[str] = []
    moment = since
    while moment < until:
        label = bucket_of(moment, bucket)
        if not labels or labels[-1] != label:
            labels.append(label)
        moment += timedelta(days=1)
    last = bucket_of(until - timedelta(microseconds=1), bucket)
    if until > since and labels[-1] != last:
        labels.append(last)
    return labels


def compute_figures(session: Session, *, since: datetime, until: datetime) -> Figures:
    """All report figures for the period [since, until)."""
    bucket = "day" if until - since <= DAILY_UP_TO else "week"
    fig = Figures(since=since, until=until, bucket=bucket)
    labels = buckets_between(since, until, bucket)
    fig.volume_by_category = {label: Counter() for label in labels}
    fig.volume_by_tier = {label: Counter() for label in labels}
    created = session.execute(
        select(
            Ticket.created_at, Ticket.category, Ticket.tier, Ticket.priority, Ticket.first_response_at
        ).where(Ticket.created_at >= since, Ticket.created_at < until)
    ).all()
    for created_at, category, tier, priority, responded in created:
        fig.tickets += 1
        fig.by_category[category] += 1
        fig.by_tier[tier.value] += 1
        fig.by_priority[priority] += 1
        label = bucket_of(created_at, bucket)
        fig.volume_by_category.setdefault(label, Counter())[category] += 1
        fig.volume_by_tier.setdefault(label, Counter())[tier.value] += 1
        if responded is not None:
            fig.first_response.hours.append((responded - created_at).total_seconds() / HOUR)
    fig.first_response.stats = metrics.first_response_time(session, since, until)
    resolved = session.execute(
        select(Ticket.created_at, Ticket.resolved_at).where(
            Ticket.resolved_at >= since, Ticket.resolved_at < until
        )
    ).all()
    fig.resolution.hours = [(r - c).total_seconds() / HOUR for c, r in resolved if r is not None]
    fig.resolution.stats = metrics.time_to_resolve(session, since, until)
    fig.sla_response_by_tier = {t.value: Attainment() for t in Tier}
    fig.sla_resolution_by_tier = {t.value: Attainment() for t in Tier}
    fig.sla_response_by_priority = {p.value: Attainment() for p in Priority}
    fig.sla_resolution_by_priority = {p.value: Attainment() for p in Priority}
    for row in metrics.sla_attainment(session, since, until):
        for att in (
            fig.sla_response,
            fig.sla_response_by_tier.setdefault(row.tier, Attainment()),
            fig.sla_response_by_priority.setdefault(row.priority, Attainment()),
        ):
            att.add(row.first_response)
        for att in (
            fig.sla_resolution,
            fig.sla_resolution_by_tier.setdefault(row.tier, Attainment()),
            fig.sla_resolution_by_priority.setdefault(row.priority, Attainment()),
        ):
            att.add(row.resolution)
    fig.csat = metrics.csat(session, since, until)
    fig.reopen = metrics.reopen_rate(session, since, until)
    fig.deflection = metrics.deflection(session, since, until)
    fig.backlog = metrics.backlog(session, until)
    fig.deflection_by_bucket = dict.fromkeys(labels, (0, 0))
    for created_at, state in session.execute(
        select(Conversation.created_at, Conversation.state).where(
            Conversation.created_at >= since, Conversation.created_at < until
        )
    ):
        label = bucket_of(created_at, bucket)
        total, solved = fig.deflection_by_bucket.get(label, (0, 0))
        fig.deflection_by_bucket[label] = (total + 1, solved + int(state is ConversationState.SOLVED))
    return fig
