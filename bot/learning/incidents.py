"""Major incidents: L3 declares one from a spike alert (or a list of tickets), links the tickets,
and speaks to every affected requester at once, again at each update and at resolution.

Every message is one outbox row per requester (not per ticket: a person with two linked tickets
hears once), written in the caller's transaction with a dedupe key, so a retry never double-posts.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.learning.embeddings import ticket_vectors, unit
from bot.learning.errors import InvalidInput, InvalidState, NotAllowed, NotFound
from bot.workflow.audit import REQUESTER, notify, record
from bot.workflow.operations import resolve_with_incident
from bot.workflow.routing import Routing
from kb_index.encoders import Encoder, load_encoder
from models import (
    AlertStatus,
    IncidentStatus,
    IncidentTicket,
    MajorIncident,
    OutboxMessage,
    Role,
    SpikeAlert,
    Ticket,
    Tier,
    User,
    utcnow,
)

log = logging.getLogger(__name__)


def incident_label(incident: MajorIncident) -> str:
    return f"MI-{incident.id}"


def can_run_incidents(user: User) -> bool:
    """Declaring and speaking for a major incident is an L3 (or admin) decision."""
    return user.role is Role.ADMIN or (user.role is Role.ENGINEER and Tier.L3 in user.tiers)


def _require_l3(user: User) -> None:
    if not can_run_incidents(user):
        raise NotAllowed(f"{user.label} is not in L3: only L3 engineers or admins run major incidents")


def _message(text: str) -> str:
    cleaned = text.strip()
    if not cleaned:
        raise InvalidInput("the status message is empty: say what is happening and what people should do")
    return cleaned


def get_incident(session: Session, incident_id: int) -> MajorIncident:
    incident = session.get(MajorIncident, incident_id)
    if incident is None:
        raise NotFound(f"no major incident MI-{incident_id}")
    return incident


def default_title(alert: SpikeAlert) -> str:
    """A title every linked requester may read: the alert's summary is one requester's own words
    (their ticket's subject, names and all), so it is never sent to the others."""
    what = alert.category.replace("_", " ") if alert.category and alert.category != "needs_triage" else "IT"
    return f"{what[:1].upper()}{what[1:]} problem affecting several people"


def declare_incident(
    session: Session,
    *,
    actor: User,
    title: str,
    message: str,
    alert_id: int | None = None,
    tickets: Sequence[Ticket] = (),
) -> MajorIncident:
    """Declare a major incident over an alert's tickets and/or given tickets and tell their requesters."""
    _require_l3(actor)
    text = _message(message)
    members: dict[int, Ticket] = {t.id: t for t in tickets}
    alert: SpikeAlert | None = None
    if alert_id is not None:
        alert = session.get(SpikeAlert, alert_id)
        if alert is None:
            raise NotFound(f"no spike alert {alert_id}")
        if alert.status is not AlertStatus.OPEN:
            raise InvalidState(f"alert {alert_id} is already {alert.status.value}")
        members.update({m.ticket.id: m.ticket for m in alert.members})
    if not members:
        raise InvalidInput("a major incident needs tickets: give an alert id or ticket numbers")
    incident = MajorIncident(title=title.strip() or (default_title(alert) if alert else "Major incident"))
    incident.declared_by_id = actor.id
    session.add(incident)
    session.flush()
    if alert is not None:
        alert.status = AlertStatus.DECLARED
        alert.incident_id = incident.id
    link_tickets(session, incident, list(members.values()), actor=actor)
    post_update(session, incident, actor=actor, message=text, kind="incident_declared")
    return incident


def link_tickets(session: Session, incident: MajorIncident, tickets: Sequence[Ticket], *, actor: User) -> int:
    """Link tickets to the incident (idempotent); returns how many were newly linked."""
    _require_l3(actor)
    if incident.status is IncidentStatus.RESOLVED:
        raise InvalidState(f"{incident_label(incident)} is resolved; declare a new incident instead")
    fresh = _link(session, incident, tickets, actor=actor)
    tell_newly_linked(session, incident, fresh, actor=actor)
    return len(fresh)


def _link(
    session: Session,
    incident: MajorIncident,
    tickets: Sequence[Ticket],
    *,
    actor: User | None,
    how: str = "Linked",
    data: dict[str, object] | None = None,
) -> list[Ticket]:
    """Link the tickets not linked yet, each with an audit event; returns those."""
    linked = {link.ticket_id for link in incident.links}
    fresh: list[Ticket] = []
    for ticket in sorted(tickets, key=lambda t: t.id):
        if ticket.id in linked:
            continue
        incident.links.append(IncidentTicket(ticket_id=ticket.id))
        record(
            ticket,
            "linked",
            actor=actor,
            at=utcnow(),
            text=f"{how} to major incident {incident_label(incident)}: {incident.title}",
            data={"incident": incident.id, **(data or {})},
        )
        linked.add(ticket.id)
        fresh.append(ticket)
    session.flush()
    return fresh


@dataclass(frozen=True)
class KnownIncident:
    """The active major incident a new ticket was linked to, as its requester is told of it."""

    label: str
    title: str
    latest: str  # the latest update sent to requesters; "" before the first
    similarity: float


# MiniLM, as for spikes. Against three "office internet is down" tickets (mean of the best 3):
# "internet is not working in the office for all of us" 0.69, "is the internet down? cannot load
# any website" 0.58, "my laptop cannot connect to the office wifi" 0.47, "printer offline on floor
# 2" 0.38 (its best single one 0.56), "my vpn disconnects" 0.21. A wrong join tells someone their
# problem is a known outage and resolves their ticket with it, so the bar errs on the high side.
DEFAULT_JOIN_SIMILARITY = 0.60
# A new ticket is compared with at most this many of an incident's latest tickets, and the
# incident's score is the mean of its best few: one stray ticket linked by hand must not pull in
# every ticket that resembles it.
JOIN_MEMBERS = 200
JOIN_BEST_OF = 3


def join_known_incident(
    session: Session,
    ticket: Ticket,
    *,
    encoder: Encoder | str,
    min_similarity: float = DEFAULT_JOIN_SIMILARITY,
) -> KnownIncident | None:
    """Link a new ticket to the active major incident it is about, if one is: the person reporting a
    known outage hears at once that it is known (and its latest update), and every later update
    and the resolution reach them with the others. None when no active incident is close enough.

    Linked by no one (the assistant): the audit trail says so, with the similarity.
    """
    active = _active_incidents(session)
    if not active:
        return None
    enc = load_encoder(encoder) if isinstance(encoder, str) else encoder
    vector = ticket_vectors(session, enc, [ticket])[0]
    best = _closest(session, enc, vector, active, leave_out=ticket.id)
    if best is None or best[0] < min_similarity:
        return None
    score, incident = best
    _link(
        session,
        incident,
        [ticket],
        actor=None,
        how="Linked by the assistant",
        data={"similarity": round(score, 4)},
    )
    latest = latest_update(session, incident)
    if latest:  # the handoff reply says it: in the trail as a message the requester was sent
        _record_broadcast(
            incident, [ticket], actor=None, message=latest, sequence=incident.updates_sent, at=utcnow()
        )
    return KnownIncident(incident_label(incident), incident.title, latest, score)


@dataclass(frozen=True)
class IncidentMatcher:
    """`join_known_incident` with the encoder and threshold from settings, for the engine.

    Joining is an extra beside the ticket: when it fails (the encoder cannot load, say) the
    failure is logged and the handoff goes ahead without it, like similar tickets on a card.
    """

    encoder: Encoder | str
    min_similarity: float = DEFAULT_JOIN_SIMILARITY

    def reported(self, session: Session, text: str) -> bool:
        """Whether `text` reads like a report of an active major incident (False when that fails)."""
        try:
            with session.begin_nested():
                return about_known_incident(
                    session, text, encoder=self.encoder, min_similarity=self.min_similarity
                )
        except Exception:
            log.exception("matching a message with active major incidents failed")
            return False

    def join(self, session: Session, ticket: Ticket) -> KnownIncident | None:
        try:
            with session.begin_nested():
                return join_known_incident(
                    session, ticket, encoder=self.encoder, min_similarity=self.min_similarity
                )
        except Exception:
            log.exception("matching %s with active major incidents failed; handed off without", ticket.number)
            return None


def about_known_incident(
    session: Session, text: str, *, encoder: Encoder | str, min_similarity: float = DEFAULT_JOIN_SIMILARITY
) -> bool:
    """Whether a message (no ticket yet) reads like the reports of an active major incident."""
    active = _active_incidents(session)
    if not active or not text.strip():
        return False
    enc = load_encoder(encoder) if isinstance(encoder, str) else encoder
    best = _closest(session, enc, unit(np.asarray(enc.encode_queries([text])[0])), active)
    return best is not None and best[0] >= min_similarity


def _active_incidents(session: Session) -> list[MajorIncident]:
    """Active major incidents, oldest first; usually none, and then no encoder is loaded."""
    return list(
        session.scalars(
            select(MajorIncident)
            .where(MajorIncident.status == IncidentStatus.ACTIVE)
            .order_by(MajorIncident.id)
        )
    )


def _closest(
    session: Session,
    encoder: Encoder,
    vector: np.ndarray,
    incidents: Sequence[MajorIncident],
    *,
    leave_out: int | None = None,
) -> tuple[float, MajorIncident] | None:
    """The incident whose tickets are closest to `vector` (mean of its best JOIN_BEST_OF
    cosines over its latest JOIN_MEMBERS tickets), with that score."""
    best: tuple[float, MajorIncident] | None = None
    for incident in incidents:
        members = [t for t in _linked_tickets(session, incident) if t.id != leave_out][-JOIN_MEMBERS:]
        if not members:
            continue
        sims = np.sort(ticket_vectors(session, encoder, members) @ vector)[::-1][:JOIN_BEST_OF]
        score = float(sims.mean())
        if best is None or score > best[0]:
            best = (score, incident)
    return best


def active_incident_of(session: Session, ticket: Ticket) -> MajorIncident | None:
    """The active major incident the ticket is linked to, if any (shown on its card)."""
    return session.scalars(
        select(MajorIncident)
        .join(IncidentTicket, IncidentTicket.incident_id == MajorIncident.id)
        .where(IncidentTicket.ticket_id == ticket.id, MajorIncident.status == IncidentStatus.ACTIVE)
        .order_by(MajorIncident.id.desc())
    ).first()


def latest_update(session: Session, incident: MajorIncident) -> str:
    """What the incident's latest update told requesters ("" before the first)."""
    return _said_in(_latest_update_row(session, incident))


def _latest_update_row(session: Session, incident: MajorIncident) -> OutboxMessage | None:
    """The queue's copy of the incident's latest update (None before the first)."""
    if incident.updates_sent == 0:
        return None
    key = _update_key(incident, incident.updates_sent, "queue")
    return session.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key == key)).first()


