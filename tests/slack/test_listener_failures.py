"""When Slack or our own code fails right after a click, a command or a form was acknowledged:
Slack still gets its quick 200 and the person is told, in words, what to do."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.slack import blocks, engineer, requester
from tests.slack.conftest import ENGINEER_L1, L1_CHANNEL, REQUESTER, SUPPORT, Stack, hand_off
from tests.slack.fake_slack import BOT_USER_ID


def _database_gone(*args: Any, **kwargs: Any) -> Any:
    """Fault injection: what a lost database connection looks like from a listener."""
    raise ConnectionError("the database went away")


def _told(stack: Stack, user: str) -> list[str]:
    ephemeral = [str(c.args.get("text")) for c in stack.fake.calls_to("chat.postEphemeral")]
    direct = [
        str(c.args.get("text")) for c in stack.fake.posts() if str(c.args.get("channel")).startswith("D")
    ]
    return [*ephemeral, *direct, *stack.fake.responses_to(user)]


def test_a_form_slack_will_not_open_is_answered_at_once_and_the_person_asked_to_try_again(
    stack: Stack,
) -> None:
    stack.fake.refuse_next("views.open", "expired_trigger_id")
    response = stack.driver.command(REQUESTER, SUPPORT, "report the printer jams")
    assert response.status == 200 and response.seconds < 2.0, response
    told = stack.fake.wait_for(lambda: [t for t in _told(stack, REQUESTER) if "form" in t], what="notice")
    assert "try again" in told[0]


def test_a_button_for_a_ticket_that_does_not_exist_says_so(stack: Stack) -> None:
    response = stack.driver.click(REQUESTER, blocks.ADD_DETAILS, "IT-9999", channel=SUPPORT)
    assert response.status == 200 and response.seconds < 2.0, response
    told = stack.fake.wait_for(lambda: [t for t in _told(stack, REQUESTER) if "IT-9999" in t], what="notice")
    assert stack.fake.calls_to("views.open") == [] and told


def test_when_even_the_refusal_cannot_be_posted_slack_still_gets_its_answer(stack: Stack) -> None:
    number, _ = hand_off(stack)
    stack.fake.settle()
    stack.fake.refuse_next("chat.postEphemeral", "channel_not_found", times=10)
    stack.fake.refuse_next("conversations.open", "user_not_found", times=10)
    card = stack.fake.posts(L1_CHANNEL)[0]
    for _ in range(3):  # the failure used to race bolt's acknowledgement: try it more than once
        response = stack.driver.click(REQUESTER, blocks.CLAIM, number, channel=L1_CHANNEL, message_ts=card.ts)
        assert response.status == 200 and response.seconds < 2.0, response
    assert stack.ticket(number).assignee_id is None


def test_a_form_that_fails_before_closing_stays_open_with_what_was_typed(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    number, _ = hand_off(stack)
    stack.fake.settle()
    monkeypatch.setattr(engineer.operations, "resolve", _database_gone)
    response = stack.driver.submit_view(
        ENGINEER_L1, blocks.RESOLVE_VIEW, {"resolution": "Replaced the router in room 4B"}, number
    )
    assert response.status == 200 and response.seconds < 2.0, response
    answer = json.loads(response.body)
    assert answer["response_action"] == "errors" and "submit again" in answer["errors"]["resolution"]


def test_a_form_that_fails_after_closing_gives_the_person_back_what_they_wrote(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(requester, "open_ticket", _database_gone)
    response = stack.driver.submit_view(
        REQUESTER,
        blocks.REPORT_VIEW,
        {"subject": "Printer on floor 3 jams", "details": "every job since Monday"},
        json.dumps({"channel": None}),
    )
    assert response.status == 200 and response.seconds < 2.0, response
    told = stack.fake.wait_for(
        lambda: [t for t in _told(stack, REQUESTER) if "went wrong" in t], what="notice"
    )
    assert "Printer on floor 3 jams" in told[0] and "every job since Monday" in told[0]


def test_refusals_name_people_as_mentions(stack: Stack) -> None:
    number, _ = hand_off(stack)
    card = stack.fake.posts(L1_CHANNEL)[0]
    stack.driver.click(REQUESTER, blocks.CLAIM, number, channel=L1_CHANNEL, message_ts=card.ts)
    refusal = stack.fake.wait_for(lambda: stack.fake.calls_to("chat.postEphemeral"), what="refusal")[0]
    assert f"<@{REQUESTER}>" in str(refusal.args["text"]), refusal.args


def test_slacks_rate_limit_notice_is_acknowledged(stack: Stack) -> None:
    notice = {
        "token": "legacy-verification-token",
        "type": "app_rate_limited",
        "team_id": "T0001",
        "minute_rate_limited": 1518467820,
        "api_app_id": "A0001",
    }
    response = stack.driver.post("/slack/events", json.dumps(notice).encode(), "application/json")
    assert response.status == 200, response


def test_a_message_sent_as_rich_text_only_is_answered(stack: Stack) -> None:
    rich = [
        {
            "type": "rich_text",
            "block_id": "r1",
            "elements": [
                {
                    "type": "rich_text_section",
                    "elements": [
                        {"type": "user", "user_id": BOT_USER_ID},
                        {"type": "text", "text": " How do I connect to the VPN?"},
                    ],
                }
            ],
        }
    ]
    ts = stack.driver.say(REQUESTER, SUPPORT, "", blocks=rich)
    reply = stack.fake.wait_for(lambda: stack.fake.posts(SUPPORT, ts), what="answer")[0]
    assert "didn't get any text" not in str(reply.args.get("text"))
    assert "VPN" in json.dumps(reply.args.get("blocks")), reply.args


def test_a_me_message_is_a_question_too(stack: Stack) -> None:
    ts = stack.driver.say(REQUESTER, SUPPORT, "cannot connect to the VPN", subtype="me_message")
    stack.fake.wait_for(lambda: stack.fake.posts(SUPPORT, ts), what="answer")
