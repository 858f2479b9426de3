"""`tierline report`: the figures equal independent SQL counts over a database seeded from a
realistic ticket history, and the HTML + PNG report is written."""

from __future__ import annotations

import json
import statistics
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from bot.learning.report import build_report, write_report
from models.base import UTCDateTime
from tests.conftest import EXAMPLES, TestDatabase
from tests.learning import factories as make
from tests.learning.fakes import BagOfWordsEncoder
from tests.learning.seed import FIXTURE_CSV, Seeded, add_conversation, seed_from_csv


def _history_csv() -> Path:
    """The demo history when it exists (the product's own examples), else the fixture here."""
    demo = EXAMPLES / "tickets.csv"
    return demo if demo.exists() else FIXTURE_CSV


def _sql(
    session: Session, query: str, *, dates: tuple[str, ...] = (), **params: object
) -> list[tuple[Any, ...]]:
    """Plain SQL; `dates` names result columns to read back as UTC datetimes."""
    stmt = text(query)
    typed = [bindparam(name, type_=UTCDateTime()) for name in ("s", "u") if f":{name}" in query]
    if typed:
        stmt = stmt.bindparams(*typed)
    if dates:
        stmt = stmt.columns(**{d: UTCDateTime() for d in dates})  # type: ignore[assignment]
    return [tuple(r) for r in session.execute(stmt, params)]


def _period(data: Seeded) -> tuple[datetime, datetime]:
    """The last 60 days of the history: daily buckets, with plenty of tickets in every figure."""
    until = data.end + timedelta(minutes=1)
    return until - timedelta(days=60), until


@pytest.fixture
def seeded(session: Session) -> Seeded:
    data = seed_from_csv(session, _history_csv(), limit=2_000)
    person = make.user(session, "U-conv")
    outcomes = [("solved", False), ("not_solved", True), (None, False), ("solved", False), (None, True)]
    for i in range(25):
        feedback, handoff = outcomes[i % len(outcomes)]
        at = _period(data)[0] + timedelta(days=i % 30, hours=3)
        add_conversation(
            session,
            person,
            key=f"c{i}",
            question=f"question {i % 4} about meeting rooms",
            at=at,
            answer_article=None if handoff and feedback is None else "kb-a",
            feedback=feedback,
            handoff=handoff,
        )
    session.commit()
    return data


