"""SLA timers as the tiers experience them: warnings, breaches, auto-escalation, pauses, auto-close."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select

from bot import workflow as wf
from bot.workflow.routing import Routing
from bot.workflow.sla import sweep
from bot.workflow.worker import run_once
from models import OutboxMessage, Ticket, TicketStatus, Tier
from models.db import transaction
from tests.conftest import TestDatabase
from tests.workflow.factories import MONDAY_10AM, people, ticket

ROUTING = Routing.default()


@dataclass
class Recorder:
    """A notifier that remembers what it was asked to deliver."""

    seen: list[OutboxMessage] = field(default_factory=list)

    def deliver(self, message: OutboxMessage) -> None:
        self.seen.append(message)


def _open(db: TestDatabase, priority: str = "high") -> int:
    with transaction(db.sessions) as s:
        crew = people(s)
        return ticket(s, crew.requester, routing=ROUTING, priority=priority).id


def test_warning_then_breach_escalates_once(db: TestDatabase) -> None:
    ticket_id = _open(db, "high")  # 1h first response, round the clock
    target = ROUTING.target("high").first_response
    assert sweep(db.sessions, worker_id="w", routing=ROUTING, now=MONDAY_10AM + target * 0.7).warnings == 0
    report = sweep(db.sessions, worker_id="w", routing=ROUTING, now=MONDAY_10AM + target * 0.75)
    assert (report.warnings, report.breaches) == (1, 0)
    again = sweep(db.sessions, worker_id="w", routing=ROUTING, now=MONDAY_10AM + target * 0.8)
    assert again.checked == 0, "a fired warning is not fired again"
    breach = sweep(
        db.sessions, worker_id="w", routing=ROUTING, now=MONDAY_10AM + target + timedelta(seconds=1)
    )
    assert (breach.breaches, breach.escalations) == (1, 1)
    with db.sessions() as s:
        t = s.get_one(Ticket, ticket_id)
        assert (t.tier, t.status, t.assignee_id) == (Tier.L2, TicketStatus.ESCALATED, None)
        kinds = [e.kind for e in t.events]
        assert kinds.count("sla_warning") == 1 and kinds.count("sla_breach") == 1 and kinds[-1] == "escalated"
        queues = {
            (m.recipient, m.kind)
            for m in s.scalars(select(OutboxMessage).where(OutboxMessage.audience == "tier_queue"))
        }
        assert {("L1", "sla_warning"), ("L1", "sla_breach"), ("L2", "ticket_escalated")} <= queues


def test_first_response_stops_the_response_clock(db: TestDatabase) -> None:
    ticket_id = _open(db, "high")
    with transaction(db.sessions) as s:
        t = s.get_one(Ticket, ticket_id)
        crew = people(s)
        wf.claim(s, t, actor=crew.l1, now=MONDAY_10AM)
        wf.add_message(
            s, t, actor=crew.l1, text="On it", routing=ROUTING, now=MONDAY_10AM + timedelta(minutes=5)
        )
    report = sweep(db.sessions, worker_id="w", routing=ROUTING, now=MONDAY_10AM + timedelta(hours=2))
    assert (report.breaches, report.escalations) == (0, 0)


def test_paused_tickets_do_not_fire(db: TestDatabase) -> None:
    ticket_id = _open(db, "critical")
    with transaction(db.sessions) as s:
        t = s.get_one(Ticket, ticket_id)
        crew = people(s)
        wf.claim(s, t, actor=crew.l1, now=MONDAY_10AM)
        wf.set_waiting_on_user(
            s, t, actor=crew.l1, routing=ROUTING, question="Serial number?", now=MONDAY_10AM
        )
    assert (
        sweep(db.sessions, worker_id="w", routing=ROUTING, now=MONDAY_10AM + timedelta(days=3)).checked == 0
    )


def test_resolved_tickets_auto_close_after_n_days(db: TestDatabase) -> None:
    ticket_id = _open(db, "low")
    with transaction(db.sessions) as s:
        t = s.get_one(Ticket, ticket_id)
        crew = people(s)
        wf.claim(s, t, actor=crew.l1, now=MONDAY_10AM)
        wf.resolve(s, t, actor=crew.l1, resolution="Reset", routing=ROUTING, now=MONDAY_10AM)
    days = timedelta(days=ROUTING.closure.auto_close_after_days)
    assert sweep(db.sessions, worker_id="w", routing=ROUTING, now=MONDAY_10AM + days * 0.9).closed == 0
    recorder = Recorder()
    result = run_once(db.sessions, routing=ROUTING, notifier=recorder, worker_id="w", now=MONDAY_10AM + days)
    assert result.sweep.closed == 1
    assert "ticket_closed" in [m.kind for m in recorder.seen if m.audience == "requester"]
    with db.sessions() as s:
        t = s.get_one(Ticket, ticket_id)
        assert t.status == TicketStatus.CLOSED and t.events[-1].actor_id is None


def test_worker_delivers_each_message_once_and_retries_failures(db: TestDatabase) -> None:
    _open(db, "medium")

    class Flaky:
        def __init__(self) -> None:
            self.calls = 0

        def deliver(self, message: OutboxMessage) -> None:
            self.calls += 1
            raise ConnectionError("slack is down")

    flaky = Flaky()
    first = run_once(db.sessions, routing=ROUTING, notifier=flaky, worker_id="w", now=MONDAY_10AM)
    assert first.delivered == 0 and flaky.calls == 2
    with db.sessions() as s:
        rows = list(s.scalars(select(OutboxMessage)))
        assert all(r.delivered_at is None and "slack is down" in (r.last_error or "") for r in rows)
    recorder = Recorder()
    # not yet: the rows back off
    soon = MONDAY_10AM + timedelta(seconds=1)
    assert run_once(db.sessions, routing=ROUTING, notifier=recorder, worker_id="w", now=soon).delivered == 0
    later = run_once(
        db.sessions, routing=ROUTING, notifier=recorder, worker_id="w", now=MONDAY_10AM + timedelta(hours=1)
    )
    assert later.delivered == 2 and len({m.id for m in recorder.seen}) == 2
    assert (
        run_once(
            db.sessions,
            routing=ROUTING,
            notifier=recorder,
            worker_id="w",
            now=MONDAY_10AM + timedelta(hours=2),
        ).delivered
        == 0
    )


def test_business_hours_clock_sleeps_over_the_weekend(db: TestDatabase) -> None:
    friday_4pm = MONDAY_10AM + timedelta(days=4, hours=6)
    with transaction(db.sessions) as s:
        crew = people(s)
        t = ticket(s, crew.requester, routing=ROUTING, priority="medium", now=friday_4pm)
        # 4 open hours: one on Friday, three on Monday from 09:00
        assert t.sla_response_due == friday_4pm + timedelta(days=2, hours=20)
    saturday = friday_4pm + timedelta(days=1)
    assert sweep(db.sessions, worker_id="w", routing=ROUTING, now=saturday).checked == 0
    monday_noon = friday_4pm + timedelta(days=2, hours=20)
    report = sweep(db.sessions, worker_id="w", routing=ROUTING, now=monday_noon)
    assert (report.breaches, report.escalations) == (1, 1)
