"""The admin App Home figures: the report's headline plus what needs attention now."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from bot.learning.dashboard import dashboard, dashboard_lines
from bot.learning.figures import compute_figures
from bot.learning.report import headline
from bot.learning.spikes import detect_spikes
from models import TicketStatus
from tests.learning import factories as make
from tests.learning.fakes import BagOfWordsEncoder
from tests.learning.seed import FIXTURE_CSV, seed_from_csv


def test_dashboard_matches_the_report_headline_and_counts_open_work(session: Session) -> None:
    seeded = seed_from_csv(session, FIXTURE_CSV)
    now = seeded.end + timedelta(hours=1)
    for i in range(5):
        make.ticket(
            session, "Badge reader at the main door rejects badges", at=now - timedelta(minutes=5 + i)
        )
    detect_spikes(session, now=now, encoder=BagOfWordsEncoder(), min_tickets=5, similarity=0.5)
    board = dashboard(session, now=now, days=30, encoder=BagOfWordsEncoder())
    assert board.headline == headline(compute_figures(session, since=now - timedelta(days=30), until=now))
    open_total = sum(1 for t in seeded.tickets if t.status is not TicketStatus.RESOLVED) + 5
    assert sum(board.open_by_tier.values()) == open_total
    assert [a["tickets"] for a in board.open_alerts] == [5]
    assert board.pending_drafts == 0
    assert board.to_json()["open_alerts"][0]["summary"].startswith("Badge reader")


def test_dashboard_lines_name_the_alert_and_the_pending_drafts(session: Session) -> None:
    seeded = seed_from_csv(session, FIXTURE_CSV)
    now = seeded.end + timedelta(hours=1)
    for i in range(5):
        make.ticket(session, "Badge reader at main door rejects badges", at=now - timedelta(minutes=5 + i))
    detect_spikes(session, now=now, encoder=BagOfWordsEncoder(), min_tickets=5, similarity=0.5)
    lines = dashboard_lines(session, now=now)
    assert any("Spike alert" in line and "5 similar tickets" in line for line in lines)
    assert any("KB drafts waiting for review: *0*" in line for line in lines)
    assert any("Deflection rate" in line for line in lines)
