"""One ticket the sweeper cannot process does not stop the others' timers, nor delivery."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import update

from bot.workflow.routing import Routing
from bot.workflow.sla import FAILED_RETRY
from bot.workflow.worker import run_once
from models import OutboxMessage, Ticket
from models.db import transaction
from tests.conftest import TestDatabase
from tests.workflow.factories import MONDAY_10AM, people, ticket

ROUTING = Routing.default()
BREACHED = MONDAY_10AM + ROUTING.target("high").first_response + timedelta(minutes=1)


class Inbox:
    """Records what the worker delivers, as the Slack notifier would send it."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []

    def deliver(self, message: OutboxMessage) -> None:
        self.messages.append((message.kind, message.payload.get("ticket", "")))


def test_an_unreadable_ticket_is_set_aside_and_every_other_ticket_is_timed_and_told(
    db: TestDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    with transaction(db.sessions) as s:
        crew = people(s)
        opened = [ticket(s, crew.requester, routing=ROUTING, priority="high") for _ in range(3)]
        ids = [t.id for t in opened]
        good = [t.number or "" for t in opened[1:]]
    with transaction(db.sessions) as s:  # a tier this version does not know (a manual edit, say)
        s.execute(update(Ticket).where(Ticket.id == ids[0]).values(tier="L9"))
    inbox = Inbox()
    with caplog.at_level(logging.ERROR):
        report = run_once(db.sessions, routing=ROUTING, notifier=inbox, worker_id="w", now=BREACHED)
    assert (report.sweep.checked, report.sweep.breaches, report.sweep.failed) == (2, 2, 1)
    assert sorted(report.sweep.tickets) == sorted(good)
    assert "1 ticket(s) failed, see the log" in report.summary()
    assert f"ticket id {ids[0]} failed" in caplog.text and "L9" in caplog.text  # with its traceback
    assert {number for kind, number in inbox.messages if kind == "sla_breach"} == set(good)
    with db.sessions() as s:
        set_aside = s.execute(
            update(Ticket).where(Ticket.id == ids[0]).values(tier="L1").returning(Ticket.sla_next_check_at)
        ).scalar_one()
        s.commit()
    assert set_aside == BREACHED + FAILED_RETRY
    # Repaired, it is timed on the next pass after the wait, like any other ticket.
    later = run_once(db.sessions, routing=ROUTING, notifier=inbox, worker_id="w", now=BREACHED + FAILED_RETRY)
    assert (later.sweep.checked, later.sweep.breaches, later.sweep.failed) == (1, 1, 0)
