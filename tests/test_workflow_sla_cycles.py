"""SLA timers across re-arming: a timer fires once per due time; a reopen resumes the clocks."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from bot import workflow as wf
from bot.workflow.routing import Routing
from bot.workflow.sla import SweepReport, sweep
from models import OutboxMessage, Ticket, TicketStatus, Tier
from models.db import transaction
from tests.conftest import TestDatabase
from tests.workflow.factories import MONDAY_10AM, people, ticket

ROUTING = Routing.default()
HIGH = ROUTING.target("high")  # round the clock
WARN = ROUTING.sla.warn_fraction


def _sweep(db: TestDatabase, at: datetime) -> SweepReport:
    return sweep(db.sessions, worker_id="w", routing=ROUTING, now=at)


def _open(db: TestDatabase, priority: str, at: datetime = MONDAY_10AM) -> int:
    with transaction(db.sessions) as s:
        return ticket(s, people(s).requester, routing=ROUTING, priority=priority, now=at).id


def _set_priority(db: TestDatabase, ticket_id: int, priority: str, at: datetime) -> None:
    with transaction(db.sessions) as s:
        wf.change_priority(
            s, s.get_one(Ticket, ticket_id), actor=people(s).admin, priority=priority, routing=ROUTING, now=at
        )


def _answer_and_resolve(db: TestDatabase, ticket_id: int, resolved: datetime) -> None:
    with transaction(db.sessions) as s:
        crew, t = people(s), s.get_one(Ticket, ticket_id)
        wf.claim(s, t, actor=crew.l1, now=t.created_at)
        wf.add_message(s, t, actor=crew.l1, text="Looking now", routing=ROUTING, now=t.created_at)
        wf.resolve(s, t, actor=crew.l1, resolution="Replaced the cable", routing=ROUTING, now=resolved)


def _requester_reply(db: TestDatabase, ticket_id: int, at: datetime) -> None:
    with transaction(db.sessions) as s:
        t = s.get_one(Ticket, ticket_id)
        wf.add_message(s, t, actor=people(s).requester, text="It broke again", routing=ROUTING, now=at)


def _queue_messages(db: TestDatabase, kind: str) -> list[OutboxMessage]:
    with db.sessions() as s:
        query = select(OutboxMessage).where(
            OutboxMessage.audience == "tier_queue", OutboxMessage.kind == kind
        )
        return list(s.scalars(query))


def _event_kinds(db: TestDatabase, ticket_id: int) -> list[str]:
    with db.sessions() as s:
        return [e.kind for e in s.get_one(Ticket, ticket_id).events]


def test_a_warning_re_armed_for_the_time_it_fired_at_is_not_sent_again(db: TestDatabase) -> None:
    ticket_id = _open(db, "high")
    warned = MONDAY_10AM + HIGH.first_response * WARN
    assert _sweep(db, warned).warnings == 1
    # Lowered by mistake and put back: the warning is due again at the very time it fired for.
    _set_priority(db, ticket_id, "low", warned + timedelta(minutes=1))
    _set_priority(db, ticket_id, "high", warned + timedelta(minutes=2))
    again = _sweep(db, warned + timedelta(minutes=3))  # used to fail the batch on the outbox's unique key
    assert (again.checked, again.warnings) == (1, 0)
    assert len(_queue_messages(db, "sla_warning")) == 1
    assert _event_kinds(db, ticket_id).count("sla_warning") == 1
    # The ticket's other timers still fire.
    breach = _sweep(db, MONDAY_10AM + HIGH.first_response)
    assert (breach.breaches, breach.escalations) == (1, 1)


def test_a_breach_re_armed_for_the_same_due_time_does_not_escalate_twice(db: TestDatabase) -> None:
    ticket_id = _open(db, "high")
    missed = MONDAY_10AM + HIGH.first_response
    assert _sweep(db, missed).escalations == 1
    _set_priority(db, ticket_id, "low", missed + timedelta(minutes=1))
    _set_priority(db, ticket_id, "high", missed + timedelta(minutes=2))
    again = _sweep(db, missed + timedelta(minutes=3))
    assert (again.breaches, again.escalations) == (0, 0)
    with db.sessions() as s:
        t = s.get_one(Ticket, ticket_id)
        assert (t.tier, t.status) == (Tier.L2, TicketStatus.ESCALATED), "one miss, one escalation"
    assert _event_kinds(db, ticket_id).count("sla_breach") == 1
    assert _event_kinds(db, ticket_id).count("escalated") == 1


def test_a_reopen_resumes_the_resolution_clock_without_the_time_it_sat_resolved(db: TestDatabase) -> None:
    """As Zendesk's resolution metrics do (and the reports measure): solved pauses the clock, a
    reopen resumes it. Five minutes were left when it was resolved; five minutes are left now."""
    ticket_id = _open(db, "high")
    nearly_due = MONDAY_10AM + HIGH.resolution - timedelta(minutes=5)
    _answer_and_resolve(db, ticket_id, resolved=nearly_due)
    reopened = MONDAY_10AM + timedelta(days=2)
    _requester_reply(db, ticket_id, reopened)
    with db.sessions() as s:
        t = s.get_one(Ticket, ticket_id)
        assert t.status == TicketStatus.REOPENED
        assert t.sla_resolution_due == reopened + timedelta(minutes=5)
    # Its 75 % warning fell due while it was being worked and no sweep ran: it goes out now.
    early = _sweep(db, reopened + timedelta(minutes=4))
    assert (early.warnings, early.breaches) == (1, 0)
    assert _sweep(db, reopened + timedelta(minutes=5)).breaches == 1


def test_a_ticket_closed_unanswered_and_reopened_owes_its_first_response(db: TestDatabase) -> None:
    ticket_id = _open(db, "high")
    with transaction(db.sessions) as s:
        wf.close(s, s.get_one(Ticket, ticket_id), actor=people(s).admin, reason="duplicate", now=MONDAY_10AM)
    reopened = MONDAY_10AM + timedelta(days=3)
    with transaction(db.sessions) as s:
        crew = people(s)
        wf.reopen(
            s, s.get_one(Ticket, ticket_id), actor=crew.l1, routing=ROUTING, reason="not a dup", now=reopened
        )
    report = _sweep(db, reopened + HIGH.first_response)
    assert (report.breaches, report.escalations) == (1, 1)
