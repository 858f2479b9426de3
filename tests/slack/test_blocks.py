"""Block Kit rendering stays inside Slack's limits and passes slack_sdk's own validation."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.engine import Feedback, Outcome, SourceRef, TicketRef
from bot.slack import blocks
from bot.slack.text import escape
from tests.conftest import shared_path
from tests.slack.fake_slack import validate_blocks

LONG = "Step. " * 2_000  # 12,000 characters


def _answer(passage: str) -> Outcome:
    return Outcome(
        kind="answer",
        text=passage,
        conversation_key="slack:C1:1.2",
        sources=(SourceRef("vpn", "Connect to the VPN", 0.9, "https://kb.example.test/vpn", "Setup"),),
        confidence=0.9,
        passage=passage,
        actions=(Feedback.SOLVED, Feedback.NOT_SOLVED, Feedback.HUMAN),
    )


def test_long_answer_is_truncated_with_a_link_to_the_article() -> None:
    text, body = blocks.answer_message(_answer(LONG))
    section = body[0]["text"]["text"]
    assert len(section) <= blocks.MAX_SECTION_CHARS
    assert section.endswith("<https://kb.example.test/vpn|Read the full article>")
    assert len(text) <= blocks.MAX_FALLBACK_CHARS
    assert validate_blocks("chat.postMessage", {"text": text, "blocks": body}) == []


def test_answer_shows_title_link_confidence_and_the_three_buttons() -> None:
    text, body = blocks.answer_message(_answer("Install the client."))
    context = body[1]["elements"][0]["text"]
    assert "<https://kb.example.test/vpn|Connect to the VPN>" in context and "confident" in context
    labels = [e["text"]["text"] for e in body[2]["elements"]]
    assert labels == ["Solved", "Not solved", "Talk to a person"]
    assert "Connect to the VPN" in text  # the plain-text fallback names the source too


def test_a_second_problem_named_under_an_answer_is_shown_escaped_above_the_buttons() -> None:
    note = "You also mentioned “my <b>monitor</b> flickers”: send that on its own."
    text, body = blocks.answer_message(replace(_answer("Install the client."), note=note))
    assert body[2]["text"]["text"] == escape(note)
    assert body[3]["type"] == "actions"
    assert validate_blocks("chat.postMessage", {"text": text, "blocks": body}) == []


def test_handoff_lists_ticket_facts_and_offers_details() -> None:
    ticket = TicketRef(
        "IT-1001",
        "network",
        "high",
        "L2",
        "triaged",
        datetime(2026, 1, 5, 9, tzinfo=UTC),
        None,
        missing_facts=("device", "urgency"),
    )
    outcome = Outcome(kind="handoff", text="Opened IT-1001.", conversation_key="slack:C1:1.2", ticket=ticket)
    text, body = blocks.outcome_message(outcome)
    assert "IT-1001" in json.dumps(body) and "respond by Mon 05 Jan 09:00 UTC" in json.dumps(body)
    ids = {e["action_id"] for b in body if b["type"] == "actions" for e in b["elements"]}
    assert blocks.ADD_DETAILS in ids and "tl_fact_urgency_blocking" in ids
    assert validate_blocks("chat.postMessage", {"text": text, "blocks": body}) == []


def test_home_with_many_tickets_fits_homes_hundred_blocks() -> None:
    view = blocks.home_view([("My tickets", [f"*IT-{n}* something broke" for n in range(200)])])
    assert len(view["blocks"]) == blocks.MAX_VIEW_BLOCKS
    assert "shortened" in json.dumps(view["blocks"][-1])
    assert validate_blocks("views.publish", {"view": view}) == []


def test_card_with_huge_body_and_all_categories_is_valid() -> None:
    text, body = blocks.ticket_card(
        number="IT-1001",
        subject="x" * 600,
        body=LONG,
        category="network",
        priority="high",
        tier="L1",
        status="triaged",
        requester="<@U1>",
        assignee=None,
        response_due=None,
        categories=[f"category-{n}" for n in range(150)],
        facts={"device": "Mac", "error_text": "E" * 5000},
    )
    assert validate_blocks("chat.postMessage", {"text": text, "blocks": body}) == []


@pytest.mark.parametrize(
    "build",
    [
        lambda: blocks.report_modal(initial_text=LONG),
        lambda: blocks.details_modal(
            "IT-1", ("device", "software_version", "error_text", "impact", "urgency")
        ),
        lambda: blocks.note_modal("IT-1"),
        lambda: blocks.resolve_modal("IT-1"),
        lambda: blocks.csat_message("IT-1")[1],
    ],
)
def test_modals_and_messages_validate(build) -> None:  # type: ignore[no-untyped-def]
    built = build()
    args = {"view": built} if isinstance(built, dict) else {"text": "t", "blocks": built}
    assert validate_blocks("views.open" if isinstance(built, dict) else "chat.postMessage", args) == []


def test_validator_accepts_slacks_own_view_fixtures_and_rejects_bad_blocks() -> None:
    folder = shared_path("slack", "python-slack-sdk-fixtures")
    views = sorted(folder.glob("view_*.json"))
    assert views
    for path in views:
        assert validate_blocks("views.publish", {"view": json.loads(path.read_text())}) == [], path.name
    too_long = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    assert validate_blocks("chat.postMessage", {"text": "t", "blocks": too_long})
    assert validate_blocks("chat.postMessage", {"text": "t", "blocks": [{"type": "section"}] * 51})


@pytest.mark.parametrize("filler", range(0, 14))
def test_a_long_passage_is_never_cut_inside_an_escape_or_a_link(filler: int) -> None:
    text = (
        "x" * (2_900 + 5 * filler)
        + escape(" clear the queue & retry <error 809> ")
        + "<https://kb/a|link>" * 5
    )
    cut = blocks.section(text, link="https://kb/vpn")["text"]["text"]
    assert len(cut) <= blocks.MAX_SECTION_CHARS
    body = cut[: cut.rindex("… <https://kb/vpn|")]
    assert not re.search(r"&[a-z]{0,3}$", body), body[-12:]
    assert body.count("<") == body.count(">"), body[-30:]


def test_a_resolved_tickets_card_offers_no_work_buttons() -> None:
    def card(status: str) -> set[str]:
        _, body = blocks.ticket_card(
            number="IT-1001",
            subject="VPN",
            body="drops",
            category="network",
            priority="high",
            tier="L1",
            status=status,
            requester="<@U1>",
            assignee="<@U2>",
            response_due=None,
            categories=["network"],
            can_draft=status == "resolved",
        )
        return {e["action_id"] for b in body if b["type"] == "actions" for e in b["elements"]}

    assert {blocks.CLAIM, blocks.ESCALATE, blocks.RESOLVE} <= card("in_progress")
    for settled in ("resolved", "closed"):
        assert not {blocks.CLAIM, blocks.ESCALATE, blocks.RESOLVE, blocks.WAIT} & card(settled)
    assert blocks.CREATE_DRAFT in card("resolved") and blocks.NOTE in card("closed")
