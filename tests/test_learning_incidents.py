"""Major incidents: L3 declares from an alert, every requester hears once per update."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.desk import WorkflowDesk
from bot.engine import Engine, Inquiry
from bot.learning.errors import InvalidInput, InvalidState, NotAllowed
from bot.learning.incidents import (
    IncidentMatcher,
    declare_incident,
    join_known_incident,
    link_tickets,
    post_update,
    resolve_incident,
)
from bot.learning.spikes import detect_spikes
from bot.triage import TriageService
from bot.workflow.routing import Routing
from bot.workflow.timers import pending_timers
from models import (
    AlertStatus,
    IncidentStatus,
    IncidentTicket,
    MajorIncident,
    OutboxMessage,
    Role,
    SpikeAlert,
    Ticket,
    TicketStatus,
    Tier,
    User,
)
from tests.conftest import TestDatabase
from tests.learning import factories as make
from tests.learning.fakes import BagOfWordsEncoder
from tests.test_engine import KeywordKB

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def _spike(session: Session) -> tuple[SpikeAlert, list[str]]:
    people = [make.user(session, f"U-req-{i}") for i in range(5)]
    # Requester 0 files twice: one person, one message per update.
    owners = [people[0], *people]
    for i, owner in enumerate(owners):
        make.ticket(session, "Wifi down on floor three", at=NOW - timedelta(minutes=10 - i), requester=owner)
    report = detect_spikes(session, now=NOW, encoder=BagOfWordsEncoder(), min_tickets=5, similarity=0.5)
    alert = session.get(SpikeAlert, report.raised[0])
    assert alert is not None
    return alert, sorted(p.external_id for p in people)


def _requester_messages(session: Session, kind: str) -> list[OutboxMessage]:
    return list(
        session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == kind, OutboxMessage.audience == "requester")
        )
    )


def test_l3_declares_from_alert_and_every_requester_hears_once(session: Session) -> None:
    alert, people = _spike(session)
    l3 = make.user(session, "U-l3", role=Role.ENGINEER, tiers=(Tier.L3,))
    incident = declare_incident(
        session,
        actor=l3,
        title="Floor 3 wifi outage",
        message="We know; an access point failed.",
        alert_id=alert.id,
    )
    session.commit()
    assert alert.status is AlertStatus.DECLARED and alert.incident_id == incident.id
    assert len(incident.links) == 6  # six tickets, five people
    declared = _requester_messages(session, "incident_declared")
    assert sorted(m.recipient for m in declared) == people
    assert all("an access point failed" in m.payload["text"] for m in declared)

    post_update(session, incident, actor=l3, message="Replacement AP arriving at 14:00.")
    _, settled = resolve_incident(
        session, incident.id, actor=l3, message="Wifi is back on floor three.", routing=Routing.default()
    )
    session.commit()
    assert incident.status is IncidentStatus.RESOLVED
    assert sorted(m.recipient for m in _requester_messages(session, "incident_update")) == people
    resolved = _requester_messages(session, "incident_resolved")
    assert sorted(m.recipient for m in resolved) == people  # once each, no CSAT request per ticket
    assert _requester_messages(session, "csat_request") == []
    # The outage's tickets are settled with it: no SLA timer left to breach a fixed problem.
    linked = [link.ticket for link in incident.links]
    assert sorted(t.id for t in settled) == sorted(t.id for t in linked)
    assert all(t.status is TicketStatus.RESOLVED and pending_timers(t) == [] for t in linked)
    assert all(t.resolution == f"[MI-{incident.id}] Wifi is back on floor three." for t in linked)
    told = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "ticket_resolved")).all()
    assert sorted(m.ticket_id for m in told) == sorted(t.id for t in linked)  # each card shows it
    assert all(m.audience == "tier_queue" for m in told)
    assert all(f"resolved with MI-{incident.id}" in m.payload["text"] for m in told)
    assert all(
        "resolved with it; if it is not fixed for you, reply here" in m.payload["text"] for m in resolved
    )
    with pytest.raises(InvalidState):
        post_update(session, incident, actor=l3, message="late news")


def test_only_l3_or_admins_may_declare(session: Session) -> None:
    alert, _ = _spike(session)
    l1 = make.user(session, "U-l1", role=Role.ENGINEER, tiers=(Tier.L1,))
    with pytest.raises(NotAllowed, match="L3"):
        declare_incident(session, actor=l1, title="x", message="y", alert_id=alert.id)
    assert alert.status is AlertStatus.OPEN


def test_empty_message_is_refused_and_nothing_is_sent(session: Session) -> None:
    alert, _ = _spike(session)
    l3 = make.user(session, "U-l3b", role=Role.ENGINEER, tiers=(Tier.L3,))
    with pytest.raises(InvalidInput, match="empty"):
        declare_incident(session, actor=l3, title="x", message="   ", alert_id=alert.id)
    assert _requester_messages(session, "incident_declared") == []


def test_tickets_linked_later_hear_the_next_update(session: Session) -> None:
    alert, people = _spike(session)
    l3 = make.user(session, "U-l3c", role=Role.ENGINEER, tiers=(Tier.L3,))
    incident = declare_incident(session, actor=l3, title="Wifi", message="Investigating.", alert_id=alert.id)
    latecomer = make.user(session, "U-late")
    late = make.ticket(session, "No wifi in the canteen", at=NOW, requester=latecomer)
    assert link_tickets(session, incident, [late], actor=l3) == 1
    assert link_tickets(session, incident, [late], actor=l3) == 0
    post_update(session, incident, actor=l3, message="Fixed on floor 3, canteen next.")
    recipients = sorted(m.recipient for m in _requester_messages(session, "incident_update"))
    assert recipients == sorted([*people, "U-late"])


def test_an_incident_declared_without_a_title_never_tells_requesters_one_persons_words(
    session: Session,
) -> None:
    alert, _ = _spike(session)
    l3 = make.user(session, "U-l3", role=Role.ENGINEER, tiers=(Tier.L3,))
    incident = declare_incident(session, actor=l3, title="  ", message="We are on it.", alert_id=alert.id)
    session.commit()
    assert "floor three" not in incident.title.lower() and "several people" in incident.title
    assert all(
        "floor three" not in m.payload["text"].lower()
        for m in _requester_messages(session, "incident_declared")
    )


def test_a_ticket_linked_to_an_incident_under_way_hears_its_latest_status_at_once(session: Session) -> None:
    alert, people = _spike(session)
    l3 = make.user(session, "U-l3d", role=Role.ENGINEER, tiers=(Tier.L3,))
    incident = declare_incident(session, actor=l3, title="Wifi", message="Investigating.", alert_id=alert.id)
    post_update(session, incident, actor=l3, message="An access point failed; use a cable meanwhile.")
    latecomer = make.user(session, "U-late2")
    late = make.ticket(session, "No wifi in the canteen", at=NOW, requester=latecomer)
    # One who already heard the update files again: the new ticket is linked, nobody is told twice.
    again = make.ticket(
        session, "Still no wifi", at=NOW, requester=session.get(User, alert.members[0].ticket.requester_id)
    )
    link_tickets(session, incident, [late, again], actor=l3)
    link_tickets(session, incident, [late], actor=l3)
    session.commit()

    told = [m for m in _requester_messages(session, "incident_update") if m.recipient == "U-late2"]
    assert len(told) == 1
    assert "use a cable meanwhile" in told[0].payload["text"] and late.number in told[0].payload["text"]
    assert sorted(m.recipient for m in _requester_messages(session, "incident_update")) == sorted(
        [*people, "U-late2"]
    )


def _declared_wifi_incident(session: Session) -> tuple[MajorIncident, User]:
    alert, _ = _spike(session)
    l3 = make.user(session, "U-l3", role=Role.ENGINEER, tiers=(Tier.L3,))
    incident = declare_incident(
        session,
        actor=l3,
        title="Floor 3 wifi outage",
        message="We know; an access point failed.",
        alert_id=alert.id,
    )
    return incident, l3


def test_a_new_report_of_an_active_incident_joins_it_and_hears_later_updates(session: Session) -> None:
    incident, l3 = _declared_wifi_incident(session)
    late = make.user(session, "U-late")
    ticket = make.ticket(
        session, "wifi down on floor three again", at=NOW + timedelta(minutes=5), requester=late
    )
    known = join_known_incident(session, ticket, encoder=BagOfWordsEncoder(), min_similarity=0.5)
    assert known is not None and known.label == f"MI-{incident.id}"
    assert known.latest == "We know; an access point failed."
    assert ticket.id in {link.ticket_id for link in incident.links}
    trail = [e for e in ticket.events if e.kind == "linked"]
    assert trail and trail[0].actor_id is None and "Linked by the assistant" in (trail[0].text or "")
    # The handoff reply says the latest update: no second message of it is queued for them.
    assert [m for m in _requester_messages(session, "incident_declared") if m.recipient == "U-late"] == []
    post_update(session, incident, actor=l3, message="Replacement AP arriving at 14:00.")
    assert "U-late" in {m.recipient for m in _requester_messages(session, "incident_update")}
    session.commit()


def test_an_unrelated_ticket_or_a_resolved_incident_is_not_joined(session: Session) -> None:
    incident, l3 = _declared_wifi_incident(session)
    printer = make.ticket(session, "printer jam in the mail room", at=NOW + timedelta(minutes=5))
    assert join_known_incident(session, printer, encoder=BagOfWordsEncoder(), min_similarity=0.5) is None
    assert printer.id not in {link.ticket_id for link in incident.links}
    resolve_incident(session, incident.id, actor=l3, message="Wifi is back.", routing=Routing.default())
    later = make.ticket(session, "wifi down on floor three", at=NOW + timedelta(hours=2))
    assert join_known_incident(session, later, encoder=BagOfWordsEncoder(), min_similarity=0.5) is None


def test_the_handoff_reply_says_the_case_is_part_of_the_known_incident(db: TestDatabase) -> None:
    with db.sessions() as session, session.begin():
        incident, _ = _declared_wifi_incident(session)
        label = f"MI-{incident.id}"
    engine = Engine(
        searcher=None,
        triage=TriageService(db.sessions, category_threshold=0.45, priority_threshold=0.4),
        desk=WorkflowDesk(Routing.default()),
        known_issues=IncidentMatcher(BagOfWordsEncoder(), min_similarity=0.5),
    )
    with db.sessions() as session, session.begin():
        out = engine.handle(
            session, Inquiry("the wifi is down on floor three, nobody can work", "U-new", "cli:new")
        )
    assert out.kind == "handoff" and out.ticket is not None
    assert f"known major incident, *{label}: Floor 3 wifi outage*" in out.text
    assert "an access point failed" in out.text
    assert "which device" not in out.text  # the incident's engineers need nothing more from each person
    with db.sessions() as session:
        linked = session.scalars(
            select(IncidentTicket.ticket_id).where(IncidentTicket.incident_id == incident.id)
        )
        number = session.scalars(select(Ticket.number).where(Ticket.id.in_(list(linked)))).all()
        assert out.ticket.number in number


def test_a_fault_the_kb_could_answer_goes_to_the_active_incident_it_belongs_to(db: TestDatabase) -> None:
    with db.sessions() as session, session.begin():
        incident, _ = _declared_wifi_incident(session)
        label = f"MI-{incident.id}"
    kb = KeywordKB([("wifi-help", "Office wifi troubleshooting", "public", frozenset({"wifi"}))])
    engine = Engine(
        searcher=kb,
        triage=TriageService(db.sessions, category_threshold=0.45, priority_threshold=0.4),
        desk=WorkflowDesk(Routing.default()),
        known_issues=IncidentMatcher(BagOfWordsEncoder(), min_similarity=0.5),
    )
    with db.sessions() as session, session.begin():
        out = engine.handle(session, Inquiry("the wifi on floor three is down", "U-new", "cli:new"))
    assert out.kind == "handoff" and label in out.text  # not the troubleshooting article
    with db.sessions() as session, session.begin():
        how = engine.handle(session, Inquiry("how do I join the wifi on floor three", "U-other", "cli:other"))
    assert how.kind == "answer" and how.sources[0].id == "wifi-help"  # asking how is no report