def _said_in(row: OutboxMessage | None) -> str:
    return str((row.payload or {}).get("message") or "") if row is not None else ""


def tell_newly_linked(
    session: Session, incident: MajorIncident, tickets: Sequence[Ticket], *, actor: User | None
) -> int:
    """Tell the requesters of tickets just linked to an incident that has already spoken its latest
    status now: someone who reports a known outage should hear that it is known, not wait for the
    next update. Returns how many people were told; one who already heard this update is skipped.
    """
    sequence = incident.updates_sent
    if sequence == 0 or not tickets:
        return 0  # declaring: the first broadcast is about to reach everyone
    latest = _latest_update_row(session, incident)
    message = _said_in(latest)
    if latest is None or not message:
        return 0
    by_requester = _by_requester(tickets)
    at, label, told = utcnow(), incident_label(incident), 0
    for requester_id, theirs in sorted(by_requester.items()):
        key = _update_key(incident, sequence, f"user:{requester_id}")
        if session.scalars(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)).first():
            continue
        numbers = ", ".join(t.number or str(t.id) for t in theirs)
        text = (
            f"[{label}] {incident.title}: {numbers} is part of this known major incident; "
            f"updates will reach you here. Latest update: {message}"
        )
        _tell_requester(
            session,
            incident,
            requester_id,
            theirs,
            kind=latest.kind,
            sequence=sequence,
            text=text,
            message=message,
            at=at,
        )
        _record_broadcast(incident, theirs, actor=actor, message=message, sequence=sequence, at=at)
        told += 1
    session.flush()
    return told


