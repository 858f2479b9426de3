"""Spike detection: many similar tickets in a short window may be one major incident.

The worker calls `detect_spikes` on every sweep. Recent tickets that belong to no alert yet are
first offered to the alerts still open in the window (a growing spike stays one alert); the rest
are clustered, and each cluster of at least `min_tickets` becomes one alert plus one message to
the L3 queue. A ticket belongs to at most one alert (primary key), so calling it again, or from
two workers at once, never raises the same spike twice.

A cluster is a spike only when at least `min_tickets` different people filed it: one person
retrying five times is one problem, not an outage. An alert whose major incident is resolved no
longer collects tickets, so the same failure coming back raises a new alert to L3. Mostly-Chinese
(CJK) tickets are left out when the encoder is English-only: its vectors for them are all alike.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.learning.embeddings import greedy_clusters, ticket_vectors, unit, warm_embeddings
from bot.learning.errors import InvalidInput
from bot.learning.incidents import tell_newly_linked
from kb_index.encoders import Encoder, load_encoder
from models import (
    AlertStatus,
    IncidentStatus,
    IncidentTicket,
    MajorIncident,
    OutboxMessage,
    SpikeAlert,
    SpikeAlertTicket,
    Ticket,
    TicketEvent,
    Tier,
)
from models.db import transaction

# Defaults the lead can lift into Settings (TIERLINE_SPIKE_WINDOW / _MIN_TICKETS / _SIMILARITY).
DEFAULT_WINDOW = timedelta(hours=1)
DEFAULT_MIN_TICKETS = 5
# MiniLM: paraphrases of one outage score 0.63–0.83 pairwise, unrelated IT tickets below 0.40.
DEFAULT_SIMILARITY = 0.60
# Tickets imported from history are old news, never a spike.
IGNORED_SOURCES = ("import",)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")
_LETTER = re.compile(r"[^\W\d_]")


@dataclass(frozen=True)
class SpikeReport:
    """What one sweep did: alerts raised and tickets added to alerts already raised."""

    raised: tuple[int, ...]
    grown: dict[int, int]

    @property
    def quiet(self) -> bool:
        return not self.raised and not self.grown


def detect_spikes(
    session: Session,
    *,
    now: datetime,
    encoder: Encoder | str = "minilm",
    window: timedelta = DEFAULT_WINDOW,
    min_tickets: int = DEFAULT_MIN_TICKETS,
    similarity: float = DEFAULT_SIMILARITY,
) -> SpikeReport:
    """Raise one alert per new cluster of ≥ `min_tickets` similar tickets created within `window`."""
    if min_tickets < 2:
        raise InvalidInput("a spike needs at least 2 tickets (min_tickets)")
    enc = load_encoder(encoder) if isinstance(encoder, str) else encoder
    since = now - window
    alerted = select(SpikeAlertTicket.ticket_id)
    fresh = list(
        session.scalars(
            select(Ticket)
            .where(
                Ticket.created_at >= since,
                Ticket.created_at <= now,
                Ticket.source.not_in(IGNORED_SOURCES),
                Ticket.id.not_in(alerted),
            )
            .order_by(Ticket.created_at, Ticket.id)
        )
    )
    if not enc.multilingual:
        fresh = [t for t in fresh if not cjk_dominant(f"{t.subject} {t.body or ''}")]
    if not fresh:
        return SpikeReport((), {})
    vectors = ticket_vectors(session, enc, fresh)
    grown = _grow_open_alerts(session, fresh, vectors, since=since, encoder=enc, similarity=similarity)
    left = [i for i, t in enumerate(fresh) if t.id not in grown]
    raised: list[int] = []
    for cluster in greedy_clusters(vectors[left], similarity):
        members = [fresh[left[j]] for j in cluster.members]
        if _people(members) < min_tickets:
            continue  # may still become a spike as the window slides
        sims = vectors[[left[j] for j in cluster.members]] @ cluster.centroid
        alert = _raise_alert(session, members, sims, cluster.centroid, enc, similarity, window)
        raised.append(alert.id)
    counts = Counter(grown.values())
    return SpikeReport(tuple(raised), dict(counts))


def cjk_dominant(text: str) -> bool:
    """Most of the letters are Chinese, Japanese or Korean: an English-only encoder maps such
    texts to nearly the same vector, so any two would look like one spike."""
    letters = len(_LETTER.findall(text))
    return letters > 0 and len(_CJK.findall(text)) * 2 > letters


def _people(tickets: list[Ticket]) -> int:
    """How many different requesters filed `tickets` (a ticket without one counts as its own)."""
    return len({t.requester_id if t.requester_id is not None else f"ticket:{t.id}" for t in tickets})


def _grow_open_alerts(
    session: Session,
    fresh: list[Ticket],
    vectors: np.ndarray,
    *,
    since: datetime,
    encoder: Encoder,
    similarity: float,
) -> dict[int, int]:
    """Attach fresh tickets to live alerts they resemble; returns ticket id -> alert id."""
    alerts = list(
        session.scalars(
            select(SpikeAlert)
            .outerjoin(MajorIncident, MajorIncident.id == SpikeAlert.incident_id)
            .where(
                SpikeAlert.status.in_((AlertStatus.OPEN, AlertStatus.DECLARED)),
                SpikeAlert.last_ticket_at >= since,
                SpikeAlert.encoder == encoder.key,
                # a resolved incident is over: the same failure again is news for L3
                or_(SpikeAlert.incident_id.is_(None), MajorIncident.status != IncidentStatus.RESOLVED),
            )
            .order_by(SpikeAlert.id)
        )
    )
    if not alerts:
        return {}
    # Tickets L3 already linked by hand (`incidents link`) stay linked once, not twice.
    linked = set(
        session.execute(
            select(IncidentTicket.incident_id, IncidentTicket.ticket_id).where(
                IncidentTicket.ticket_id.in_([t.id for t in fresh])
            )
        ).tuples()
    )
    centroids = np.stack([np.frombuffer(a.centroid, dtype=np.float32) for a in alerts])
    joined: dict[int, int] = {}
    into_incident: dict[int, list[Ticket]] = {}
    for ticket, vector in zip(fresh, vectors, strict=True):
        sims = centroids @ vector
        best = int(np.argmax(sims))
        if float(sims[best]) < similarity:
            continue
        alert = alerts[best]
        alert.members.append(SpikeAlertTicket(ticket_id=ticket.id, similarity=float(sims[best])))
        n = alert.ticket_count
        centroid = unit(centroids[best] * n + vector)
        centroids[best] = centroid
        alert.centroid = centroid.tobytes()
        alert.ticket_count = n + 1
        alert.last_ticket_at = max(alert.last_ticket_at, ticket.created_at)
        if alert.incident_id is not None and (alert.incident_id, ticket.id) not in linked:
            session.add(IncidentTicket(incident_id=alert.incident_id, ticket_id=ticket.id))
            session.add(
                TicketEvent(
                    ticket_id=ticket.id,
                    kind="linked",
                    internal=True,
                    text=f"Linked to major incident MI-{alert.incident_id} (similar to its tickets)",
                    data={"incident": alert.incident_id, "alert": alert.id},
                )
            )
            into_incident.setdefault(alert.incident_id, []).append(ticket)
        joined[ticket.id] = alert.id
    session.flush()
    for incident_id, tickets in into_incident.items():
        incident = session.get(MajorIncident, incident_id)
        if incident is not None:
            tell_newly_linked(session, incident, tickets, actor=None)
    return joined


def _raise_alert(
    session: Session,
    members: list[Ticket],
    sims: np.ndarray,
    centroid: np.ndarray,
    encoder: Encoder,
    similarity: float,
    window: timedelta,
) -> SpikeAlert:
    central = members[int(np.argmax(sims))]
    category, _ = Counter(t.category for t in members).most_common(1)[0]
    alert = SpikeAlert(
        summary=central.subject[:500],
        category=category,
        encoder=encoder.key,
        similarity_threshold=similarity,
        window_seconds=window.total_seconds(),
        first_ticket_at=min(t.created_at for t in members),
        last_ticket_at=max(t.created_at for t in members),
        ticket_count=len(members),
        centroid=centroid.astype(np.float32).tobytes(),
    )
    alert.members = [
        SpikeAlertTicket(ticket_id=t.id, similarity=float(s)) for t, s in zip(members, sims, strict=True)
    ]
    session.add(alert)
    session.flush()
    session.add(
        OutboxMessage(
            audience="tier_queue",
            recipient=Tier.L3.value,
            kind="spike_alert",
            payload=alert_payload(alert, members),
            dedupe_key=f"spike_alert:{alert.id}",
        )
    )
    session.flush()
    return alert


def alert_payload(alert: SpikeAlert, members: list[Ticket]) -> dict[str, Any]:
    """What the L3 card shows: the pattern, how many and how fast, and the tickets themselves."""
    minutes = max(1, round(alert.window_seconds / 60))
    return {
        "alert_id": alert.id,
        "summary": alert.summary,
        "category": alert.category,
        "ticket_count": alert.ticket_count,
        "window_minutes": minutes,
        "first_ticket_at": alert.first_ticket_at.isoformat(),
        "last_ticket_at": alert.last_ticket_at.isoformat(),
        "text": (
            f"Possible major incident: {alert.ticket_count} similar tickets within {minutes} min "
            f"({alert.category}): “{alert.summary}”. Declare a major incident to link them and "
            "update every requester at once."
        ),
        "tickets": [
            {"number": t.number, "subject": t.subject, "tier": t.tier.value, "priority": t.priority}
            for t in members
        ],
    }


def open_alerts(session: Session) -> list[SpikeAlert]:
    return list(
        session.scalars(
            select(SpikeAlert).where(SpikeAlert.status == AlertStatus.OPEN).order_by(SpikeAlert.id.desc())
        )
    )


def sweep_spikes(
    sessions: sessionmaker[Session],
    *,
    now: datetime,
    encoder: Encoder | str = "minilm",
    window: timedelta = DEFAULT_WINDOW,
    min_tickets: int = DEFAULT_MIN_TICKETS,
    similarity: float = DEFAULT_SIMILARITY,
    warm: int = 64,
) -> SpikeReport:
    """One worker-sweep step in its own transactions: the line to add to the worker loop.

    Detects spikes, then embeds up to `warm` older tickets that have no vector yet (so the
    similar-tickets card stays fast). When another worker raced us to the same tickets, the
    membership primary key makes our commit fail; that is the idempotency guarantee working, so
    it reports a quiet sweep. Any other integrity error is a bug and propagates.
    """
    enc = load_encoder(encoder) if isinstance(encoder, str) else encoder
    try:
        with transaction(sessions) as session:
            report = detect_spikes(
                session, now=now, encoder=enc, window=window, min_tickets=min_tickets, similarity=similarity
            )
    except IntegrityError as exc:
        if not _lost_race(exc, "spike_alert_tickets"):
            raise
        report = SpikeReport((), {})
    if warm > 0:
        try:
            with transaction(sessions) as session:
                warm_embeddings(session, enc, limit=warm)
        except IntegrityError as exc:
            if not _lost_race(exc, "ticket_embeddings"):
                raise
            # another worker embedded the same tickets first: nothing is lost
    return report


def _lost_race(exc: IntegrityError, table: str) -> bool:
    """The error is a duplicate key in `table`, i.e. another worker wrote the same rows first.
    SQLite names the table ("UNIQUE constraint failed: spike_alert_tickets.ticket_id"),
    PostgreSQL the constraint ("pk_spike_alert_tickets")."""
    return table in str(exc.orig)
