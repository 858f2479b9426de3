"""Changing a live ticket's labels, re-rating after a reopen, and what a requester may read:
the workflow as engineers and requesters meet it after the happy path."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot import workflow as wf
from bot.cli.main import app
from bot.settings import get_settings
from bot.workflow import operations as ops
from bot.workflow.errors import IllegalTransition
from bot.workflow.routing import Routing, load_routing
from bot.workflow.sla import SweepReport, process_ticket
from models import Tier, utcnow
from models.db import transaction
from tests.conftest import EXAMPLES, TestDatabase
from tests.workflow.factories import MONDAY_10AM, people, ticket

ROUTING = Routing.default()


@pytest.fixture
def cli(db: TestDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("DATABASE_URL", db.url)
    monkeypatch.setenv("TIERLINE_ROUTING", str(EXAMPLES / "routing.yml"))
    monkeypatch.setenv("TIERLINE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_correcting_an_open_ticket_reroutes_and_retimes_it_like_the_card_menus(
    cli: CliRunner, db: TestDatabase
) -> None:
    routing = load_routing(EXAMPLES / "routing.yml")
    with transaction(db.sessions) as s:
        crew = people(s)
        t = ticket(s, crew.requester, routing=routing, category="network", priority="critical", now=utcnow())
        number, due_before = t.number or "", t.sla_response_due
    assert t.tier is Tier.L2
    refused = cli.invoke(app, ["tickets", "correct", number, "--priority", "low", "--as", "cli:lena"])
    assert refused.exit_code == 1 and "L2" in refused.output and "Traceback" not in refused.output
    done = cli.invoke(
        app,
        ["tickets", "correct", number.lower(), "--priority", "low", "--category", "printing", "--as", "ada"],
    )
    assert done.exit_code == 0, done.output
    assert "priority critical → low" in done.output and "category network → printing" in done.output
    with transaction(db.sessions) as s:
        fixed = wf.find_ticket(s, number)
        assert (fixed.priority, fixed.category, fixed.tier) == ("low", "printing", Tier.L1)
        assert fixed.sla_response_due is not None and due_before is not None
        assert fixed.sla_response_due > due_before  # low gets the low target, not critical's


def test_lowering_the_priority_after_a_breach_rearms_the_clock(db: TestDatabase) -> None:
    with transaction(db.sessions) as s:
        crew = people(s)
        t = ticket(s, crew.requester, routing=ROUTING, priority="critical")
        assert t.sla_response_due is not None
        late = t.sla_response_due + timedelta(minutes=1)
        process_ticket(s, t, ROUTING, late, SweepReport())
        assert t.sla_breached_at is not None
        ops.change_priority(s, t, actor=crew.admin, priority="low", routing=ROUTING, now=late)
        assert t.sla_breached_at is None  # low's first-response target is still ahead
        report = SweepReport()
        process_ticket(s, t, ROUTING, t.sla_response_due + timedelta(minutes=1), report)
        s.flush()  # the second breach has its own notification, not a clash with the first's
        assert report.breaches == 1 and t.sla_breached_at is not None


def test_a_reopened_ticket_is_rated_afresh_and_the_first_rating_is_kept_in_the_trail(
    db: TestDatabase,
) -> None:
    with transaction(db.sessions) as s:
        crew = people(s)
        t = ticket(s, crew.requester, routing=ROUTING)
        ops.claim(s, t, actor=crew.l1)
        ops.resolve(s, t, actor=crew.l1, resolution="new toner", routing=ROUTING)
        ops.rate(s, t, actor=crew.requester, score=5)
        ops.reopen(s, t, actor=crew.requester, routing=ROUTING, reason="it broke again")
        ops.claim(s, t, actor=crew.l1)
        ops.resolve(s, t, actor=crew.l1, resolution="replaced the drum", routing=ROUTING)
        ops.rate(s, t, actor=crew.requester, score=2)
        assert t.csat_score == 2
        assert [e.data.get("previous_csat") for e in t.events if e.kind == "reopened"] == [5]


def test_a_ticket_closed_without_a_resolution_cannot_be_rated_or_reopened_months_later(
    db: TestDatabase,
) -> None:
    with transaction(db.sessions) as s:
        crew = people(s)
        t = ticket(s, crew.requester, routing=ROUTING)
        ops.close(s, t, actor=crew.admin, reason="duplicate of another request", now=MONDAY_10AM)
        with pytest.raises(IllegalTransition, match="once it is resolved"):
            ops.rate(s, t, actor=crew.requester, score=1)
        with pytest.raises(IllegalTransition, match="closed more than"):
            ops.reopen(s, t, actor=crew.requester, routing=ROUTING, now=MONDAY_10AM + timedelta(days=180))


def test_a_requester_reads_what_happened_but_not_what_engineers_told_each_other(
    cli: CliRunner, db: TestDatabase
) -> None:
    with transaction(db.sessions) as s:
        crew = people(s)
        t = ticket(s, crew.requester, routing=ROUTING, now=utcnow())
        ops.claim(s, t, actor=crew.l1)
        ops.escalate(
            s, t, actor=crew.l1, reason="she broke it again, admin password in the note", routing=ROUTING
        )
        number = t.number or ""
    shown = cli.invoke(app, ["tickets", "show", number, "--as", "cli:rita", "--json"])
    assert shown.exit_code == 0, shown.output
    events = json.loads(shown.stdout)["events"]
    assert "escalated" in [e["kind"] for e in events]
    assert "password" not in shown.stdout and all(e["data"] == {} for e in events)


def test_an_engineer_of_two_tiers_sees_the_most_urgent_ticket_first(cli: CliRunner, db: TestDatabase) -> None:
    with transaction(db.sessions) as s:
        crew = people(s)
        wf.grant_tier(s, crew.l1, Tier.L2)
        low = ticket(s, crew.requester, routing=ROUTING, category="printing", priority="low", now=utcnow())
        urgent = ticket(
            s, crew.requester, routing=ROUTING, category="network", priority="critical", now=utcnow()
        )
        numbers = [low.number, urgent.number]
    listed = json.loads(cli.invoke(app, ["tickets", "list", "--as", "cli:lena", "--json"]).stdout)
    assert [row["number"] for row in listed] == numbers[::-1]
    assert [
        row["number"]
        for row in json.loads(
            cli.invoke(app, ["tickets", "list", "--as", "cli:lena", "--limit", "1", "--json"]).stdout
        )
    ] == [numbers[1]]
    bogus = cli.invoke(app, ["tickets", "list", "--as", "cli:lena", "--status", "bogus"])
    assert bogus.exit_code == 1 and "unknown status bogus" in bogus.output
