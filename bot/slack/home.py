"""The App Home tab, one view per role: requester — my tickets; engineer — my queue and SLA at
risk; admin — key metrics and the active model version."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.slack import blocks
from bot.slack.text import escape
from bot.workflow import metrics, queries
from bot.workflow.states import OPEN
from models import ClassifierModel, Role, Ticket, User, utcnow

AT_RISK_WITHIN = timedelta(hours=1)


def _line(ticket: Ticket) -> str:
    due = ticket.sla_response_due if ticket.first_response_at is None else ticket.sla_resolution_due
    when = f" · due {due.strftime('%d %b %H:%M UTC')}" if due else ""
    subject = escape(blocks.clip(ticket.subject, 80))  # their words: no links or pings of their own
    return (
        f"*{ticket.number}* {subject} — {ticket.status.value.replace('_', ' ')}"
        f" · {ticket.priority} · {ticket.tier.value}{when}"
    )


def default_stats(session: Session, *, days: int = 30) -> list[str]:
    """The figures an IT lead looks at first, over the last `days` days (bot.workflow.metrics)."""
    until = utcnow()
    since = until - timedelta(days=days)
    deflected = metrics.deflection(session, since, until)
    response = metrics.first_response_time(session, since, until)
    resolve = metrics.time_to_resolve(session, since, until)
    sla = metrics.sla_attainment(session, since, until)
    met = sum(row.first_response.numerator for row in sla)
    due = sum(row.first_response.denominator for row in sla)
    backlog: dict[str, int] = {}
    for row in metrics.backlog(session, until):
        backlog[row.tier] = backlog.get(row.tier, 0) + row.count
    rating = metrics.csat(session, since, until)
    reopened = metrics.reopen_rate(session, since, until)
    return [
        f"*Last {days} days*",
        f"• Deflection: {_pct(deflected.value)} "
        f"({deflected.numerator} of {deflected.denominator} conversations solved by the assistant)",
        f"• First response: median {_hours(response.median_seconds)} · resolution: median "
        f"{_hours(resolve.median_seconds)}",
        f"• First-response SLA met: {_pct(met / due if due else None)} of {due}",
        "• Open tickets: " + (", ".join(f"{tier} {n}" for tier, n in sorted(backlog.items())) or "none"),
        f"• CSAT: {rating.mean:.2f}/5 from {rating.count}"
        if rating.mean is not None
        else "• CSAT: no ratings yet",
        f"• Reopened: {_pct(reopened.value)}",
    ]


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _hours(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds / 3600:.1f} h"


def home_for(
    session: Session, user: User, *, stats: Callable[[Session], list[str]] | None = None
) -> dict[str, Any]:
    mine = [_line(t) for t in queries.tickets_for_requester(session, user, include_closed=False)]
    sections: list[tuple[str, list[str]]] = []
    if user.role in (Role.ENGINEER, Role.ADMIN):
        assigned = queries.list_tickets(session, assignee=user, statuses=frozenset(OPEN))
        waiting = [t for tier in sorted(user.tiers) for t in queries.queue(session, tier)]
        soon = utcnow() + AT_RISK_WITHIN
        at_risk = [
            t
            for t in [*assigned, *waiting]
            if (t.sla_response_due and t.first_response_at is None and t.sla_response_due <= soon)
            or (t.sla_resolution_due and t.sla_resolution_due <= soon)
        ]
        sections += [
            ("SLA at risk", [_line(t) for t in at_risk[:15]]),
            ("Assigned to me", [_line(t) for t in assigned[:15]]),
            ("My queue", [_line(t) for t in waiting[:15]]),
        ]
    if user.role is Role.ADMIN:
        active = session.scalars(
            select(ClassifierModel).where(ClassifierModel.active.is_(True)).limit(1)
        ).one_or_none()
        model = f"Active triage model: `{active.version}`" if active else "No triage model is active yet."
        sections.append(("Metrics", [*(stats or default_stats)(session), model]))
    sections.append(("My tickets", mine[:15]))
    return blocks.home_view(sections)
