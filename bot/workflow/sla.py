"""The SLA sweeper: fires warnings and breaches, escalates on a missed first response, and closes
resolved tickets nobody answered. Run by `tierline worker`; several may run at once.

Only tickets whose indexed `sla_next_check_at` has passed are read, so a sweep costs what is due,
not what is open. No double-firing: on PostgreSQL each batch is taken with SELECT ... FOR UPDATE
SKIP LOCKED; on SQLite the batch's first statement is a conditional UPDATE that takes the database's
single write lock, so a second worker waits and then sees the timers already moved on. Every
notification also carries a unique dedupe key per ticket and timer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import uuid4

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from bot.workflow import timers
from bot.workflow.audit import clock, prime_clock, queue_key, record, tell_engineer, tell_queue
from bot.workflow.operations import close, move_tier
from bot.workflow.routing import Routing
from models import OutboxMessage, Ticket, TicketEvent, TicketStatus, utcnow
from models.db import transaction

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
# A ticket whose timers failed with an unexpected error is looked at again after this long.
FAILED_RETRY = timedelta(minutes=5)
# Who gets told: loaded with the batch rather than one query per ticket.
_PEOPLE = (selectinload(Ticket.requester), selectinload(Ticket.assignee))


@dataclass
class SweepReport:
    checked: int = 0
    warnings: int = 0
    breaches: int = 0
    escalations: int = 0
    closed: int = 0
    failed: int = 0  # tickets whose timers raised an unexpected error (logged, retried later)
    tickets: list[str] = field(default_factory=list)

    def add(self, other: SweepReport) -> None:
        self.checked += other.checked
        self.warnings += other.warnings
        self.breaches += other.breaches
        self.escalations += other.escalations
        self.closed += other.closed
        self.failed += other.failed
        self.tickets.extend(other.tickets)


_CLOCKS = {
    "response": ("first response", "sla_warned_at", "sla_breached_at"),
    "resolution": ("resolution", "sla_resolution_warned_at", "sla_resolution_breached_at"),
}


def _fired_before(session: Session, ticket: Ticket, kind: str, key: str) -> bool:
    """Whether this exact timer (clock, kind and due time) already fired on this ticket.

    A priority changed and changed back re-arms a timer for the time it already fired at: firing
    again would tell the queue twice, escalate twice for one miss, and (the outbox key being
    unique) fail the whole sweep batch. Events name the timer they fired (indexed by ticket);
    older events did not, so the queue's exact outbox key is looked up too."""
    fired = session.scalars(
        select(TicketEvent.data).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == kind)
    )
    if any((data or {}).get("timer") == key for data in fired):
        return True
    told = select(OutboxMessage.id).where(OutboxMessage.dedupe_key == queue_key(session, ticket, key))
    return session.scalar(told) is not None


def _fire(session: Session, ticket: Ticket, routing: Routing, at: datetime, report: SweepReport) -> None:
    """Fire every timer of this ticket that is due at `at` (a breach implies its warning)."""
    due = {name for name, when in timers.pending_timers(ticket) if when <= at}
    for clock_name, (label, warned_attr, breached_attr) in _CLOCKS.items():
        breach_key = timers.timer_key(ticket, clock_name, "breach")
        warning_key = timers.timer_key(ticket, clock_name, "warning")
        if f"{clock_name}_breach" in due:
            setattr(ticket, breached_attr, at)
            if getattr(ticket, warned_attr) is None:
                setattr(ticket, warned_attr, at)
            if _fired_before(session, ticket, "sla_breach", breach_key):
                continue
            report.breaches += 1
            record(ticket, "sla_breach", actor=None, at=at, data={"clock": clock_name, "timer": breach_key})
            text = f"SLA breached: {ticket.number} missed its {label} target"
            tell_queue(
                session,
                ticket,
                "sla_breach",
                cause=breach_key,
                at=at,
                text=text,
                clock=clock_name,
            )
            if ticket.assignee is not None:
                tell_engineer(
                    session,
                    ticket,
                    ticket.assignee,
                    "sla_breach",
                    cause=breach_key,
                    at=at,
                    text=text,
                    clock=clock_name,
                )
            if clock_name == "response" and routing.sla.auto_escalate_on_first_response_breach:
                target = ticket.tier.next_up()
                if target is not None:
                    move_tier(
                        session,
                        ticket,
                        actor=None,
                        to_tier=target,
                        routing=routing,
                        at=at,
                        reason=f"first response target missed ({ticket.priority})",
                        kind="escalated",
                        status=TicketStatus.ESCALATED,
                        data={"auto": True},
                    )
                    report.escalations += 1
        elif f"{clock_name}_warning" in due:
            setattr(ticket, warned_attr, at)
            if _fired_before(session, ticket, "sla_warning", warning_key):
                continue
            report.warnings += 1
            record(ticket, "sla_warning", actor=None, at=at, data={"clock": clock_name, "timer": warning_key})
            when = ticket.sla_response_due if clock_name == "response" else ticket.sla_resolution_due
            text = f"SLA warning: {ticket.number} {label} due {when:%Y-%m-%d %H:%M} UTC" if when else ""
            tell_queue(
                session,
                ticket,
                "sla_warning",
                cause=warning_key,
                at=at,
                text=text,
                clock=clock_name,
            )
            if ticket.assignee is not None:
                tell_engineer(
                    session,
                    ticket,
                    ticket.assignee,
                    "sla_warning",
                    cause=warning_key,
                    at=at,
                    text=text,
                    clock=clock_name,
                )


