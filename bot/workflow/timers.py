"""SLA clock arithmetic on one ticket (no database access): due and warning times, pausing, and
the next instant the sweeper must look at the ticket.

Due times are always derived from `created_at + target + paused time`, so a priority change or a
pause recomputes them the same way the intake did. Paused time is measured on the priority's
calendar (business seconds when business hours apply); each ended pause is also kept as a span in
`sla_pauses`, so a priority on another calendar measures the same pauses its own way.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.workflow.calendar import Calendar
from bot.workflow.routing import Routing
from bot.workflow.states import ACTIVE
from models import Ticket, TicketStatus


def paused_seconds(ticket: Ticket, calendar: Calendar) -> float:
    """Time the clock was paused, measured on `calendar`. Recorded spans are re-measured (a
    weekend-long wait is 65 hours on a 24x7 calendar but one business hour on a 9-17 one); paused
    time from before spans were recorded (migration 0008) stands as it was counted."""
    spans = ticket.sla_pauses or []
    recorded = sum(float(span[2]) for span in spans)
    earlier = max(0.0, (ticket.sla_paused_seconds or 0.0) - recorded)
    return earlier + sum(
        calendar.between(datetime.fromisoformat(start), datetime.fromisoformat(end))
        for start, end, _ in spans
    )


def apply_targets(ticket: Ticket, routing: Routing) -> None:
    target = routing.target(ticket.priority)
    calendar = routing.calendar_for(ticket.priority)
    fraction = routing.sla.warn_fraction
    paused = paused_seconds(ticket, calendar)
    response = target.first_response.total_seconds()
    resolution = target.resolution.total_seconds()
    if ticket.first_response_at is None or ticket.sla_response_due is None:
        # Once answered, the response clock is settled: later pauses must not move its due time.
        ticket.sla_response_due = calendar.add(ticket.created_at, response + paused)
        ticket.sla_response_warn_at = calendar.add(ticket.created_at, fraction * response + paused)
    ticket.sla_resolution_due = calendar.add(ticket.created_at, resolution + paused)
    ticket.sla_resolution_warn_at = calendar.add(ticket.created_at, fraction * resolution + paused)


def rearm(ticket: Ticket, at: datetime) -> None:
    """After new targets (a priority change), a warning or breach mark whose time now lies in the
    future is cleared: a ticket lowered from critical to low is no longer "breached", and its new
    targets warn and breach in their turn."""
    marks = (
        ("sla_response_warn_at", "sla_warned_at"),
        ("sla_response_due", "sla_breached_at"),
        ("sla_resolution_warn_at", "sla_resolution_warned_at"),
        ("sla_resolution_due", "sla_resolution_breached_at"),
    )
    for when_attr, mark_attr in marks:
        when = getattr(ticket, when_attr)
        if getattr(ticket, mark_attr) is not None and when is not None and when > at:
            setattr(ticket, mark_attr, None)


def timer_key(ticket: Ticket, clock_name: str, kind: str) -> str:
    """The dedupe cause of one timer firing: the timer and the time it was set for. Two workers
    firing the same timer collide on it; the same clock re-armed for a new time gets a new key."""
    attr = {
        ("response", "warning"): "sla_response_warn_at",
        ("response", "breach"): "sla_response_due",
        ("resolution", "warning"): "sla_resolution_warn_at",
        ("resolution", "breach"): "sla_resolution_due",
    }[(clock_name, kind)]
    when = getattr(ticket, attr)
    return f"sla:{clock_name}:{kind}" + (f":{when:%Y%m%dT%H%M%S}" if when is not None else "")


def pause(ticket: Ticket, at: datetime) -> None:
    if ticket.sla_paused_at is None:
        ticket.sla_paused_at = at
    ticket.sla_next_check_at = None


def resume(ticket: Ticket, routing: Routing, at: datetime) -> None:
    """End a pause: the paused span is added to the clock and every due time moves accordingly."""
    if ticket.sla_paused_at is not None:
        calendar = routing.calendar_for(ticket.priority)
        added = calendar.between(ticket.sla_paused_at, at)
        ticket.sla_paused_seconds = (ticket.sla_paused_seconds or 0.0) + added
        # A new list, not an append: the JSON column notices assignment, not mutation.
        ticket.sla_pauses = [
            *(ticket.sla_pauses or []),
            [ticket.sla_paused_at.isoformat(), at.isoformat(), added],
        ]
        ticket.sla_paused_at = None
        apply_targets(ticket, routing)


def pending_timers(ticket: Ticket) -> list[tuple[str, datetime]]:
    """(name, when) of every timer that has not fired yet on an active ticket."""
    out: list[tuple[str, datetime]] = []
    if ticket.status not in ACTIVE or ticket.sla_paused_at is not None:
        return out
    if ticket.first_response_at is None:
        if ticket.sla_warned_at is None and ticket.sla_response_warn_at is not None:
            out.append(("response_warning", ticket.sla_response_warn_at))
        if ticket.sla_breached_at is None and ticket.sla_response_due is not None:
            out.append(("response_breach", ticket.sla_response_due))
    if ticket.sla_resolution_warned_at is None and ticket.sla_resolution_warn_at is not None:
        out.append(("resolution_warning", ticket.sla_resolution_warn_at))
    if ticket.sla_resolution_breached_at is None and ticket.sla_resolution_due is not None:
        out.append(("resolution_breach", ticket.sla_resolution_due))
    return out


def auto_close_at(ticket: Ticket, routing: Routing) -> datetime | None:
    if ticket.status != TicketStatus.RESOLVED or ticket.resolved_at is None:
        return None
    return ticket.resolved_at + timedelta(days=routing.closure.auto_close_after_days)


def schedule(ticket: Ticket, routing: Routing) -> None:
    """Set `sla_next_check_at` to the earliest pending timer (None when nothing can fire)."""
    times = [when for _, when in pending_timers(ticket)]
    closing = auto_close_at(ticket, routing)
    if closing is not None:
        times.append(closing)
    ticket.sla_next_check_at = min(times) if times else None
