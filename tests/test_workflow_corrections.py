"""Re-arming the SLA after a priority change, re-rating after a reopen, and closed-unresolved
tickets: the workflow as engineers and requesters meet it after the happy path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.workflow import operations as ops
from bot.workflow.errors import IllegalTransition, PermissionDenied
from bot.workflow.routing import Routing, load_routing
from bot.workflow.sla import SweepReport, process_ticket
from bot.workflow.timers import pending_timers
from classifier.dataset import training_rows_from_db
from models import TicketStatus
from models.db import transaction
from tests.conftest import EXAMPLES, TestDatabase
from tests.workflow.factories import MONDAY_10AM, people, ticket

ROUTING = Routing.default()


def test_lowering_the_priority_after_a_breach_rearms_the_clock(db: TestDatabase) -> None:
    with transaction(db.sessions) as s:
        crew = people(s)
        t = ticket(s, crew.requester, routing=ROUTING, priority="critical")
        assert t.sla_response_due is not None
        late = t.sla_response_due + timedelta(minutes=1)
        process_ticket(s, t, ROUTING, late, SweepReport())
        assert t.sla_breached_at is not None
        ops.change_priority(s, t, actor=crew.admin, priority="low", routing=ROUTING, now=late)
        assert t.sla_breached_at is None  # low's first-response target is still ahead
        report = SweepReport()
        process_ticket(s, t, ROUTING, t.sla_response_due + timedelta(minutes=1), report)
        s.flush()  # the second breach has its own notification, not a clash with the first's
        assert report.breaches == 1 and t.sla_breached_at is not None


def test_a_reopened_ticket_is_rated_afresh_and_the_first_rating_is_kept_in_the_trail(
    db: TestDatabase,
) -> None:
    with transaction(db.sessions) as s:
        crew = people(s)
        t = ticket(s, crew.requester, routing=ROUTING)
        ops.claim(s, t, actor=crew.l1)
        ops.resolve(s, t, actor=crew.l1, resolution="new toner", routing=ROUTING)
        ops.rate(s, t, actor=crew.requester, score=5)
        ops.reopen(s, t, actor=crew.requester, routing=ROUTING, reason="it broke again")
        ops.claim(s, t, actor=crew.l1)
        ops.resolve(s, t, actor=crew.l1, resolution="replaced the drum", routing=ROUTING)
        ops.rate(s, t, actor=crew.requester, score=2)
        assert t.csat_score == 2
        assert [e.data.get("previous_csat") for e in t.events if e.kind == "reopened"] == [5]


def test_a_ticket_closed_without_a_resolution_cannot_be_rated_or_reopened_months_later(
    db: TestDatabase,
) -> None:
    with transaction(db.sessions) as s:
        crew = people(s)
        t = ticket(s, crew.requester, routing=ROUTING)
        ops.close(s, t, actor=crew.admin, reason="duplicate of another request", now=MONDAY_10AM)
        with pytest.raises(IllegalTransition, match="once it is resolved"):
            ops.rate(s, t, actor=crew.requester, score=1)
        with pytest.raises(IllegalTransition, match="closed more than"):
            ops.reopen(s, t, actor=crew.requester, routing=ROUTING, now=MONDAY_10AM + timedelta(days=180))


def test_a_pause_is_remeasured_when_a_priority_change_moves_the_ticket_onto_business_hours(
    db: TestDatabase,
) -> None:
    routing = load_routing(EXAMPLES / "routing.yml")  # critical 24x7, medium 9-17 on weekdays
    friday_4pm = datetime(2026, 12, 4, 16, 0, tzinfo=UTC)
    with transaction(db.sessions) as s:
        crew = people(s)
        t = ticket(s, crew.requester, routing=routing, priority="critical", now=friday_4pm)
        ops.claim(s, t, actor=crew.admin, now=friday_4pm)
        ops.set_waiting_on_user(
            s, t, actor=crew.admin, routing=routing, now=friday_4pm + timedelta(minutes=10)
        )
        monday = datetime(2026, 12, 7, 9, 10, tzinfo=UTC)
        ops.add_message(
            s, t, actor=crew.requester, text="here is the screenshot", routing=routing, now=monday
        )
        ops.change_priority(s, t, actor=crew.admin, priority="medium", routing=routing, now=monday)
        # 24 business hours from Fri 16:00, plus the one business hour the wait took (Fri 16:10-17:00
        # and Mon 09:00-09:10), not the 65 wall-clock hours it lasted
        assert t.sla_resolution_due == datetime(2026, 12, 9, 17, 0, tzinfo=UTC)


def test_a_withdrawn_ticket_is_closed_for_its_requester_only_and_teaches_only_once_corrected(
    db: TestDatabase,
) -> None:
    with transaction(db.sessions) as s:
        crew = people(s)
        t = ticket(s, crew.requester, routing=ROUTING)
        with pytest.raises(PermissionDenied, match="only the requester"):
            ops.withdraw(s, t, actor=crew.l1, reason="works now")
        ops.withdraw(s, t, actor=crew.requester, reason="it works now", now=MONDAY_10AM + timedelta(hours=1))
        assert t.status is TicketStatus.CLOSED and t.resolved_at is None  # closed, not fixed by IT
        assert pending_timers(t) == []  # no SLA clock left to breach a problem that has gone
        with pytest.raises(IllegalTransition, match="nothing to withdraw"):
            ops.withdraw(s, t, actor=crew.requester, reason="again")
        assert training_rows_from_db(s).ticket_ids == []  # its category is the model's unchecked guess
        corrected = ticket(s, crew.requester, routing=ROUTING)
        ops.change_category(s, corrected, actor=crew.l1, category="hardware", routing=ROUTING)
        ops.withdraw(s, corrected, actor=crew.requester, reason="fixed itself")
        assert training_rows_from_db(s).ticket_ids == [corrected.id]  # an engineer stood behind it
