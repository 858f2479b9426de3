"""Spike detection: a burst of similar tickets raises exactly one alert to L3, once."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from itertools import count

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.learning.errors import InvalidInput
from bot.learning.incidents import declare_incident, link_tickets, resolve_incident
from bot.learning.spikes import cjk_dominant, detect_spikes, sweep_spikes
from bot.workflow.routing import Routing
from models import (
    IncidentTicket,
    MajorIncident,
    OutboxMessage,
    Role,
    SpikeAlert,
    SpikeAlertTicket,
    Ticket,
    TicketEmbedding,
    Tier,
    User,
)
from tests.conftest import EXAMPLES, TestDatabase
from tests.learning import factories as make
from tests.learning.fakes import BagOfWordsEncoder

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
BURST = [  # the fake encoder compares words, so the burst shares most of them
    "VPN disconnects every few minutes at home",
    "VPN disconnects every few minutes from home office",
    "VPN disconnects every few minutes since this morning",
    "Home VPN disconnects every few minutes",
    "VPN disconnects every few minutes, please help",
    "VPN disconnects every few minutes on wifi",
]
BACKGROUND = [
    "Printer on floor 2 jammed",
    "Need access to the finance share",
    "Excel crashes when opening workbook",
    "New laptop for starter next week",
    "Outlook not syncing mail",
]


_batches = count()


def _alerts(session: Session) -> int:
    return int(session.scalar(select(func.count(SpikeAlert.id))) or 0)


def _l3_messages(session: Session) -> list[OutboxMessage]:
    return list(
        session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "spike_alert", OutboxMessage.recipient == "L3")
        )
    )


def _seed(session: Session, subjects: list[str], *, start: datetime, step: timedelta) -> list[int]:
    """One ticket per subject, each from a different person (a spike is many people)."""
    tag = f"{start.timestamp()}-{len(subjects)}-{next(_batches)}"
    return [
        make.ticket(session, s, at=start + i * step, requester=make.user(session, f"U-{tag}-{i}")).id
        for i, s in enumerate(subjects)
    ]


def test_burst_raises_exactly_one_alert_and_one_l3_message(session: Session) -> None:
    enc = BagOfWordsEncoder()
    burst = _seed(session, BURST, start=NOW - timedelta(minutes=40), step=timedelta(minutes=5))
    _seed(session, BACKGROUND, start=NOW - timedelta(minutes=50), step=timedelta(minutes=7))
    report = detect_spikes(
        session, now=NOW, encoder=enc, window=timedelta(hours=1), min_tickets=5, similarity=0.5
    )
    session.commit()
    assert len(report.raised) == 1
    assert _alerts(session) == 1
    alert = session.get(SpikeAlert, report.raised[0])
    assert alert is not None
    assert sorted(m.ticket_id for m in alert.members) == sorted(burst)
    messages = _l3_messages(session)
    assert len(messages) == 1
    assert messages[0].payload["ticket_count"] == len(BURST)
    assert "VPN" in messages[0].payload["text"]

    again = detect_spikes(session, now=NOW + timedelta(minutes=1), encoder=enc, min_tickets=5, similarity=0.5)
    session.commit()
    assert again.quiet
    assert _alerts(session) == 1
    assert len(_l3_messages(session)) == 1


def test_later_similar_ticket_joins_the_alert_instead_of_raising_another(session: Session) -> None:
    enc = BagOfWordsEncoder()
    _seed(session, BURST, start=NOW - timedelta(minutes=30), step=timedelta(minutes=2))
    first = detect_spikes(session, now=NOW, encoder=enc, min_tickets=5, similarity=0.5)
    late = _seed(
        session, ["VPN disconnects every few minutes at home"] * 6, start=NOW, step=timedelta(minutes=1)
    )
    later = detect_spikes(
        session, now=NOW + timedelta(minutes=10), encoder=enc, min_tickets=5, similarity=0.5
    )
    session.commit()
    assert later.raised == ()
    assert later.grown == {first.raised[0]: len(late)}
    assert _alerts(session) == 1
    assert len(_l3_messages(session)) == 1
    alert = session.get(SpikeAlert, first.raised[0])
    assert alert is not None and alert.ticket_count == len(BURST) + len(late)


def test_no_alert_below_the_threshold_count_or_outside_the_window(session: Session) -> None:
    enc = BagOfWordsEncoder()
    _seed(session, BURST[:4], start=NOW - timedelta(minutes=20), step=timedelta(minutes=1))
    _seed(session, BURST, start=NOW - timedelta(hours=5), step=timedelta(minutes=1))  # old news
    report = detect_spikes(
        session, now=NOW, encoder=enc, window=timedelta(hours=1), min_tickets=5, similarity=0.5
    )
    assert report.quiet
    assert _alerts(session) == 0
    assert session.scalar(select(func.count()).select_from(SpikeAlertTicket)) == 0


def test_sweeps_do_not_re_embed_cached_tickets(session: Session) -> None:
    enc = BagOfWordsEncoder()
    _seed(session, BACKGROUND, start=NOW - timedelta(minutes=20), step=timedelta(minutes=1))
    detect_spikes(session, now=NOW, encoder=enc, min_tickets=5, similarity=0.5)
    embedded = enc.texts_encoded
    detect_spikes(session, now=NOW + timedelta(minutes=1), encoder=enc, min_tickets=5, similarity=0.5)
    assert embedded == len(BACKGROUND)
    assert enc.texts_encoded == embedded


def test_a_spike_needs_at_least_two_tickets(session: Session) -> None:
    with pytest.raises(InvalidInput, match="at least 2"):
        detect_spikes(session, now=NOW, encoder=BagOfWordsEncoder(), min_tickets=1)


@pytest.mark.slow
def test_paraphrased_outage_in_realistic_traffic_raises_exactly_one_alert(
    db: TestDatabase, session: Session
) -> None:
    """100 tickets of the demo history arriving at a busy desk's pace (10 an hour), with six
    differently worded reports of one Outlook outage in the middle: one alert, with exactly those."""
    if db.backend != "sqlite":
        pytest.skip("the real-model replay runs once; both backends run the fake-encoder spike tests")
    with (EXAMPLES / "tickets.csv").open(newline="", encoding="utf-8") as fh:
        history = [row for _, row in zip(range(100), csv.DictReader(fh), strict=False)]
    start = NOW - timedelta(hours=10)
    requester = make.user(session, "U-busy")
    for i, row in enumerate(history):
        make.ticket(
            session,
            row["subject"],
            body=row["body"],
            at=start + i * timedelta(minutes=6),
            category=row["category"],
            requester=requester,
        )
    outage = [
        "Outlook says it cannot connect to the server",
        "My email won't load, Outlook is disconnected",
        "Outlook stuck on 'trying to connect' since this morning",
        "Can't send or receive email, Outlook offline",
        "Mail not coming in, Outlook shows disconnected",
        "Outlook keeps saying disconnected, no new emails",
    ]
    burst = _seed(session, outage, start=start + timedelta(hours=5), step=timedelta(minutes=5))
    raised: list[int] = []
    now = start
    while now <= NOW:  # the worker's sweeps, every 15 minutes
        raised += detect_spikes(session, now=now, encoder="minilm").raised
        now += timedelta(minutes=15)
    assert len(raised) == 1
    alert = session.get(SpikeAlert, raised[0])
    assert alert is not None
    members = {m.ticket_id: m.ticket for m in alert.members}
    assert set(burst) <= set(members)
    # A real ticket with the same symptom arriving during the outage belongs with it ("Outlook app
    # stopped syncing email"); nothing from another category may join.
    assert {t.category for i, t in members.items() if i not in burst} <= {"email"}
    assert len(members) <= len(burst) + 2


def test_worker_sweep_commits_one_alert_and_a_second_sweep_is_quiet(db: TestDatabase) -> None:
    enc = BagOfWordsEncoder()
    with db.sessions() as session:
        _seed(session, BURST, start=NOW - timedelta(minutes=30), step=timedelta(minutes=2))
        session.commit()
    first = sweep_spikes(db.sessions, now=NOW, encoder=enc, min_tickets=5, similarity=0.5)
    second = sweep_spikes(db.sessions, now=NOW, encoder=enc, min_tickets=5, similarity=0.5)
    assert len(first.raised) == 1 and second.quiet
    with db.sessions() as session:
        assert _alerts(session) == 1
        assert len(_l3_messages(session)) == 1


def test_worker_sweep_warms_the_embedding_cache_of_older_tickets(db: TestDatabase) -> None:
    enc = BagOfWordsEncoder()
    with db.sessions() as session:
        _seed(session, BACKGROUND, start=NOW - timedelta(days=30), step=timedelta(hours=1))
        session.commit()
    sweep_spikes(db.sessions, now=NOW, encoder=enc, warm=3)
    sweep_spikes(db.sessions, now=NOW, encoder=enc, warm=3)
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(TicketEmbedding)) == len(BACKGROUND)


def _declare(session: Session, alert_id: int) -> tuple[MajorIncident, User]:
    l3 = make.user(session, f"U-l3-{alert_id}", role=Role.ENGINEER, tiers=(Tier.L3,))
    incident = declare_incident(session, actor=l3, title="VPN outage", message="On it.", alert_id=alert_id)
    return incident, l3


def test_a_ticket_l3_linked_by_hand_joins_the_alert_without_a_second_link(session: Session) -> None:
    enc = BagOfWordsEncoder()
    _seed(session, BURST, start=NOW - timedelta(minutes=30), step=timedelta(minutes=2))
    first = detect_spikes(session, now=NOW, encoder=enc, min_tickets=5, similarity=0.5)
    incident, l3 = _declare(session, first.raised[0])
    session.commit()
    [late] = _seed(session, ["VPN disconnects every few minutes at home"], start=NOW, step=timedelta(0))
    ticket = session.get(Ticket, late)
    assert ticket is not None
    link_tickets(session, incident, [ticket], actor=l3)  # `incidents link`
    session.commit()

    later = detect_spikes(session, now=NOW + timedelta(minutes=5), encoder=enc, min_tickets=5, similarity=0.5)
    session.commit()
    assert later.grown == {first.raised[0]: 1}
    links = session.scalars(select(IncidentTicket).where(IncidentTicket.ticket_id == late)).all()
    assert [link.incident_id for link in links] == [incident.id]


def test_the_same_failure_after_its_incident_is_resolved_raises_a_new_alert(session: Session) -> None:
    enc = BagOfWordsEncoder()
    _seed(session, BURST, start=NOW - timedelta(minutes=30), step=timedelta(minutes=2))
    first = detect_spikes(session, now=NOW, encoder=enc, min_tickets=5, similarity=0.5)
    incident, l3 = _declare(session, first.raised[0])
    resolve_incident(
        session, incident.id, actor=l3, message="Fixed the concentrator.", routing=Routing.default()
    )
    session.commit()

    _seed(session, BURST, start=NOW + timedelta(minutes=5), step=timedelta(minutes=1))
    again = detect_spikes(
        session, now=NOW + timedelta(minutes=15), encoder=enc, min_tickets=5, similarity=0.5
    )
    session.commit()
    assert len(again.raised) == 1 and again.raised[0] != first.raised[0] and again.grown == {}
    assert len(_l3_messages(session)) == 2  # L3 hears about the repeat


def test_one_person_filing_many_tickets_is_not_a_spike(session: Session) -> None:
    enc = BagOfWordsEncoder()
    person = make.user(session, "U-impatient")
    for i, subject in enumerate(BURST):
        make.ticket(session, subject, at=NOW - timedelta(minutes=30 - i), requester=person)
    report = detect_spikes(session, now=NOW, encoder=enc, min_tickets=5, similarity=0.5)
    assert report.quiet and _alerts(session) == 0


class _EnglishOnly(BagOfWordsEncoder):
    """Like MiniLM on Chinese: every CJK text gets (nearly) the same vector."""

    key = "fake-english-only"

    def _encode(self, texts: list[str]) -> np.ndarray:
        out = super()._encode(texts)
        for i, text in enumerate(texts):
            if cjk_dominant(text):
                out[i] = 0.0
                out[i, 0] = 1.0
        return out


class _Multilingual(_EnglishOnly):
    key = "fake-multilingual"
    multilingual = True


def test_unrelated_chinese_tickets_are_no_spike_for_an_english_only_encoder(session: Session) -> None:
    chinese = [
        "打印机卡纸了",
        "无法访问财务共享盘",
        "Excel 打开文件就崩溃",
        "新员工下周需要电脑",
        "邮箱收不到邮件",
    ]
    _seed(session, chinese, start=NOW - timedelta(minutes=20), step=timedelta(minutes=2))
    assert detect_spikes(session, now=NOW, encoder=_EnglishOnly(), min_tickets=5, similarity=0.5).quiet
    # A multilingual encoder's vectors are trusted (this fake one calls them all alike).
    assert detect_spikes(session, now=NOW, encoder=_Multilingual(), min_tickets=5, similarity=0.5).raised


def test_a_ticket_that_joins_a_declared_incident_tells_its_requester_once(session: Session) -> None:
    enc = BagOfWordsEncoder()
    _seed(session, BURST, start=NOW - timedelta(minutes=30), step=timedelta(minutes=2))
    first = detect_spikes(session, now=NOW, encoder=enc, min_tickets=5, similarity=0.5)
    incident, _ = _declare(session, first.raised[0])
    session.commit()
    [late] = _seed(session, ["VPN disconnects every few minutes at home"], start=NOW, step=timedelta(0))
    for minutes in (1, 2):  # two worker passes
        detect_spikes(
            session, now=NOW + timedelta(minutes=minutes), encoder=enc, min_tickets=5, similarity=0.5
        )
        session.commit()
    ticket = session.get(Ticket, late)
    assert ticket is not None and ticket.requester is not None
    told = session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.audience == "requester",
            OutboxMessage.recipient == ticket.requester.external_id,
            OutboxMessage.kind.like("incident%"),
        )
    ).all()
    assert [m.payload["incident"] for m in told] == [f"MI-{incident.id}"]
    assert "On it." in told[0].payload["text"] and ticket.number in told[0].payload["text"]