def process_ticket(
    session: Session, ticket: Ticket, routing: Routing, now: datetime, report: SweepReport
) -> None:
    at = clock(ticket, now)
    report.checked += 1
    closing = timers.auto_close_at(ticket, routing)
    if closing is not None and closing <= now:
        days = routing.closure.auto_close_after_days
        close(session, ticket, actor=None, reason=f"No reply within {days:g} days of the resolution.", now=at)
        report.closed += 1
        report.tickets.append(ticket.number or "")
        return
    before = report.warnings + report.breaches
    _fire(session, ticket, routing, at, report)
    if report.warnings + report.breaches > before:
        report.tickets.append(ticket.number or "")
    timers.schedule(ticket, routing)
    if ticket.sla_next_check_at is not None and ticket.sla_next_check_at <= now:
        # Never leave a ticket due forever (e.g. a stale time after a routing change): look again later.
        ticket.sla_next_check_at = now + timedelta(minutes=1)


def _due(now: datetime) -> ColumnElement[bool]:
    return and_(
        Ticket.sla_next_check_at.is_not(None),
        Ticket.sla_next_check_at <= now,
        or_(Ticket.lease_until.is_(None), Ticket.lease_until < now),
    )


def _sweep_batch(
    sessions: sessionmaker[Session],
    *,
    worker_id: str,
    routing: Routing,
    now: datetime,
    limit: int,
    only: int | None = None,
) -> SweepReport:
    """Up to `limit` due tickets (or just ticket id `only`, if due) in one committed transaction."""
    report = SweepReport()
    with transaction(sessions) as session:
        due = _due(now) if only is None else and_(_due(now), Ticket.id == only)
        if session.get_bind().dialect.name == "postgresql":
            query = (
                select(Ticket)
                .where(due)
                .order_by(Ticket.sla_next_check_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
                .options(*_PEOPLE)
            )
            tickets = list(session.scalars(query))
        else:
            token = f"{worker_id}:{uuid4().hex[:12]}"
            ids = (
                select(Ticket.id).where(due).order_by(Ticket.sla_next_check_at).limit(limit).scalar_subquery()
            )
            leased = session.execute(
                update(Ticket)
                .where(Ticket.id.in_(ids), due)
                .values(lease_owner=token, lease_until=now + LEASE)
                .execution_options(synchronize_session=False)
            )
            if leased.rowcount == 0:  # type: ignore[attr-defined]
                return report
            # `sla_next_check_at <= now` lets the lookup use that column's index (leases have none).
            mine = (Ticket.lease_owner == token) & (Ticket.sla_next_check_at <= now)
            tickets = list(session.scalars(select(Ticket).where(mine).options(*_PEOPLE)))
        prime_clock(session, tickets)
        # One flush at commit instead of one per lazy load: per-ticket flushes of a growing session
        # made a sweep of thousands of due tickets quadratic.
        with session.no_autoflush:
            for ticket in tickets:
                process_ticket(session, ticket, routing, now, report)
                ticket.lease_owner = None
                ticket.lease_until = None
    return report


def sweep(
    sessions: sessionmaker[Session],
    *,
    worker_id: str,
    routing: Routing,
    now: datetime | None = None,
    batch_size: int = 200,
) -> SweepReport:
    """Process every ticket due at `now`, one committed batch at a time.

    A batch that fails with an unexpected error is rolled back and its tickets are taken again one
    at a time: one bad ticket (a row a manual edit or another version left unreadable, a bug) must
    not stop every other ticket's timers, nor the delivery that follows the sweep. That ticket is
    logged with its traceback, counted in `failed` and looked at again after `FAILED_RETRY`. A lost
    database is not a ticket's fault: it propagates, and the worker retries the whole pass.
    """
    at = now or utcnow()
    total = SweepReport()
    while True:
        try:
            report = _sweep_batch(sessions, worker_id=worker_id, routing=routing, now=at, limit=batch_size)
        except (OperationalError, InterfaceError):
            raise
        except Exception:
            log.exception("worker %s: an SLA batch failed; taking its tickets one at a time", worker_id)
            report = _sweep_one_by_one(
                sessions, worker_id=worker_id, routing=routing, now=at, limit=batch_size
            )
        total.add(report)
        if report.checked + report.failed < batch_size:
            return total


def _sweep_one_by_one(
    sessions: sessionmaker[Session], *, worker_id: str, routing: Routing, now: datetime, limit: int
) -> SweepReport:
    """Up to `limit` due tickets, each in its own transaction; a failing one is postponed."""
    report = SweepReport()
    for _ in range(limit):
        with sessions() as session:
            first = select(Ticket.id).where(_due(now)).order_by(Ticket.sla_next_check_at).limit(1)
            ticket_id = session.scalar(first)
        if ticket_id is None:
            break
        try:
            one = _sweep_batch(
                sessions, worker_id=worker_id, routing=routing, now=now, limit=1, only=ticket_id
            )
        except (OperationalError, InterfaceError):
            raise
        except Exception:
            log.exception(
                "worker %s: the SLA timers of ticket id %s failed; looking again in %s",
                worker_id,
                ticket_id,
                FAILED_RETRY,
            )
            with transaction(sessions) as session:
                session.execute(
                    update(Ticket)
                    .where(Ticket.id == ticket_id)
                    .values(sla_next_check_at=now + FAILED_RETRY, lease_owner=None, lease_until=None)
                    .execution_options(synchronize_session=False)
                )
            report.failed += 1
            continue
        report.add(one)
    return report
