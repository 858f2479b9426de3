"""/metrics: Prometheus text with the engine's counters, latency histogram and database figures."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session

from bot import observability as obs
from models import AlertStatus, SpikeAlert, TicketEvent, Tier
from tests.conftest import TestDatabase
from tests.learning import factories as make


def _samples(body: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _scope(db: TestDatabase) -> Callable[[], AbstractContextManager[Session]]:
    """A session scope for the collector, as `tierline serve` hands it one."""

    @contextmanager
    def scope() -> Iterator[Session]:
        with db.sessions() as s:
            yield s

    return scope


def test_outcomes_feed_counters_and_latency_histogram() -> None:
    before = _samples(obs.render())
    obs.record_request("slack")
    obs.record_outcome("answer", 0.12)
    obs.record_outcome("clarify", 0.03)
    obs.record_outcome("handoff", 1.7)
    after = _samples(obs.render())

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta("tierline_requests_total", source="slack") == 1
    assert delta("tierline_answers_total") == 1
    assert delta("tierline_abstentions_total") == 1
    assert delta("tierline_handoffs_total") == 1
    assert delta("tierline_engine_latency_seconds_count", kind="handoff") == 1
    assert delta("tierline_engine_latency_seconds_bucket", kind="handoff", le="2.5") == 1
    assert delta("tierline_engine_latency_seconds_bucket", kind="handoff", le="1.0") == 0


def test_database_figures_are_read_at_scrape_time(db: TestDatabase, session: Session) -> None:
    at = datetime(2026, 11, 20, tzinfo=UTC)
    make.ticket(session, "a", at=at, tier=Tier.L2).sla_breached_at = at
    make.ticket(session, "b", at=at, tier=Tier.L2)
    make.ticket(session, "c", at=at, tier=Tier.L1)
    session.commit()

    samples = _samples(obs.render(_scope(db)))
    assert samples[("tierline_sla_breaches_total", (("clock", "response"), ("tier", "L2")))] == 1
    assert samples[("tierline_open_tickets", (("tier", "L2"),))] == 2
    assert samples[("tierline_open_tickets", (("tier", "L1"),))] == 1
    assert samples[("tierline_open_spike_alerts", ())] == 0
    assert ("tierline_answers_total", ()) in samples  # the process counters ride along


def test_worker_figures_reach_the_server_through_the_database(db: TestDatabase, session: Session) -> None:
    """The worker raises alerts and records breaches in another process: `tierline serve` still
    counts them, and a tier with nothing open reads 0 rather than missing."""
    at = datetime(2026, 11, 20, tzinfo=UTC)
    late = make.ticket(session, "late", at=at, tier=Tier.L2)
    late.events.append(TicketEvent(kind="sla_breach", data={"clock": "resolution"}, at=at))
    for status in (AlertStatus.DISMISSED, AlertStatus.OPEN):
        session.add(
            SpikeAlert(
                status=status,
                summary="VPN down",
                encoder="fake",
                similarity_threshold=0.6,
                window_seconds=3600,
                first_ticket_at=at,
                last_ticket_at=at,
                centroid=b"",
            )
        )
    session.commit()

    samples = _samples(obs.render(_scope(db)))
    assert samples[("tierline_spike_alerts_raised_total", ())] == 2
    assert samples[("tierline_open_spike_alerts", ())] == 1
    assert samples[("tierline_sla_breach_events_total", (("clock", "resolution"), ("tier", "L2")))] == 1
    assert samples[("tierline_sla_breach_events_total", (("clock", "response"), ("tier", "L2")))] == 0
    assert [samples[("tierline_open_tickets", (("tier", t),))] for t in ("L1", "L2", "L3")] == [0, 1, 0]
