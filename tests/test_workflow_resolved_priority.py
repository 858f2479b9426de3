"""A priority corrected on finished work (the Slack card's menu on a resolved ticket) is a label
for the next training, not new SLA targets: nothing is re-timed and no queue is told."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.workflow import operations as ops
from bot.workflow.routing import Routing
from models import OutboxMessage, utcnow
from tests.workflow.factories import people, ticket

ROUTING = Routing.default()


def test_changing_the_priority_of_a_resolved_ticket_keeps_its_sla(session: Session) -> None:
    crew = people(session)
    t = ticket(session, crew.requester, routing=ROUTING, category="network", priority="low", now=utcnow())
    ops.claim(session, t, actor=crew.l2)
    ops.resolve(session, t, actor=crew.l2, resolution="new cable", routing=ROUTING)
    session.flush()
    timing = (t.sla_response_due, t.sla_resolution_due, t.sla_next_check_at)
    kinds = [m.kind for m in session.scalars(select(OutboxMessage))]

    ops.change_priority(session, t, actor=crew.l2, priority="critical", routing=ROUTING, reason="CEO")
    session.flush()

    assert t.priority == "critical" and t.events[-1].kind == "priority_changed"
    assert (t.sla_response_due, t.sla_resolution_due, t.sla_next_check_at) == timing
    assert [m.kind for m in session.scalars(select(OutboxMessage))] == kinds
