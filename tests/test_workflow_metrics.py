"""Dashboard metrics over a small, fully known history."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from bot import workflow as wf
from bot.workflow import metrics
from bot.workflow.routing import Routing
from models import Conversation, ConversationState
from tests.workflow.factories import MONDAY_10AM, people, ticket

ROUTING = Routing.default()
T0 = MONDAY_10AM
H = timedelta(hours=1)


def test_metrics_over_a_known_history(session: Session) -> None:
    crew = people(session)
    # A: answered in 30 min, resolved in 2 h (both inside the high targets), rated 5
    a = ticket(session, crew.requester, routing=ROUTING, priority="high", now=T0)
    wf.claim(session, a, actor=crew.l1, now=T0)
    wf.add_message(session, a, actor=crew.l1, text="hi", routing=ROUTING, now=T0 + H / 2)
    wf.resolve(session, a, actor=crew.l1, resolution="done", routing=ROUTING, now=T0 + 2 * H)
    wf.rate(session, a, actor=crew.requester, score=5, now=T0 + 3 * H)
    # B (L2): answered after 2 h and resolved after 10 h (both late), reopened once, rated 2
    b = ticket(session, crew.requester, routing=ROUTING, category="network", priority="high", now=T0)
    wf.claim(session, b, actor=crew.l2, now=T0)
    wf.add_message(session, b, actor=crew.l2, text="hi", routing=ROUTING, now=T0 + 2 * H)
    wf.resolve(session, b, actor=crew.l2, resolution="x", routing=ROUTING, now=T0 + 3 * H)
    wf.reopen(session, b, actor=crew.requester, routing=ROUTING, reason="no", now=T0 + 4 * H)
    wf.claim(session, b, actor=crew.l2, now=T0 + 4 * H)
    wf.resolve(session, b, actor=crew.l2, resolution="y", routing=ROUTING, now=T0 + 10 * H)
    wf.rate(session, b, actor=crew.requester, score=2, now=T0 + 11 * H)
    # C: still open, nobody answered
    ticket(session, crew.requester, routing=ROUTING, priority="medium", now=T0 + 5 * H)
    for i, state in enumerate(
        [ConversationState.SOLVED, ConversationState.HANDED_OFF, ConversationState.ANSWERED]
    ):
        session.add(Conversation(key=f"cli:{i}", requester_id=crew.requester.id, state=state, created_at=T0))
    session.flush()
    since, until = T0 - H, T0 + 24 * H

    frt = metrics.first_response_time(session, since, until)
    assert frt.count == 2 and frt.mean_seconds == pytest.approx((0.5 + 2) / 2 * 3600)
    ttr = metrics.time_to_resolve(session, since, until)
    assert ttr.count == 2 and ttr.median_seconds == pytest.approx((2 + 10) / 2 * 3600)

    sla = {(r.tier, r.priority): r for r in metrics.sla_attainment(session, since, until)}
    assert sla[("L1", "high")].first_response.value == 1.0 and sla[("L1", "high")].resolution.value == 1.0
    # B: response 2 h > 1 h target; resolution time excludes the hour it sat resolved, still > 8 h
    assert sla[("L2", "high")].first_response.value == 0.0 and sla[("L2", "high")].resolution.value == 0.0

    rows = metrics.backlog(session, until)
    assert [(r.tier, r.age_bucket, r.count) for r in rows] == [("L1", "4-24h", 1)]
    assert metrics.reopen_rate(session, since, until) == metrics.Rate(1, 2)
    score = metrics.csat(session, since, until)
    assert (score.count, score.mean, score.satisfied_rate) == (2, 3.5, 0.5)
    assert metrics.deflection(session, since, until).value == pytest.approx(1 / 3)
    assert metrics.first_response_time(session, until, until + H).count == 0


def test_a_reopened_ticket_still_open_is_not_counted_as_resolved(session: Session) -> None:
    """Resolved in time, then reopened by the requester and still being worked at the end of the
    period: no time to resolve yet, and its resolution target is missed once it passes."""
    crew = people(session)
    t = ticket(session, crew.requester, routing=ROUTING, priority="high", now=T0)
    wf.claim(session, t, actor=crew.l1, now=T0)
    wf.add_message(session, t, actor=crew.l1, text="hi", routing=ROUTING, now=T0 + H / 2)
    wf.resolve(session, t, actor=crew.l1, resolution="restarted it", routing=ROUTING, now=T0 + H)
    wf.reopen(session, t, actor=crew.requester, routing=ROUTING, reason="broken again", now=T0 + 2 * H)
    session.flush()
    since, until = T0 - H, T0 + 24 * H
    assert metrics.time_to_resolve(session, since, until).count == 0
    sla = {(r.tier, r.priority): r for r in metrics.sla_attainment(session, since, until)}
    assert sla[("L1", "high")].resolution.value == 0.0
    assert [(r.tier, r.count) for r in metrics.backlog(session, until)] == [("L1", 1)]


def test_a_ticket_withdrawn_before_its_targets_is_neither_met_nor_missed(session: Session) -> None:
    crew = people(session)
    gone = ticket(session, crew.requester, routing=ROUTING, priority="high", now=T0)
    wf.withdraw(session, gone, actor=crew.requester, reason="it works now", now=T0 + H / 4)
    late = ticket(session, crew.other_requester, routing=ROUTING, priority="high", now=T0)
    wf.withdraw(session, late, actor=crew.other_requester, reason="sorted", now=T0 + 20 * H)  # after both
    session.flush()
    since, until = T0 - H, T0 + 24 * H
    sla = {(r.tier, r.priority): r for r in metrics.sla_attainment(session, since, until)}
    assert sla[("L1", "high")].first_response == metrics.Rate(0, 1)  # only the one left waiting counts
    assert sla[("L1", "high")].resolution == metrics.Rate(0, 1)
    assert metrics.time_to_resolve(session, since, until).count == 0  # nobody from IT resolved either
