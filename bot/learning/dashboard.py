"""The admin App Home's figures: the report's headline plus what needs attention right now.

Plain data (label/value pairs and small lists); the Slack adapter turns it into Block Kit.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.learning.drafts import count_pending
from bot.learning.figures import compute_figures
from bot.learning.health import KBGap, kb_gaps
from bot.learning.report import headline
from kb_index.encoders import Encoder
from models import AlertStatus, IncidentStatus, MajorIncident, SpikeAlert, Ticket, TicketStatus, utcnow

OPEN_STATUSES = tuple(s for s in TicketStatus if s not in (TicketStatus.RESOLVED, TicketStatus.CLOSED))


@dataclass(frozen=True)
class Dashboard:
    period_days: int
    headline: list[tuple[str, str]]
    open_by_tier: dict[str, int]
    open_breached: int
    open_alerts: list[dict[str, Any]]
    active_incidents: list[dict[str, Any]]
    pending_drafts: int
    gaps: list[KBGap] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "period_days": self.period_days,
            "headline": [{"label": label, "value": value} for label, value in self.headline],
            "open_by_tier": self.open_by_tier,
            "open_breached": self.open_breached,
            "open_alerts": self.open_alerts,
            "active_incidents": self.active_incidents,
            "pending_drafts": self.pending_drafts,
            "gaps": [g.to_json() for g in self.gaps],
        }


def dashboard(
    session: Session,
    *,
    now: datetime,
    days: int = 30,
    encoder: Encoder | str | None = None,
    gap_limit: int = 3,
) -> Dashboard:
    """Figures for the admin home. Pass an encoder to include the top KB gaps (embeds questions)."""
    since = now - timedelta(days=days)
    figures = compute_figures(session, since=since, until=now)
    open_by_tier: Counter[str] = Counter()
    for tier, count in session.execute(
        select(Ticket.tier, func.count(Ticket.id))
        .where(Ticket.status.in_(OPEN_STATUSES))
        .group_by(Ticket.tier)
    ):
        open_by_tier[tier.value] += int(count)
    breached = session.scalar(
        select(func.count(Ticket.id)).where(
            Ticket.status.in_(OPEN_STATUSES),
            (Ticket.sla_breached_at.is_not(None)) | (Ticket.sla_resolution_due < now),
        )
    )
    alerts = [
        {"id": a.id, "summary": a.summary, "tickets": a.ticket_count, "category": a.category}
        for a in session.scalars(
            select(SpikeAlert)
            .where(SpikeAlert.status == AlertStatus.OPEN)
            .order_by(SpikeAlert.id.desc())
            .limit(5)
        )
    ]
    incidents = [
        {"id": i.id, "label": f"MI-{i.id}", "title": i.title, "tickets": len(i.links)}
        for i in session.scalars(
            select(MajorIncident)
            .where(MajorIncident.status == IncidentStatus.ACTIVE)
            .order_by(MajorIncident.id)
        )
    ]
    gaps = kb_gaps(session, since=since, until=now, encoder=encoder, limit=gap_limit) if encoder else []
    return Dashboard(
        period_days=days,
        headline=headline(figures),
        open_by_tier={t: open_by_tier[t] for t in ("L1", "L2", "L3")},
        open_breached=int(breached or 0),
        open_alerts=alerts,
        active_incidents=incidents,
        pending_drafts=count_pending(session),
        gaps=gaps,
    )


def dashboard_lines(
    session: Session,
    *,
    now: datetime | None = None,
    days: int = 30,
    encoder: Encoder | str | None = None,
) -> list[str]:
    """The dashboard as short mrkdwn lines, the shape `bot.slack.home.home_for(stats=...)` takes."""
    board = dashboard(session, now=now or utcnow(), days=days, encoder=encoder)
    tiles = " · ".join(f"{label}: *{value}*" for label, value in board.headline)
    tiers = " · ".join(f"{tier} {n}" for tier, n in board.open_by_tier.items())
    lines = [
        f"• Last {board.period_days} days — {tiles}",
        f"• Open now: {tiers} · SLA breached or overdue: *{board.open_breached}*",
        f"• KB drafts waiting for review: *{board.pending_drafts}*",
    ]
    for alert in board.open_alerts:
        lines.append(
            f"• :rotating_light: Spike alert {alert['id']}: {alert['tickets']} similar tickets"
            f" — {alert['summary']}"
        )
    for incident in board.active_incidents:
        lines.append(
            f"• Major incident {incident['label']}: {incident['title']} ({incident['tickets']} tickets)"
        )
    for gap in board.gaps:
        lines.append(f"• KB gap ({gap.count} questions): {gap.representative}")
    return lines