def _update_key(incident: MajorIncident, sequence: int, audience: str) -> str:
    """The dedupe key of one update's row for one audience ("queue", "user:<id>")."""
    return f"incident:{incident.id}:update:{sequence}:{audience}"


def _by_requester(tickets: Sequence[Ticket]) -> dict[int, list[Ticket]]:
    """Tickets grouped by who asked: a person with two linked tickets hears once."""
    by_requester: dict[int, list[Ticket]] = {}
    for ticket in tickets:
        if ticket.requester_id is not None:
            by_requester.setdefault(ticket.requester_id, []).append(ticket)
    return by_requester


def _tell_requester(
    session: Session,
    incident: MajorIncident,
    requester_id: int,
    theirs: Sequence[Ticket],
    *,
    kind: str,
    sequence: int,
    text: str,
    message: str,
    at: datetime,
) -> None:
    """`text` (which says `message`) in one outbox row for one person about all their linked
    tickets, keyed by update: a retry, or a second path to the same person, posts once."""
    requester = session.get(User, requester_id)
    assert requester is not None  # FK guarantees it
    notify(
        session,
        theirs[0],
        audience=REQUESTER,
        recipient=requester.external_id,
        kind=kind,
        at=at,
        dedupe_key=_update_key(incident, sequence, f"user:{requester_id}"),
        text=text,
        extra={
            "incident_id": incident.id,
            "incident": incident_label(incident),
            "incident_status": incident.status.value,
            "message": message,
            "tickets": [t.number for t in theirs],
            "update": sequence,
        },
    )


def _record_broadcast(
    incident: MajorIncident,
    tickets: Sequence[Ticket],
    *,
    actor: User | None,
    message: str,
    sequence: int,
    at: datetime,
) -> None:
    """The update in each ticket's audit trail, as a message the requester was sent."""
    for ticket in tickets:
        record(
            ticket,
            "message",
            actor=actor,
            at=at,
            text=f"[{incident_label(incident)}] {message}",
            data={"incident": incident.id, "update": sequence, "broadcast": True},
        )