def test_report_figures_equal_independent_sql_counts(
    session: Session, db: TestDatabase, seeded: Seeded
) -> None:
    since, until = _period(seeded)
    report = build_report(session, since=since, until=until, encoder=BagOfWordsEncoder())
    fig = report.figures
    window = "created_at >= :s AND created_at < :u"
    p = {"s": since, "u": until}

    assert fig.tickets == _sql(session, f"SELECT COUNT(*) FROM tickets WHERE {window}", **p)[0][0]
    assert fig.tickets > 20
    by_category = dict(
        _sql(session, f"SELECT category, COUNT(*) FROM tickets WHERE {window} GROUP BY category", **p)
    )
    assert dict(fig.by_category) == by_category
    by_tier = dict(_sql(session, f"SELECT tier, COUNT(*) FROM tickets WHERE {window} GROUP BY tier", **p))
    assert dict(fig.by_tier) == by_tier

    day = (
        "date(created_at)"
        if db.backend == "sqlite"
        else "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
    )
    per_day = _sql(
        session, f"SELECT {day}, category, COUNT(*) FROM tickets WHERE {window} GROUP BY 1, 2", **p
    )
    assert {(str(d), c): n for d, c, n in per_day} == {
        (d, c): n for d, counts in fig.volume_by_category.items() for c, n in counts.items()
    }

    rows = _sql(
        session,
        f"SELECT created_at, first_response_at FROM tickets WHERE {window} AND first_response_at IS NOT NULL",
        **p,
    )
    assert fig.first_response.count == len(rows)
    assert len(fig.first_response.hours) == len(rows)

    resolved = _sql(session, "SELECT COUNT(*) FROM tickets WHERE resolved_at >= :s AND resolved_at < :u", **p)
    assert fig.resolution.count == resolved[0][0] > 0

    met, decided = _sql(
        session,
        "SELECT SUM(CASE WHEN first_response_at IS NOT NULL AND first_response_at <= sla_response_due "
        "THEN 1 ELSE 0 END), COUNT(*) FROM tickets WHERE "
        f"{window} AND sla_response_due IS NOT NULL "
        "AND (first_response_at IS NOT NULL OR sla_response_due < :u)",
        **p,
    )[0]
    assert (fig.sla_response.met, fig.sla_response.decided) == (met, decided)
    assert 0 < fig.sla_response.met < fig.sla_response.decided

    for tier, t_met, t_decided in _sql(
        session,
        "SELECT tier, SUM(CASE WHEN resolved_at IS NOT NULL AND resolved_at <= sla_resolution_due "
        "THEN 1 ELSE 0 END), "
        f"COUNT(*) FROM tickets WHERE {window} AND sla_resolution_due IS NOT NULL "
        "AND (resolved_at IS NOT NULL OR sla_resolution_due < :u) GROUP BY tier",
        **p,
    ):
        att = fig.sla_resolution_by_tier[str(tier)]
        assert (att.met, att.decided) == (t_met, t_decided)

    scores = dict(
        _sql(
            session,
            "SELECT csat_score, COUNT(*) FROM tickets WHERE csat_score IS NOT NULL "
            "AND resolved_at >= :s AND resolved_at < :u GROUP BY csat_score",
            **p,
        )
    )
    assert dict(fig.csat_scores) == scores
    assert fig.csat_mean == pytest.approx(
        sum(int(k) * int(v) for k, v in scores.items()) / sum(scores.values())
    )

    conv_window = "created_at >= :s AND created_at < :u"
    total = _sql(session, f"SELECT COUNT(*) FROM conversations WHERE {conv_window}", **p)[0][0]
    solved = _sql(
        session, f"SELECT COUNT(*) FROM conversations WHERE {conv_window} AND state = 'SOLVED'", **p
    )[0][0]
    assert (fig.deflection.numerator, fig.deflection.denominator) == (solved, total)
    assert 0 < solved < total
    assert sum(t for t, _ in fig.deflection_by_bucket.values()) == total

    durations = [
        (r - c).total_seconds() / 3600
        for c, r in _sql(
            session,
            "SELECT created_at, resolved_at FROM tickets WHERE resolved_at >= :s AND resolved_at < :u",
            dates=("created_at", "resolved_at"),
            **p,
        )
    ]
    assert fig.resolution.median == pytest.approx(statistics.median(durations))


def test_report_writes_html_pngs_and_figures_json(session: Session, seeded: Seeded, tmp_path: Path) -> None:
    since, until = _period(seeded)
    report = build_report(session, since=since, until=until, encoder=BagOfWordsEncoder())
    index = write_report(report, tmp_path / "report")
    html = index.read_text(encoding="utf-8")
    pngs = sorted((tmp_path / "report").glob("*.png"))
    assert len(pngs) == 9
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f'src="{png.name}"' in html
    assert "Deflection rate" in html and "KB gaps" in html
    data = json.loads((tmp_path / "report" / "figures.json").read_text(encoding="utf-8"))
    assert data["tickets"] == report.figures.tickets
    assert data["kb_gaps"][0]["count"] == max(g.count for g in report.gaps)


def test_an_empty_period_still_renders_a_readable_report(session: Session, tmp_path: Path) -> None:
    since = datetime(2020, 1, 1, tzinfo=UTC)
    report = build_report(session, since=since, until=since + timedelta(days=7), encoder=BagOfWordsEncoder())
    index = write_report(report, tmp_path)
    assert "Tickets opened" in index.read_text(encoding="utf-8")
    assert report.figures.tickets == 0 and report.gaps == []


def test_more_categories_than_colours_are_still_told_apart() -> None:
    from bot.learning.charts import series_style

    styles = [series_style(i) for i in range(12)]  # the demo history has eleven categories
    assert len(set(styles)) == 12


def test_chinese_labels_are_drawn_with_a_cjk_font_when_one_is_installed(tmp_path: Path) -> None:
    import warnings

    from bot.learning import charts
    from bot.learning.health import KBGap

    if not charts.installed_cjk_fonts():
        pytest.skip("no CJK font on this machine (fonts-noto-cjk or fonts-wqy-zenhei install one)")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        charts.gaps_chart([KBGap(3, "打印机一直卡纸怎么办")], tmp_path / "gaps.png")
    assert not [w for w in caught if "missing from font" in str(w.message)]
