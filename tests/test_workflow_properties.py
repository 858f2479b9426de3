"""Property-based test of the ticket state machine: any sequence of operations, by anyone, at any
time (clocks may even step back a little), keeps the invariants people rely on."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import workflow as wf
from bot.workflow.routing import Routing
from bot.workflow.sla import sweep
from bot.workflow.states import CLAIMABLE, TRANSITIONS
from models import OutboxMessage, Role, Ticket, TicketStatus
from tests.conftest import TestDatabase
from tests.workflow.factories import MONDAY_10AM, People, people, ticket

ROUTING = Routing.default()
ACTORS = ("requester", "other_requester", "l1", "l1b", "l2", "l3", "admin")
# The everyday operations appear several times so that sequences reach deep states often.
OPS = (
    *("claim",) * 4,
    *("message",) * 3,
    *("resolve",) * 3,
    *("escalate",) * 2,
    "unclaim",
    "reassign",
    "deescalate",
    "note",
    "wait",
    "resume",
    "rate",
    "rate",
    "reopen",
    "close",
    "priority",
    "category",
    "sweep",
    "sweep",
)

# "fit" picks someone who plausibly may act (the holder, an engineer of the tier, the requester),
# so that sequences get deep into the lifecycle instead of being refused at the door.
step = st.tuples(
    st.sampled_from(OPS),
    st.one_of(st.just("fit"), st.sampled_from(ACTORS)),
    st.sampled_from(ACTORS),  # a second person (reassign target)
    st.integers(min_value=-120, max_value=3 * 86400),  # seconds since the previous step
    st.sampled_from(["low", "medium", "high", "critical", "urgent!!"]),
    st.sampled_from(["printing", "network", "security", "access", "needs_triage", ""]),
    st.integers(min_value=0, max_value=6),
)


def _apply(
    session: Session,
    t: Ticket,
    crew: People,
    op: str,
    who: str,
    other: str,
    when: Any,
    priority: str,
    category: str,
    score: int,
    n: int,
) -> None:
    actor = _fit(t, crew, op, n) if who == "fit" else getattr(crew, who)
    match op:
        case "claim":
            wf.claim(session, t, actor=actor, now=when)
        case "unclaim":
            wf.unclaim(session, t, actor=actor, routing=ROUTING, now=when)
        case "reassign":
            wf.reassign(session, t, actor=actor, to=getattr(crew, other), now=when)
        case "escalate":
            wf.escalate(session, t, actor=actor, reason=f"reason {n}", routing=ROUTING, now=when)
        case "deescalate":
            wf.deescalate(session, t, actor=actor, reason=f"reason {n}", routing=ROUTING, now=when)
        case "message":
            wf.add_message(session, t, actor=actor, text=f"public {n}", routing=ROUTING, now=when)
        case "note":
            wf.add_internal_note(session, t, actor=actor, text=f"INTERNAL-{n}", now=when)
        case "wait":
            wf.set_waiting_on_user(session, t, actor=actor, routing=ROUTING, now=when)
        case "resume":
            wf.resume_work(session, t, actor=actor, routing=ROUTING, now=when)
        case "resolve":
            wf.resolve(session, t, actor=actor, resolution=f"fixed {n}", routing=ROUTING, now=when)
        case "rate":
            wf.rate(session, t, actor=actor, score=score, now=when)
        case "reopen":
            wf.reopen(session, t, actor=actor, routing=ROUTING, reason=f"again {n}", now=when)
        case "close":
            wf.close(session, t, actor=actor, reason="done", now=when)
        case "priority":
            wf.change_priority(session, t, actor=actor, priority=priority, routing=ROUTING, now=when)
        case "category":
            wf.change_category(session, t, actor=actor, category=category, routing=ROUTING, now=when)


def _fit(t: Ticket, crew: People, op: str, n: int) -> Any:
    if op in ("rate", "reopen") or (op == "message" and n % 2 == 0):
        return crew.requester
    if t.assignee is not None and op != "claim":
        return t.assignee
    return {"L1": crew.l1, "L2": crew.l2, "L3": crew.l3}[t.tier.value]


def _snapshot(t: Ticket) -> tuple[Any, ...]:
    return (
        t.status,
        t.tier,
        t.assignee_id,
        t.priority,
        t.category,
        t.resolution,
        t.csat_score,
        t.first_response_at,
        t.resolved_at,
        t.closed_at,
        t.sla_warned_at,
        t.sla_breached_at,
    )


def _check_invariants(session: Session, t: Ticket, before: tuple[Any, ...], events_before: int) -> None:
    session.refresh(t)
    events = list(t.events)
    # every change has an event
    if _snapshot(t) != before:
        assert len(events) > events_before, f"state changed without an event: {before} -> {_snapshot(t)}"
    # transitions follow the table
    if t.status != before[0]:
        assert t.status in TRANSITIONS[before[0]], f"{before[0]} -> {t.status}"
    # one assignee at most, and only in states where someone holds the ticket
    if t.status in CLAIMABLE:
        assert t.assignee_id is None
    if t.status in (TicketStatus.IN_PROGRESS, TicketStatus.WAITING_ON_USER):
        assert t.assignee is not None
        assert t.assignee.role == Role.ADMIN or t.tier in t.assignee.tiers
    # timestamps monotonic
    times = [e.at for e in events]
    assert times == sorted(times), "event times go backwards"
    for moment in (t.first_response_at, t.resolved_at, t.closed_at):
        assert moment is None or moment >= t.created_at
    if t.status == TicketStatus.CLOSED and t.resolved_at and t.closed_at:
        assert t.closed_at >= t.resolved_at or t.reopen_count > 0
    # internal notes never travel to the requester
    to_requester = session.scalars(
        select(OutboxMessage.payload).where(
            OutboxMessage.ticket_id == t.id, OutboxMessage.audience == "requester"
        )
    )
    assert all("INTERNAL-" not in str(p) for p in to_requester)
    assert all(e.internal == (e.kind == "note") for e in events)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=3, max_size=25))
def test_any_sequence_keeps_the_invariants(db: TestDatabase, steps: list[tuple[Any, ...]]) -> None:
    with db.sessions() as session:
        crew = people(session)
        t = ticket(session, crew.requester, routing=ROUTING, now=MONDAY_10AM)
        session.commit()
        when = MONDAY_10AM
        for n, (op, who, other, gap, priority, category, score) in enumerate(steps):
            when = when + timedelta(seconds=gap)
            before, events_before = _snapshot(t), len(t.events)
            if op == "sweep":
                sweep(db.sessions, worker_id="prop", routing=ROUTING, now=when)
                session.expire_all()
            else:
                try:
                    _apply(session, t, crew, op, who, other, when, priority, category, score, n)
                    session.commit()
                    event(f"{op}: done")
                except wf.WorkflowError as refused:
                    event(f"{op}: refused")
                    assert str(refused), "refusals explain themselves"
                    session.rollback()
                    session.refresh(t)
                    assert _snapshot(t) == before, "a refused operation changed the ticket"
            _check_invariants(session, t, before, events_before)