def _resolved_note(tickets: Sequence[Ticket], resolved: Collection[int]) -> str:
    numbers = [t.number or str(t.id) for t in tickets if t.id in resolved]
    if not numbers:
        return ""
    verb = "is" if len(numbers) == 1 else "are"
    return f" {', '.join(numbers)} {verb} resolved with it; if it is not fixed for you, reply here to reopen."


def _linked_tickets(session: Session, incident: MajorIncident) -> list[Ticket]:
    return list(
        session.scalars(
            select(Ticket)
            .join(IncidentTicket, IncidentTicket.ticket_id == Ticket.id)
            .where(IncidentTicket.incident_id == incident.id)
            .order_by(Ticket.id)
        )
    )


def post_update(
    session: Session,
    incident: MajorIncident,
    *,
    actor: User,
    message: str,
    kind: str = "incident_update",
    resolved: Collection[int] = (),
) -> int:
    """Send one status message to every requester of the linked tickets; returns how many people.
    `resolved`: ids of tickets resolved with this message, which it says (and how to reopen)."""
    _require_l3(actor)
    text = _message(message)
    if incident.status is IncidentStatus.RESOLVED and kind != "incident_resolved":
        raise InvalidState(f"{incident_label(incident)} is resolved; declare a new incident instead")
    incident.updates_sent += 1
    sequence = incident.updates_sent
    tickets = _linked_tickets(session, incident)
    by_requester = _by_requester(tickets)
    at = utcnow()
    for requester_id, theirs in by_requester.items():
        said = f"[{incident_label(incident)}] {incident.title}: {text}" + _resolved_note(theirs, resolved)
        _tell_requester(
            session,
            incident,
            requester_id,
            theirs,
            kind=kind,
            sequence=sequence,
            text=said,
            message=text,
            at=at,
        )
    _record_broadcast(incident, tickets, actor=actor, message=text, sequence=sequence, at=at)
    session.add(
        OutboxMessage(
            audience="tier_queue",
            recipient=Tier.L3.value,
            kind=kind,
            payload={
                "text": f"[{incident_label(incident)}] {incident.title}: {text} "
                f"(sent to {len(by_requester)} requester(s))",
                "incident_id": incident.id,
                "incident": incident_label(incident),
                "title": incident.title,
                "status": incident.status.value,
                "message": text,
                "requesters": len(by_requester),
                "tickets": [t.number for t in tickets],
                "update": sequence,
            },
            dedupe_key=_update_key(incident, sequence, "queue"),
        )
    )
    session.flush()
    return len(by_requester)


def resolve_incident(
    session: Session, incident_id: int, *, actor: User, message: str, routing: Routing
) -> tuple[MajorIncident, list[Ticket]]:
    """Close the incident, resolve its open tickets with its resolution and tell every affected
    requester once; returns the incident and the tickets resolved now.

    The outage's tickets are settled with it (their SLA timers would otherwise go on to breach and
    escalate tickets whose problem is gone); a requester for whom it is not fixed replies in the
    ticket's thread, which reopens that ticket for its tier.
    """
    _require_l3(actor)
    text = _message(message)
    incident = get_incident(session, incident_id)
    if incident.status is IncidentStatus.RESOLVED:
        raise InvalidState(f"{incident_label(incident)} is already resolved")
    incident.status = IncidentStatus.RESOLVED
    incident.resolved_at = utcnow()
    incident.resolved_by_id = actor.id
    incident.resolution = text
    label = incident_label(incident)
    fix = f"[{label}] {text}"
    settled = [
        ticket
        for ticket in _linked_tickets(session, incident)
        if resolve_with_incident(
            session, ticket, actor=actor, resolution=fix, incident=label, routing=routing
        )
    ]
    session.flush()
    resolved = {t.id for t in settled}
    post_update(session, incident, actor=actor, message=text, kind="incident_resolved", resolved=resolved)
    return incident, settled


def dismiss_alert(session: Session, alert_id: int, *, actor: User) -> SpikeAlert:
    _require_l3(actor)
    alert = session.get(SpikeAlert, alert_id)
    if alert is None:
        raise NotFound(f"no spike alert {alert_id}")
    if alert.status is not AlertStatus.OPEN:
        raise InvalidState(f"alert {alert_id} is already {alert.status.value}")
    alert.status = AlertStatus.DISMISSED
    session.flush()
    return alert


def list_incidents(session: Session, *, active_only: bool = False) -> list[MajorIncident]:
    query = select(MajorIncident).order_by(MajorIncident.id.desc())
    if active_only:
        query = query.where(MajorIncident.status == IncidentStatus.ACTIVE)
    return list(session.scalars(query))
