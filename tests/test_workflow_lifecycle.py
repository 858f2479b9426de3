"""The ticket lifecycle as people experience it: intake, claims, escalation, conversation,
closure loop, roles and the audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import workflow as wf
from bot.workflow.categories import known_categories, match_category
from bot.workflow.routing import Routing
from models import OutboxMessage, Priority, Ticket, TicketStatus, Tier
from tests.workflow.factories import MONDAY_10AM, people, ticket

ROUTING = Routing.default()


def outbox(session: Session, ticket: Ticket) -> list[OutboxMessage]:
    session.flush()
    return list(
        session.scalars(
            select(OutboxMessage).where(OutboxMessage.ticket_id == ticket.id).order_by(OutboxMessage.id)
        )
    )


def test_intake_routes_times_and_announces(session: Session) -> None:
    crew = people(session)
    t = ticket(session, crew.requester, routing=ROUTING, category="network", priority="high")
    session.commit()
    assert t.number == f"IT-{1000 + t.id}"
    assert (t.tier, t.status, t.priority, t.needs_triage) == (Tier.L2, TicketStatus.TRIAGED, "high", False)
    assert t.sla_response_due == MONDAY_10AM + ROUTING.target(Priority.HIGH).first_response
    assert [e.kind for e in t.events] == ["created", "classified"]
    classified = t.events[1].data
    assert classified["model_version"] == "test-model-1" and classified[
        "category_confidence"
    ] == pytest.approx(0.91)
    sent = {(m.audience, m.recipient, m.kind) for m in outbox(session, t)}
    assert sent == {("tier_queue", "L2", "ticket_created"), ("requester", "cli:rita", "ticket_opened")}


def test_abstained_category_goes_to_triage_tier(session: Session) -> None:
    crew = people(session)
    t = ticket(session, crew.requester, routing=ROUTING, category="network", abstained=True)
    assert (t.category, t.needs_triage, t.tier, t.status) == ("needs_triage", True, Tier.L1, TicketStatus.NEW)
    wf.change_category(session, t, actor=crew.l1, category="security", routing=ROUTING)
    assert (t.category, t.needs_triage, t.tier) == ("security", False, Tier.L2)
    assert [e.kind for e in t.events][-2:] == ["category_changed", "rerouted"]


def test_a_new_ticket_keeps_the_category_as_the_history_spells_it(session: Session) -> None:
    """History imported as "Network" trains a model that says "Network": the new ticket is filed
    under that same spelling (one category in queues and reports), routed like "network"."""
    crew = people(session)
    t = ticket(session, crew.requester, routing=ROUTING, category=" Network ")
    assert (t.category, t.tier, t.needs_triage) == ("Network", Tier.L2, False)
    wf.change_category(session, t, actor=crew.l2, category="network", routing=ROUTING)
    assert t.category == "Network"  # the same category: no correction for the next training
    assert "category_changed" not in [e.kind for e in t.events]


def test_known_categories_are_spelled_as_the_model_spells_them() -> None:
    known = known_categories(ROUTING, ["Network", "VPN Access"])
    assert "Network" in known and "network" not in known
    assert match_category("vpn   access", known) == "VPN Access"
    assert match_category("NETWORK", known) == "Network"


def test_numbers_are_unique(session: Session) -> None:
    crew = people(session)
    numbers = {ticket(session, crew.requester, routing=ROUTING).number for _ in range(20)}
    assert len(numbers) == 20


def test_claim_escalate_and_the_next_tier_takes_over(session: Session) -> None:
    crew = people(session)
    t = ticket(session, crew.requester, routing=ROUTING)
    wf.claim(session, t, actor=crew.l1)
    with pytest.raises(wf.AlreadyClaimed, match="already claimed by Lena"):
        wf.claim(session, t, actor=crew.l1b)
    wf.add_internal_note(session, t, actor=crew.l1, text="driver reinstall did not help")
    wf.escalate(session, t, actor=crew.l1, reason="needs hardware swap", routing=ROUTING)
    assert (t.tier, t.status, t.assignee) == (Tier.L2, TicketStatus.ESCALATED, None)
    with pytest.raises(wf.PermissionDenied, match="not an engineer of L2"):
        wf.claim(session, t, actor=crew.l1)
    card = [m for m in outbox(session, t) if m.kind == "ticket_escalated" and m.audience == "tier_queue"]
    assert card[0].recipient == "L2"
    assert "needs hardware swap" in card[0].payload["text"]
    assert any("driver reinstall" in n["text"] for n in card[0].payload["notes"])
    wf.claim(session, t, actor=crew.l2)
    wf.escalate(session, t, actor=crew.l2, reason="vendor bug", routing=ROUTING)
    with pytest.raises(wf.IllegalTransition, match="highest tier"):
        wf.escalate(session, t, actor=crew.l3, reason="more", routing=ROUTING)
    wf.deescalate(session, t, actor=crew.l3, reason="workaround known", routing=ROUTING)
    assert (t.tier, t.status) == (Tier.L2, TicketStatus.TRIAGED)


def test_internal_notes_never_reach_the_requester(session: Session) -> None:
    crew = people(session)
    t = ticket(session, crew.requester, routing=ROUTING)
    wf.claim(session, t, actor=crew.l1)
    wf.add_internal_note(session, t, actor=crew.l1, text="SECRET: user's laptop is on the watch list")
    wf.add_message(session, t, actor=crew.l1, text="Could you restart it?", routing=ROUTING)
    note = next(e for e in t.events if e.kind == "note")
    assert note.internal
    to_requester = [m for m in outbox(session, t) if m.audience == "requester"]
    assert to_requester and all("SECRET" not in str(m.payload) for m in to_requester)
    with pytest.raises(wf.PermissionDenied, match="only engineers and admins"):
        wf.add_internal_note(session, t, actor=crew.requester, text="hi")


def test_internal_notes_come_from_the_tickets_tier_or_from_who_worked_on_it(session: Session) -> None:
    crew = people(session)
    t = ticket(session, crew.requester, routing=ROUTING)  # an L1 ticket
    with pytest.raises(wf.PermissionDenied, match="not an engineer of L1"):
        wf.add_internal_note(session, t, actor=crew.l3, text="from an unrelated tier")
    wf.claim(session, t, actor=crew.l1)
    wf.escalate(session, t, actor=crew.l1, reason="needs hardware swap", routing=ROUTING)
    wf.add_internal_note(session, t, actor=crew.l1, text="one more thing I found")  # worked on it
    assert [e.text for e in t.events if e.kind == "note"] == ["one more thing I found"]


def test_messages_relay_both_ways_and_count_as_first_response(session: Session) -> None:
    crew = people(session)
    t = ticket(session, crew.requester, routing=ROUTING)
    wf.add_message(session, t, actor=crew.requester, text="Any news?", routing=ROUTING, now=MONDAY_10AM)
    assert t.first_response_at is None
    wf.claim(session, t, actor=crew.l1, now=MONDAY_10AM + timedelta(minutes=5))
    later = MONDAY_10AM + timedelta(minutes=20)
    wf.add_message(session, t, actor=crew.l1, text="Looking now", routing=ROUTING, now=later)
    assert t.first_response_at == later
    relays = [(m.audience, m.recipient) for m in outbox(session, t) if m.kind == "relay"]
    assert relays == [("tier_queue", "L1"), ("requester", "cli:rita")]
    with pytest.raises(wf.PermissionDenied):
        wf.add_message(session, t, actor=crew.other_requester, text="me too", routing=ROUTING)


def test_waiting_on_user_pauses_the_clock(session: Session) -> None:
    crew = people(session)
    t = ticket(session, crew.requester, routing=ROUTING, priority="critical")  # 24x7 clock
    due = t.sla_resolution_due
    assert due is not None
    wf.claim(session, t, actor=crew.l1, now=MONDAY_10AM)
    wf.set_waiting_on_user(
        session, t, actor=crew.l1, routing=ROUTING, question="Which floor?", now=MONDAY_10AM
    )
    assert t.sla_next_check_at is None
    wf.add_message(
        session, t, actor=crew.requester, text="3rd", routing=ROUTING, now=MONDAY_10AM + timedelta(hours=2)
    )
    assert t.status == TicketStatus.IN_PROGRESS
    assert t.sla_resolution_due == due + timedelta(hours=2)


def test_closure_loop_rate_closes_and_reply_reopens(session: Session) -> None:
    crew = people(session)
    t = ticket(session, crew.requester, routing=ROUTING)
    wf.claim(session, t, actor=crew.l1, now=MONDAY_10AM)
    with pytest.raises(wf.InvalidInput, match="resolution note"):
        wf.resolve(session, t, actor=crew.l1, resolution="  ", routing=ROUTING)
    wf.resolve(session, t, actor=crew.l1, resolution="Replaced toner", routing=ROUTING, now=MONDAY_10AM)
    ask = [m for m in outbox(session, t) if m.kind == "csat_request"]
    assert ask and ask[0].payload["text"] == "Replaced toner"
    # a reply within the window reopens and returns the ticket to the queue
    wf.add_message(
        session,
        t,
        actor=crew.requester,
        text="still broken",
        routing=ROUTING,
        now=MONDAY_10AM + timedelta(days=1),
    )
    assert (t.status, t.assignee, t.reopen_count) == (TicketStatus.REOPENED, None, 1)
    wf.claim(session, t, actor=crew.l1b, now=MONDAY_10AM + timedelta(days=1, hours=1))
    wf.resolve(
        session,
        t,
        actor=crew.l1b,
        resolution="New printer",
        routing=ROUTING,
        now=MONDAY_10AM + timedelta(days=2),
    )
    with pytest.raises(wf.InvalidInput, match="1 to 5"):
        wf.rate(session, t, actor=crew.requester, score=6)
    with pytest.raises(wf.PermissionDenied, match="only the requester"):
        wf.rate(session, t, actor=crew.l1b, score=5)
    wf.rate(session, t, actor=crew.requester, score=4, comment="quick", now=MONDAY_10AM + timedelta(days=2))
    assert (t.status, t.csat_score, t.csat_comment) == (TicketStatus.CLOSED, 4, "quick")
    # after the reopen window a reply is refused with a reason
    too_late = MONDAY_10AM + timedelta(days=2 + ROUTING.closure.reopen_window_days + 1)
    with pytest.raises(wf.IllegalTransition, match="open a new request"):
        wf.add_message(session, t, actor=crew.requester, text="again", routing=ROUTING, now=too_late)


def test_illegal_transitions_are_refused_clearly(session: Session) -> None:
    crew = people(session)
    t = ticket(session, crew.requester, routing=ROUTING)
    with pytest.raises(wf.IllegalTransition, match=r"IT-.* is triaged, so it cannot be resolved"):
        wf.resolve(session, t, actor=crew.admin, resolution="x", routing=ROUTING)
    with pytest.raises(wf.IllegalTransition, match="not claimed"):
        wf.unclaim(session, t, actor=crew.admin, routing=ROUTING)
    with pytest.raises(wf.IllegalTransition, match="once it is resolved"):
        wf.rate(session, t, actor=crew.requester, score=5)
    wf.close(session, t, actor=crew.admin, reason="duplicate")
    with pytest.raises(wf.IllegalTransition, match="closed, so it cannot be claimed"):
        wf.claim(session, t, actor=crew.l1)


def test_roles_are_checked(session: Session) -> None:
    crew = people(session)
    t = ticket(session, crew.requester, routing=ROUTING)
    with pytest.raises(wf.PermissionDenied, match="Rita is not an engineer of L1"):
        wf.claim(session, t, actor=crew.requester)
    wf.claim(session, t, actor=crew.l1)
    with pytest.raises(wf.PermissionDenied, match="claimed by Lena"):
        wf.resolve(session, t, actor=crew.l1b, resolution="x", routing=ROUTING)
    with pytest.raises(wf.PermissionDenied, match="only the engineer holding"):
        wf.unclaim(session, t, actor=crew.l1b, routing=ROUTING)
    with pytest.raises(wf.InvalidInput, match="not an engineer of L1"):
        wf.reassign(session, t, actor=crew.admin, to=crew.l2)
    wf.reassign(session, t, actor=crew.admin, to=crew.l1b)
    assert t.assignee == crew.l1b
    assert [e.kind for e in t.events][-1] == "reassigned"


def test_priority_change_recomputes_sla(session: Session) -> None:
    crew = people(session)
    t = ticket(session, crew.requester, routing=ROUTING, priority="low")
    wf.change_priority(session, t, actor=crew.l1, priority="critical", routing=ROUTING, reason="CEO laptop")
    assert t.sla_response_due == MONDAY_10AM + ROUTING.target("critical").first_response
    with pytest.raises(wf.InvalidInput, match="unknown priority"):
        wf.change_priority(session, t, actor=crew.l1, priority="urgent!!", routing=ROUTING)
    assert t.events[-1].data == {"from": "low", "to": "critical"}


def test_find_ticket_and_queues(session: Session) -> None:
    crew = people(session)
    low = ticket(session, crew.requester, routing=ROUTING, priority="low")
    crit = ticket(session, crew.requester, routing=ROUTING, priority="critical")
    assert wf.find_ticket(session, (low.number or "").lower()) is low
    with pytest.raises(wf.NotFound, match="no ticket IT-1"):
        wf.find_ticket(session, "IT-1")
    assert [t.number for t in wf.queue(session, Tier.L1)] == [crit.number, low.number]
    wf.claim(session, crit, actor=crew.l1)
    assert wf.queue(session, Tier.L1) == [low]
    assert set(wf.tickets_for_requester(session, crew.requester)) == {low, crit}
