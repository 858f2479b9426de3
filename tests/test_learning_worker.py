"""`tierline worker` runs spike detection each pass: a burst raises one L3 alert, delivered that pass."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.cli.worker import spike_sweep
from bot.settings import Settings
from bot.workflow.routing import Routing
from bot.workflow.worker import run_once
from models import OutboxMessage, SpikeAlert, utcnow
from models.db import transaction
from tests.conftest import TestDatabase
from tests.learning import factories as make
from tests.learning.fakes import BagOfWordsEncoder

BURST = [
    "VPN disconnects every few minutes at home",
    "VPN disconnects every few minutes from home office",
    "VPN disconnects every few minutes since this morning",
    "Home VPN disconnects every few minutes",
    "VPN disconnects every few minutes, please help",
    "VPN disconnects every few minutes on wifi",
]


class Recorder:
    """A notifier that keeps what it was handed."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    def deliver(self, message: OutboxMessage) -> None:
        self.sent.append((message.kind, message.recipient, dict(message.payload or {})))


def _settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"spike_window_minutes": 60, "spike_min_tickets": 5, "spike_similarity": 0.5}
    return Settings(**(values | overrides))


def _burst(db: TestDatabase, now: datetime, subjects: list[str] = BURST) -> None:
    with transaction(db.sessions) as session:
        people = [make.user(session, f"U-burst-{len(subjects)}-{i}") for i in range(len(subjects))]
        for i, (subject, person) in enumerate(zip(subjects, people, strict=True)):
            make.ticket(session, subject, at=now - timedelta(minutes=30 - 5 * i), requester=person)
        make.ticket(session, "Printer on floor 2 jammed", at=now - timedelta(minutes=10), requester=people[0])


def test_a_burst_raises_exactly_one_l3_alert_delivered_in_the_same_pass(db: TestDatabase) -> None:
    now = utcnow()
    _burst(db, now)
    inbox = Recorder()
    sweeps = [spike_sweep(_settings(), db.sessions, encoder=BagOfWordsEncoder())]
    first = run_once(
        db.sessions, routing=Routing.default(), notifier=inbox, worker_id="w1", extra_sweeps=sweeps
    )
    second = run_once(
        db.sessions, routing=Routing.default(), notifier=inbox, worker_id="w1", extra_sweeps=sweeps
    )
    alerts = [sent for sent in inbox.sent if sent[0] == "spike_alert"]
    assert len(alerts) == 1
    _, recipient, payload = alerts[0]
    assert recipient == "L3" and payload["ticket_count"] == len(BURST)
    assert "1 spike alert(s) raised" in first.summary()
    assert second.extras == []
    with transaction(db.sessions) as session:
        assert len(session.scalars(select(SpikeAlert)).all()) == 1


def test_thresholds_come_from_settings(db: TestDatabase) -> None:
    now = utcnow()
    _burst(db, now)
    inbox = Recorder()
    sweeps = [
        spike_sweep(_settings(spike_min_tickets=len(BURST) + 1), db.sessions, encoder=BagOfWordsEncoder())
    ]
    run_once(db.sessions, routing=Routing.default(), notifier=inbox, worker_id="w", extra_sweeps=sweeps)
    assert [s for s in inbox.sent if s[0] == "spike_alert"] == []  # one ticket short of a spike


def test_a_failing_spike_sweep_is_logged_and_delivery_goes_on(
    db: TestDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    with transaction(db.sessions) as session:
        session.add(
            OutboxMessage(audience="tier_queue", recipient="L1", kind="sla_warning", payload={"text": "x"})
        )

    def broken(_now: datetime) -> str | None:
        raise RuntimeError("encoder exploded")

    inbox = Recorder()
    with caplog.at_level(logging.ERROR, logger="bot.workflow.worker"):
        report = run_once(
            db.sessions,
            routing=Routing.default(),
            notifier=inbox,
            worker_id="w",
            extra_sweeps=[broken],
        )
    assert report.delivered == 1 and [s[0] for s in inbox.sent] == ["sla_warning"]
    assert "encoder exploded" in caplog.text
