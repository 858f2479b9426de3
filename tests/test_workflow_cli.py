"""`tierline users ...`, `tierline tickets ...` and `tierline worker --once` as an engineer uses them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from bot import workflow as wf
from bot.cli.main import app
from bot.settings import get_settings
from bot.workflow import operations as ops
from bot.workflow.queries import ensure_user
from bot.workflow.routing import Routing, load_routing
from models import OutboxMessage, Ticket, Tier, User, utcnow
from models.db import transaction
from tests.conftest import EXAMPLES, TestDatabase
from tests.workflow.factories import people, ticket

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


def run(cli: CliRunner, *args: str) -> str:
    result = cli.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_engineer_works_a_ticket_from_the_cli(cli: CliRunner, db: TestDatabase) -> None:
    run(cli, "users", "add", "cli:sam", "--name", "Sam", "--role", "engineer", "--tier", "L1")
    granted = json.loads(run(cli, "users", "grant", "cli:sam", "--tier", "L2", "--json"))
    assert granted["tiers"] == ["L1", "L2"]
    with transaction(db.sessions) as s:
        number = ticket(s, people(s).requester, routing=Routing.default(), now=utcnow()).number or ""
    listed = json.loads(run(cli, "tickets", "list", "--as", "sam", "--json"))
    assert [t["number"] for t in listed] == [number]
    assert (
        json.loads(run(cli, "tickets", "claim", number, "--as", "cli:sam", "--json"))["assignee"] == "cli:sam"
    )
    run(cli, "tickets", "note", number, "check the fuser", "--as", "cli:sam")
    escalated = json.loads(
        run(cli, "tickets", "escalate", number, "--as", "cli:sam", "--reason", "parts", "--json")
    )
    assert (escalated["tier"], escalated["assignee"]) == ("L2", None)
    run(cli, "tickets", "claim", number, "--as", "cli:sam")
    done = json.loads(
        run(cli, "tickets", "resolve", number, "--as", "cli:sam", "--resolution", "new fuser", "--json")
    )
    assert done["status"] == "resolved"
    staff_view = json.loads(run(cli, "tickets", "show", number, "--as", "cli:sam", "--json"))
    requester_view = json.loads(run(cli, "tickets", "show", number, "--as", "cli:rita", "--json"))
    assert any(e["internal"] for e in staff_view["events"])
    assert not any(e["internal"] for e in requester_view["events"])
    assert "worker" in run(cli, "worker", "--help")
    delivered = cli.invoke(app, ["worker", "--once"])
    assert delivered.exit_code == 0
    assert f"csat_request -> requester:cli:rita {number} new fuser" in delivered.stdout


def test_refusals_are_one_clear_sentence(cli: CliRunner, db: TestDatabase) -> None:
    with transaction(db.sessions) as s:
        crew = people(s)
        number = ticket(s, crew.requester, routing=Routing.default()).number or ""
    cases = [
        (["tickets", "claim", number, "--as", "cli:rita"], "Rita is not an engineer of L1"),
        (["tickets", "claim", "IT-99999", "--as", "cli:lena"], "no ticket IT-99999"),
        (["tickets", "list", "--as", "nobody"], "no user"),
        (["tickets", "resolve", number, "--as", "cli:lena", "--resolution", "x"], "cannot be resolved"),
        (["tickets", "show", number, "--as", "cli:omar"], "did not open"),
        (["users", "grant", "cli:lena", "--tier", "L9"], "unknown tier"),
    ]
    for args, expected in cases:
        result = cli.invoke(app, args)
        assert result.exit_code == 1, (args, result.output)
        assert expected in result.output and "Traceback" not in result.output


def test_bad_routing_file_stops_the_worker_naming_the_key(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "routing.yml"
    bad.write_text((EXAMPLES / "routing.yml").read_text().replace("warn_fraction: 0.75", "warn_fraction: 2"))
    monkeypatch.setenv("TIERLINE_ROUTING", str(bad))
    get_settings.cache_clear()
    result = cli.invoke(app, ["worker", "--once"])
    assert result.exit_code == 1 and "sla.warn_fraction" in result.output


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


def test_updating_a_user_keeps_their_role_unless_one_is_given(cli: CliRunner) -> None:
    run(cli, "users", "add", "cli:bob", "--role", "engineer", "--tier", "L2")
    renamed = json.loads(run(cli, "users", "add", "cli:bob", "--name", "Robert", "--json"))
    assert (renamed["name"], renamed["role"], renamed["tiers"]) == ("Robert", "engineer", ["L2"])
    assert json.loads(run(cli, "tickets", "list", "--as", "cli:bob", "--json")) == []  # still sees the queue
    # A new user given a tier is that tier's engineer, never a requester holding a queue.
    assert json.loads(run(cli, "users", "add", "cli:zoe", "--tier", "L1", "--json"))["role"] == "engineer"
    # Making someone a requester takes their tiers away; asking for a requester with a tier is refused.
    demoted = json.loads(run(cli, "users", "add", "cli:bob", "--role", "requester", "--json"))
    assert (demoted["role"], demoted["tiers"]) == ("requester", [])
    both = cli.invoke(app, ["users", "grant", "cli:zoe", "--role", "requester", "--tier", "L2"])
    assert both.exit_code == 1 and "a requester belongs to no tier" in both.output


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_user_id_is_refused(cli: CliRunner, blank: str) -> None:
    result = cli.invoke(app, ["users", "add", blank, "--role", "admin"])
    assert result.exit_code == 1 and "a user id cannot be blank" in result.output
    assert json.loads(run(cli, "users", "list", "--json")) == []


def test_a_category_nobody_routes_or_trained_is_refused_with_the_known_ones(
    cli: CliRunner, db: TestDatabase
) -> None:
    with transaction(db.sessions) as s:
        crew = people(s)
        number = ticket(s, crew.requester, routing=ROUTING, category="network", now=utcnow()).number or ""
    typo = cli.invoke(app, ["tickets", "correct", number, "--category", "netwrok", "--as", "cli:mia"])
    said = " ".join(typo.output.split())
    assert typo.exit_code == 1 and "'netwrok' is not a known category" in said
    assert "network" in said and "printing" in said
    fixed = cli.invoke(app, ["tickets", "correct", number, "--category", " Security ", "--as", "cli:mia"])
    assert fixed.exit_code == 0, fixed.output
    with transaction(db.sessions) as s:
        assert wf.find_ticket(s, number).category == "security"  # the routed spelling


def _timing(s: Session, t: Ticket) -> tuple[object, ...]:
    """What a priority change re-times, and how many notifications are waiting."""
    outbox = len(s.scalars(select(OutboxMessage)).all())
    return (t.sla_response_due, t.sla_resolution_due, t.sla_next_check_at, outbox)


def test_reprioritising_a_resolved_ticket_only_corrects_its_label(cli: CliRunner, db: TestDatabase) -> None:
    with transaction(db.sessions) as s:
        crew = people(s)
        t = ticket(s, crew.requester, routing=ROUTING, category="network", priority="low", now=utcnow())
        ops.claim(s, t, actor=crew.l2)
        ops.resolve(s, t, actor=crew.l2, resolution="new cable", routing=ROUTING)
        number = t.number or ""
        before = _timing(s, t)
    done = cli.invoke(app, ["tickets", "priority", number, "critical", "--as", "cli:mia"])
    assert done.exit_code == 0, done.output
    assert "SLA stays as it was" in done.output
    with transaction(db.sessions) as s:
        t = wf.find_ticket(s, number)
        assert (t.status.value, t.priority) == ("resolved", "critical")
        assert [e.kind for e in t.events].count("priority_changed") == 1  # what the next training reads
        assert _timing(s, t) == before  # not re-timed, and no queue told about finished work


def test_chat_as_cli_name_is_the_same_person_as_tickets_commands_see(
    cli: CliRunner, db: TestDatabase
) -> None:
    with transaction(db.sessions) as s:
        ensure_user(s, "cli:alice", "alice")
    result = cli.invoke(app, ["chat", "--json", "--as", "cli:alice"], input="my printer is jammed\n")
    assert result.exit_code == 0, result.output
    with transaction(db.sessions) as s:
        ids = set(s.scalars(select(User.external_id)))
    assert "cli:alice" in ids and "cli:cli:alice" not in ids


def test_the_terminal_chat_shows_what_it_did_on_the_ticket_between_messages(
    cli: CliRunner, db: TestDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    """Slack posts an engineer's reply into the requester's thread; the terminal has none, so the
    chat shows it before its next reply: the reply, then the resolution asking for a rating, which
    a typed "5" gives. The engineer's internal note never shows."""
    from bot.cli.chat import run_chat
    from bot.container import build_container

    def the_ticket(session: Session) -> Ticket:
        return session.scalars(select(Ticket)).one()

    def engineer_replies(session: Session) -> None:
        lena, t = people(session).l1, the_ticket(session)
        ops.claim(session, t, actor=lena)
        ops.add_internal_note(session, t, actor=lena, text="user's dock firmware is ancient")
        ops.add_message(session, t, actor=lena, text="Can you try the other USB-C port?", routing=ROUTING)

    def engineer_resolves(session: Session) -> None:
        t = the_ticket(session)
        assert t.assignee is not None
        ops.resolve(session, t, actor=t.assignee, resolution="Updated the dock firmware", routing=ROUTING)

    def lines() -> Iterator[str]:
        yield "my monitor stays black after docking, nobody here can fix it"
        yield "talk to a person"
        with transaction(db.sessions) as s:
            engineer_replies(s)
        yield "tried it, same"
        with transaction(db.sessions) as s:
            engineer_resolves(s)
        yield "5"

    container = build_container(get_settings())
    try:
        capsys.readouterr()
        run_chat(container, as_json=True, requester="rita", lines=lines())
    finally:
        container.close()
    said = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    updates = [item for item in said if item["kind"] == "update"]
    texts = [u["text"] for u in updates]
    assert any("Can you try the other USB-C port?" in t for t in texts)
    assert any(u["author"] == "Lena" for u in updates)
    assert any("Updated the dock firmware" in t and "Rate the help" in t for t in texts)
    assert not any("firmware is ancient" in json.dumps(item) for item in said)
    # each update comes before the reply to the message that followed it, and only once
    kinds = [item["kind"] for item in said]
    assert kinds.count("update") == len(texts) == len(set(texts))
    assert kinds[-2:] == ["update", "notice"] and "5/5" in said[-1]["text"]
    with transaction(db.sessions) as s:
        assert the_ticket(s).csat_score == 5
