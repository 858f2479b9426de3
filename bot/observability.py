"""Prometheus metrics for `/metrics`: what the assistant did, how fast, and what the desk owes.

Counters and histograms live in a registry of our own (not the process-global one) so tests and
several app instances in one process never collide. Front ends call `record_request` and
`record_outcome(kind, seconds)` around `Engine.handle`; `DatabaseCollector` reads the figures that
must survive a restart (SLA breaches, open tickets, spike alerts) from the database at scrape time.
Those are written by the worker, a different process from the `/metrics` server, so a counter
kept in memory would read 0 where it is scraped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from models import AlertStatus, SpikeAlert, Ticket, TicketEvent, TicketStatus, Tier

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Engine decisions take milliseconds (answer) to a second or two (cold model, handoff with triage).
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
OUTCOME_KINDS = ("answer", "clarify", "handoff", "notice")

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "tierline_requests", "Messages handled by the engine, by front end.", ["source"], registry=REGISTRY
)
OUTCOMES = Counter(
    "tierline_outcomes",
    "Engine decisions by kind (answer, clarify, handoff, notice).",
    ["kind"],
    registry=REGISTRY,
)
ANSWERS = Counter("tierline_answers", "KB answers given.", registry=REGISTRY)
ABSTENTIONS = Counter(
    "tierline_abstentions",
    "Times the assistant did not guess: asked a clarifying question.",
    registry=REGISTRY,
)
HANDOFFS = Counter(
    "tierline_handoffs", "Conversations handed to a human tier (tickets opened).", registry=REGISTRY
)
FEEDBACK = Counter(
    "tierline_feedback",
    "Answer feedback buttons pressed (solved, not_solved, human).",
    ["action"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "tierline_engine_latency_seconds",
    "Time to decide one message, by outcome kind.",
    ["kind"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)

for _kind in OUTCOME_KINDS:  # export zeros from the start: a missing series reads as "no data"
    OUTCOMES.labels(kind=_kind)
    LATENCY.labels(kind=_kind)


def record_request(source: str) -> None:
    REQUESTS.labels(source=source or "unknown").inc()


def record_outcome(kind: str, seconds: float) -> None:
    """One engine decision and how long it took (call with `Outcome.kind`)."""
    OUTCOMES.labels(kind=kind).inc()
    LATENCY.labels(kind=kind).observe(max(0.0, seconds))
    if kind == "answer":
        ANSWERS.inc()
    elif kind == "clarify":
        ABSTENTIONS.inc()
    elif kind == "handoff":
        HANDOFFS.inc()


def record_feedback(action: str) -> None:
    FEEDBACK.labels(action=action).inc()


class DatabaseCollector(Collector):
    """Figures read from the database at scrape time, so they are right after a restart and
    across several workers: SLA breaches so far, open tickets per tier, spike alerts. Every tier
    and clock is exported, zeros included: a missing series reads as "no data", not as 0."""

    def __init__(self, session_scope: Callable[[], AbstractContextManager[Session]]) -> None:
        self._session_scope = session_scope

    def collect(self) -> Iterator[Metric]:
        breaches = CounterMetricFamily(
            "tierline_sla_breaches",
            "Tickets whose SLA was breached (all time), by tier and clock.",
            labels=["tier", "clock"],
        )
        open_tickets = GaugeMetricFamily("tierline_open_tickets", "Open tickets by tier.", labels=["tier"])
        breach_events = CounterMetricFamily(
            "tierline_sla_breach_events",
            "SLA breaches recorded by the sweeper (a ticket can breach again after its timer is reset), "
            "by the ticket's tier and clock.",
            labels=["tier", "clock"],
        )
        open_tickets = GaugeMetricFamily("tierline_open_tickets", "Open tickets by tier.", labels=["tier"])
        alerts = GaugeMetricFamily("tierline_open_spike_alerts", "Spike alerts waiting for L3.")
        raised = CounterMetricFamily("tierline_spike_alerts_raised", "Spike alerts raised to L3.")
        closed = (TicketStatus.RESOLVED, TicketStatus.CLOSED)
        clocks = ("response", "resolution")
        with self._session_scope() as session:
            for clock, column in zip(
                clocks, (Ticket.sla_breached_at, Ticket.sla_resolution_breached_at), strict=True
            ):
                counts = _by_tier(session, column.is_not(None))
                for tier in Tier:
                    breaches.add_metric([tier.value, clock], float(counts.get(tier, 0)))
            events: dict[tuple[Tier, str], int] = {}
            for tier, data in session.execute(
                select(Ticket.tier, TicketEvent.data)
                .join(TicketEvent, TicketEvent.ticket_id == Ticket.id)
                .where(TicketEvent.kind == "sla_breach")
            ).tuples():
                key = (tier, str((data or {}).get("clock", "response")))
                events[key] = events.get(key, 0) + 1
            for tier in Tier:
                for clock in clocks:
                    breach_events.add_metric([tier.value, clock], float(events.get((tier, clock), 0)))
            open_counts = _by_tier(session, Ticket.status.not_in(closed))
            for tier in Tier:
                open_tickets.add_metric([tier.value], float(open_counts.get(tier, 0)))
            alerts.add_metric([], _count(session, SpikeAlert.status == AlertStatus.OPEN))
            raised.add_metric([], _count(session))
        yield breaches
        yield breach_events
        yield open_tickets
        yield alerts
        yield raised


def _by_tier(session: Session, condition: ColumnElement[bool]) -> dict[Tier, int]:
    # list() first: a Result has .keys(), so dict() would treat it as a mapping
    return dict(
        list(
            session.execute(
                select(Ticket.tier, func.count(Ticket.id)).where(condition).group_by(Ticket.tier)
            ).tuples()
        )
    )


def _count(session: Session, *conditions: ColumnElement[bool]) -> float:
    """Spike alerts matching `conditions` (all of them without)."""
    return float(session.scalar(select(func.count(SpikeAlert.id)).where(*conditions)) or 0)


def render(session_scope: Callable[[], AbstractContextManager[Session]] | None = None) -> bytes:
    """The `/metrics` body. With a session scope, database figures are included for this scrape."""
    if session_scope is None:
        return bytes(generate_latest(REGISTRY))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Forward(REGISTRY))
    registry.register(DatabaseCollector(session_scope))
    return bytes(generate_latest(registry))


class _Forward(Collector):
    """Exposes the process registry's metrics inside a per-scrape registry."""

    def __init__(self, source: CollectorRegistry) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        yield from self._source.collect()
