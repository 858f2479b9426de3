"""The learning commands as a user types them: one clear sentence on bad input, files on success."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from bot.cli.main import app
from bot.settings import get_settings
from models import KBArticle, KBArticleVersion, Role, Ticket, TicketStatus, Tier
from tests.conftest import TestDatabase
from tests.learning import factories as make
from tests.learning.seed import FIXTURE_CSV, add_conversation, seed_from_csv


@pytest.fixture
def cli(db: TestDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("DATABASE_URL", db.url)
    monkeypatch.setenv("TIERLINE_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_refusals_are_one_clear_sentence(cli: CliRunner, db: TestDatabase) -> None:
    with db.sessions() as s:
        make.user(s, "cli:rita")
        make.user(s, "cli:ada", role=Role.ADMIN)
        s.commit()
    cases = [
        (["kb", "drafts", "reject", "1", "--as", "cli:rita", "--reason", "x"], "only engineers and admins"),
        (["kb", "drafts", "reject", "999", "--as", "ada", "--reason", "x"], "no KB draft #999"),
        (
            ["kb", "drafts", "approve", "1", "--as", "ada", "--as-new", "--into", "x"],
            "either --as-new or --into",
        ),
        (
            ["incidents", "declare", "--as", "rita", "--title", "x", "--message", "y", "--alert", "1"],
            "not in L3",
        ),
        (["report", "--since", "banana"], "--since"),
        (["kb", "drafts", "list", "--status", "maybe"], "--status must be"),
        (["tickets", "similar", "IT-9"], "there is no ticket IT-9"),
    ]
    for args, message in cases:
        result = cli.invoke(app, args)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output


def test_drafts_list_and_health_run_on_an_empty_database(cli: CliRunner) -> None:
    listed = cli.invoke(app, ["kb", "drafts", "list"])
    assert listed.exit_code == 0 and "no drafts waiting for review" in listed.output
    health = cli.invoke(app, ["kb", "health", "--no-gaps", "--json"])
    assert health.exit_code == 0, health.output
    assert json.loads(health.stdout)["articles"] == []


def test_duplicate_link_from_the_command_line(cli: CliRunner, db: TestDatabase) -> None:
    from models import utcnow

    with db.sessions() as s:
        make.user(s, "cli:eng", role=Role.ENGINEER)
        a = make.ticket(s, "VPN down", at=utcnow())
        b = make.ticket(s, "VPN not working", at=utcnow(), status=TicketStatus.NEW)
        numbers = (a.number, b.number)
        s.commit()
    result = cli.invoke(
        app, ["tickets", "duplicate", str(numbers[1]), "--of", str(numbers[0]), "--as", "eng"]
    )
    assert result.exit_code == 0, result.output
    assert f"{numbers[1]} marked as a duplicate of {numbers[0]}" in result.output


@pytest.mark.slow
def test_report_command_writes_the_folder(cli: CliRunner, db: TestDatabase, tmp_path: Path) -> None:
    with db.sessions() as s:
        seeded = seed_from_csv(s, FIXTURE_CSV)
        s.commit()
        until = (seeded.start + timedelta(days=30)).isoformat()
        expected = s.scalar(
            select(func.count())
            .select_from(Ticket)
            .where(Ticket.created_at >= seeded.start, Ticket.created_at < seeded.start + timedelta(days=30))
        )
    out = tmp_path / "report"
    result = cli.invoke(app, ["report", "--since", "30d", "--until", until, "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tickets"] == expected
    assert (out / "index.html").exists() and len(list(out.glob("*.png"))) == 9


def test_a_period_too_long_for_the_calendar_is_one_sentence(cli: CliRunner) -> None:
    for since in ("99999999999d", "999999d"):  # beyond a timedelta; before year 1
        for args in (["report", "--since", since], ["kb", "health", "--since", since, "--no-gaps"]):
            result = cli.invoke(app, args)
            assert result.exit_code == 1, (args, result.output)
            assert "too long a" in result.output, (args, result.output)
            assert isinstance(result.exception, SystemExit)  # a clean exit, no traceback


def test_report_uses_the_kb_settings_and_reports_its_period_in_utc(
    cli: CliRunner, db: TestDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    until = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    with db.sessions() as s:
        article = KBArticle(id="vpn-setup", title="VPN setup", content_hash="h")
        article.versions = [
            KBArticleVersion(
                version=1,
                content_hash="h",
                title="VPN setup",
                body="b",
                created_at=until - timedelta(days=10),
            )
        ]
        s.add(article)
        add_conversation(
            s,
            make.user(s, "U-r"),
            key="c1",
            question="vpn setup",
            at=until - timedelta(hours=3),
            answer_article="vpn-setup",
            feedback="solved",
            handoff=False,
        )
        s.commit()
    monkeypatch.setenv("TIERLINE_KB_STALE_DAYS", "7")  # `kb health` calls a 10-day-old article stale
    get_settings.cache_clear()
    out = tmp_path / "report"
    args = ["report", "--since", "1d", "--until", "2026-11-20T03:00+02:00", "--out", str(out), "--json"]
    result = cli.invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [(a["article_id"], a["stale"]) for a in data["kb_articles"]] == [("vpn-setup", True)]
    assert data["until"] == "2026-11-20T01:00:00+00:00"
    assert "2026-11-19 01:00 – 2026-11-20 01:00 UTC" in (out / "index.html").read_text(encoding="utf-8")


def test_resolving_an_incident_from_the_cli_resolves_its_open_tickets(
    cli: CliRunner, db: TestDatabase
) -> None:
    now = datetime.now(UTC)
    with db.sessions() as s:
        make.user(s, "cli:lee", role=Role.ENGINEER, tiers=(Tier.L3,))
        numbers = [
            make.ticket(s, "VPN down for the whole office", at=now - timedelta(minutes=i)).number
            for i in range(2)
        ]
        s.commit()
    declared = cli.invoke(
        app,
        ["incidents", "declare", "--as", "lee", "--title", "VPN outage", "--message", "Known, on it"]
        + [arg for number in numbers for arg in ("--ticket", str(number))],
    )
    assert declared.exit_code == 0, declared.output
    resolved = cli.invoke(app, ["incidents", "resolve", "1", "--as", "lee", "--message", "VPN is back"])
    assert resolved.exit_code == 0, resolved.output
    assert all(str(number) in resolved.output for number in numbers)
    with db.sessions() as s:
        statuses = s.scalars(select(Ticket.status).where(Ticket.number.in_(numbers))).all()
    assert statuses == [TicketStatus.RESOLVED, TicketStatus.RESOLVED]
