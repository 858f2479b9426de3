"""What real Slack does that a happy path never shows: threads without a conversation, a slow or
refusing Web API, people leaving user groups, escaped text, files, channels the bot is not in."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

import bot.slack.base as base
from bot import observability
from bot.slack import blocks
from bot.workflow import operations, queries
from bot.workflow.outbox import deliver_pending
from models import Conversation, OutboxMessage, Ticket, utcnow
from models.db import transaction
from tests.slack.conftest import (
    ENGINEER_L1,
    ENGINEER_L2,
    L1_CHANNEL,
    L2_CHANNEL,
    L2_GROUP,
    REQUESTER,
    SUPPORT,
    Stack,
    hand_off,
)
from tests.slack.fake_slack import BOT_USER_ID, Call

REQUESTER_DM = "D" + REQUESTER[1:]  # what the fake's conversations.open answers
NO_BOT = "CNOBOT0001"  # a channel the bot is not a member of


def _worker_pass(stack: Stack, hours: int) -> int:
    return deliver_pending(
        stack.db.sessions, stack.services.notifier, worker_id="w", now=utcnow() + timedelta(hours=hours)
    )


def _pending(stack: Stack) -> list[OutboxMessage]:
    with transaction(stack.db.sessions) as session:
        rows = list(session.scalars(select(OutboxMessage).where(OutboxMessage.delivered_at.is_(None))))
        session.expunge_all()
        return rows


def _report(stack: Stack, subject: str, metadata: str) -> None:
    stack.driver.submit_view(
        REQUESTER, blocks.REPORT_VIEW, {"subject": subject, "details": "every job"}, metadata
    )


def _reported_printer_jams(stack: Stack) -> tuple[Call, Call]:
    """A ticket filed with `/tierline report`: its card in L1's channel and the requester's receipt."""
    stack.driver.command(REQUESTER, SUPPORT, "report printer jams")
    view = stack.fake.wait_for(lambda: stack.fake.calls_to("views.open"), what="modal")[0].args["view"]
    _report(stack, "Printer on floor 3 jams", view["private_metadata"])
    card = stack.fake.wait_for(lambda: stack.fake.posts(L1_CHANNEL), what="card")[0]
    receipt = stack.fake.wait_for(lambda: stack.fake.posts(REQUESTER_DM), what="receipt DM")[0]
    stack.fake.wait_for(lambda: _pending(stack) == [], what="the receipt's thread link committed")
    return card, receipt


def test_a_reply_in_the_thread_of_a_reported_ticket_reaches_the_engineer(stack: Stack) -> None:
    card, receipt = _reported_printer_jams(stack)
    reply = stack.driver.say(
        REQUESTER, REQUESTER_DM, "It also jams on floor 4", thread_ts=receipt.ts, channel_type="im"
    )
    stack.fake.wait_for(
        lambda: [t for t in stack.thread_texts(L1_CHANNEL, card.ts) if "floor 4" in t], what="relay to card"
    )
    reactions = stack.fake.wait_for(lambda: stack.fake.calls_to("reactions.add"), what="reaction")
    assert reactions[0].args["timestamp"] == reply
    # a colleague's words in that thread are theirs, not passed on
    stack.driver.say("UCOLLEAGUE", REQUESTER_DM, "me too", thread_ts=receipt.ts, channel_type="im")
    stack.fake.settle(quiet=0.5)
    assert not [t for t in stack.thread_texts(L1_CHANNEL, card.ts) if "me too" in t]


def test_a_rating_typed_in_the_thread_of_a_reported_ticket_rates_it_rather_than_reopening_it(
    stack: Stack,
) -> None:
    """The receipt's thread is where the resolution and "How did we do?" arrive, so it is where
    people type "5, thanks": read as in any handed-off thread, it rates and closes the ticket."""
    stack.driver.command(REQUESTER, SUPPORT, "report printer jams")
    view = stack.fake.wait_for(lambda: stack.fake.calls_to("views.open"), what="modal")[0].args["view"]
    _report(stack, "Printer on floor 3 jams", view["private_metadata"])
    receipt = stack.fake.wait_for(lambda: stack.fake.posts(REQUESTER_DM), what="receipt DM")[0]
    stack.fake.wait_for(lambda: _pending(stack) == [], what="the receipt's thread link committed")
    with transaction(stack.db.sessions) as session:
        number = str(session.scalars(select(Ticket.number)).one())
    stack.driver.say(REQUESTER, REQUESTER_DM, "any update?", thread_ts=receipt.ts, channel_type="im")
    status = stack.fake.wait_for(
        lambda: [t for t in stack.thread_texts(REQUESTER_DM, receipt.ts) if "L1" in t and number in t],
        what="the status, in words",
    )
    assert status
    card = stack.fake.posts(L1_CHANNEL)[0]
    stack.driver.click(ENGINEER_L1, blocks.CLAIM, number, channel=L1_CHANNEL, message_ts=card.ts)
    stack.fake.wait_for(lambda: stack.ticket(number).assignee_id, what="claimed")
    stack.driver.submit_view(ENGINEER_L1, blocks.RESOLVE_VIEW, {"resolution": "Cleared the rollers"}, number)
    stack.fake.wait_for(
        lambda: [c for c in stack.fake.posts(REQUESTER_DM, receipt.ts) if "tl_csat_5" in json.dumps(c.args)],
        what="rating prompt in the receipt's thread",
    )
    stack.driver.say(REQUESTER, REQUESTER_DM, "5, thanks!", thread_ts=receipt.ts, channel_type="im")
    stack.fake.wait_for(lambda: stack.ticket(number).csat_score == 5, what="rated")
    ticket = stack.ticket(number)
    assert (ticket.status.value, ticket.reopen_count) == ("closed", 0)


def test_a_modal_is_answered_within_slacks_3_seconds_even_when_the_web_api_is_rate_limited(
    stack: Stack,
) -> None:
    number, _ = hand_off(stack)
    stack.fake.settle()
    stack.fake.fail_next("chat.postMessage", 429, times=2, retry_after=2)
    response = stack.driver.submit_view(
        ENGINEER_L1, blocks.ESCALATE_VIEW, {"reason": "needs network team"}, number
    )
    assert response.status == 200 and response.seconds < 3.0, response
    assert stack.ticket(number).tier.value == "L2"
    stack.fake.wait_for(lambda: stack.fake.posts(L2_CHANNEL), timeout=20, what="L2 card after the retries")


def test_a_claim_stands_and_the_card_catches_up_when_slack_fails_the_card_update(stack: Stack) -> None:
    number, _ = hand_off(stack)
    card = stack.fake.posts(L1_CHANNEL)[0]
    stack.fake.settle()
    stack.fake.fail_next("chat.update", 500, times=3)  # the update and both client retries
    stack.driver.click(ENGINEER_L1, blocks.CLAIM, number, channel=L1_CHANNEL, message_ts=card.ts)
    stack.fake.wait_for(lambda: stack.ticket(number).assignee_id, timeout=20, what="the claim, after retries")
    with transaction(stack.db.sessions) as session:
        kinds = list(session.scalars(select(OutboxMessage.kind)))
    assert "card_refresh" in kinds  # the failed update was queued, not lost
    _worker_pass(stack, hours=1)  # whatever the delivery right after the click did not get to
    stack.fake.wait_for(lambda: _pending(stack) == [], what="card refresh delivered")
    updated = stack.fake.calls_to("chat.update")[-1]
    assert updated.args["ts"] == card.ts and ENGINEER_L1 in json.dumps(updated.args["blocks"])


def test_a_notice_is_posted_once_when_its_card_was_deleted(stack: Stack) -> None:
    number, ts = hand_off(stack)
    stack.fake.settle()
    with transaction(stack.db.sessions) as session:
        ticket = queries.find_ticket(session, number)
        operations.claim(session, ticket, actor=queries.ensure_user(session, ENGINEER_L1))
    stack.fake.refuse_next("chat.update", "message_not_found", times=100)
    for hours in (1, 2, 3):
        _worker_pass(stack, hours)
    told = [t for t in stack.thread_texts(SUPPORT, ts) if "working on" in t]
    assert len(told) == 1, told
    assert _pending(stack) == []  # nothing left retrying a card that is gone


def test_leaving_the_tiers_user_group_takes_the_tier_away(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(base, "USERGROUP_CACHE_SECONDS", 0.0)
    number, _ = hand_off(stack)
    stack.driver.submit_view(ENGINEER_L1, blocks.ESCALATE_VIEW, {"reason": "network"}, number)
    l2_card = stack.fake.wait_for(lambda: stack.fake.posts(L2_CHANNEL), what="L2 card")[0]
    stack.driver.click(ENGINEER_L2, blocks.NOTE, number, channel=L2_CHANNEL, message_ts=l2_card.ts)
    stack.fake.wait_for(lambda: stack.fake.calls_to("views.open"), what="note modal: still in the group")
    stack.fake.usergroups[L2_GROUP] = []
    stack.driver.click(ENGINEER_L2, blocks.CLAIM, number, channel=L2_CHANNEL, message_ts=l2_card.ts)
    refusal = stack.fake.wait_for(
        lambda: [c for c in stack.fake.calls_to("chat.postEphemeral") if c.args["user"] == ENGINEER_L2],
        what="refusal",
    )
    assert "L2" in refusal[0].args["text"]
    assert stack.ticket(number).assignee_id is None


def test_an_unreadable_user_group_does_not_break_every_message(stack: Stack) -> None:
    stack.fake.refuse_next("usergroups.users.list", "no_such_subteam", times=100)
    ts = stack.driver.say(REQUESTER, SUPPORT, "How do I connect to the VPN?")
    reply = stack.fake.wait_for(lambda: stack.fake.posts(SUPPORT, ts), what="answer")[0]
    assert "went wrong" not in str(reply.args["text"])


def test_escaped_text_reaches_the_engine_as_typed_and_is_shown_as_typed(stack: Stack) -> None:
    raw = "VPN &amp; Wi-Fi fail: &lt;error 809&gt; see <https://status.example.com|status>"
    ts = stack.driver.say(REQUESTER, SUPPORT, raw)
    stack.fake.wait_for(lambda: stack.fake.posts(SUPPORT, ts), what="reply")
    with transaction(stack.db.sessions) as session:
        question = session.scalars(select(Conversation.question)).one()
    assert question == "VPN & Wi-Fi fail: <error 809> see status (https://status.example.com)"
    stack.driver.click(REQUESTER, "tl_human", f"slack:{SUPPORT}:{ts}", channel=SUPPORT)
    card = stack.fake.wait_for(lambda: stack.fake.posts(L1_CHANNEL), what="card")[0]
    shown = json.dumps(card.args["blocks"])
    assert "&lt;error 809&gt;" in shown and "&amp; Wi-Fi" in shown


def test_a_screenshot_without_words_is_relayed(stack: Stack) -> None:
    _, ts = hand_off(stack)
    card = stack.fake.posts(L1_CHANNEL)[0]
    stack.driver.say(
        REQUESTER,
        SUPPORT,
        "",
        thread_ts=ts,
        subtype="file_share",
        files=[{"id": "F1", "name": "error.png", "permalink": "https://acme.slack.com/files/F1"}],
    )
    relayed = stack.fake.wait_for(
        lambda: [t for t in stack.thread_texts(L1_CHANNEL, card.ts) if "error.png" in t], what="relay"
    )
    assert "https://acme.slack.com/files/F1" in relayed[0]


def test_a_screenshot_that_opens_a_question_is_asked_about(stack: Stack) -> None:
    ts = stack.driver.say(
        REQUESTER,
        SUPPORT,
        "",
        subtype="file_share",
        files=[{"id": "F2", "name": "error.png", "permalink": "https://acme.slack.com/files/F2"}],
    )
    reply = stack.fake.wait_for(lambda: stack.fake.posts(SUPPORT, ts), what="reply in the thread")
    assert "can't read images" in str(reply[0].args.get("text"))


def test_people_mentioned_in_a_relay_stay_mentioned(stack: Stack) -> None:
    _, ts = hand_off(stack)
    card = stack.fake.posts(L1_CHANNEL)[0]
    stack.driver.say(REQUESTER, SUPPORT, "my manager <@UMANAGER01> has the same problem", thread_ts=ts)
    relayed = stack.fake.wait_for(
        lambda: [t for t in stack.thread_texts(L1_CHANNEL, card.ts) if "manager" in t], what="relay"
    )
    assert "<@UMANAGER01>" in relayed[0]


def test_slash_commands_answer_where_the_bot_is_not_a_member(stack: Stack) -> None:
    stack.fake.refuse_next("chat.postEphemeral", "channel_not_found", channel=NO_BOT, times=10)
    stack.driver.command(REQUESTER, NO_BOT, "status")
    answers = stack.fake.wait_for(lambda: stack.fake.responses_to(REQUESTER), what="status reply")
    assert "tickets" in answers[0]


def test_report_to_it_from_a_channel_the_bot_is_not_in_tells_the_requester_by_dm(stack: Stack) -> None:
    stack.fake.refuse_next("chat.postMessage", "not_in_channel", channel=NO_BOT, times=100)
    message = {"type": "message", "user": REQUESTER, "ts": "1700000555.000100", "text": "Wi-Fi drops in 4B"}
    stack.driver.shortcut(REQUESTER, blocks.REPORT_SHORTCUT, channel=NO_BOT, message=message)
    view = stack.fake.wait_for(lambda: stack.fake.calls_to("views.open"), what="modal")[0].args["view"]
    _report(stack, "Wi-Fi drops in 4B", view["private_metadata"])
    receipt = stack.fake.wait_for(lambda: stack.fake.posts(REQUESTER_DM), what="receipt by DM")
    assert "IT-" in str(receipt[0].args["text"])
    stack.fake.settle(quiet=0.5)
    assert _pending(stack) == []


def test_a_slack_question_and_a_button_press_are_each_counted_once_in_metrics(stack: Stack) -> None:
    def value(name: str, **labels: str) -> float:
        return observability.REGISTRY.get_sample_value(name, labels) or 0.0

    asked, solved = (
        value("tierline_requests_total", source="slack"),
        value("tierline_feedback_total", action="solved"),
    )
    ts = stack.driver.say(REQUESTER, SUPPORT, "How do I connect to the VPN?")
    stack.fake.wait_for(lambda: stack.fake.posts(SUPPORT, ts), what="answer")
    stack.driver.click(REQUESTER, "tl_solved", f"slack:{SUPPORT}:{ts}", channel=SUPPORT)
    stack.fake.wait_for(
        lambda: value("tierline_feedback_total", action="solved") > solved, what="feedback counted"
    )
    stack.fake.settle()
    assert value("tierline_requests_total", source="slack") - asked == 1
    assert value("tierline_feedback_total", action="solved") - solved == 1


def test_in_a_group_dm_the_bot_answers_when_mentioned_and_otherwise_keeps_out(stack: Stack) -> None:
    group = "GGROUPDM01"
    chatter = stack.driver.say(REQUESTER, group, "lunch at noon?", channel_type="mpim")
    asked = stack.driver.say(
        REQUESTER, group, f"<@{BOT_USER_ID}> How do I connect to the VPN?", channel_type="mpim"
    )
    stack.fake.wait_for(lambda: stack.fake.posts(group, asked), what="answer in the group DM")
    assert stack.fake.posts(group, chatter) == []


def test_a_status_question_in_a_new_dm_is_answered_with_the_tickets_state(stack: Stack) -> None:
    """ "What's the status of my ticket?" typed at the top of the DM, away from the ticket's thread:
    the requester is told where it stands there, and the engineer is not sent the question."""
    card, receipt = _reported_printer_jams(stack)
    with transaction(stack.db.sessions) as session:
        number = str(session.scalars(select(Ticket.number)).one())
    asked = stack.driver.say(REQUESTER, REQUESTER_DM, "what's the status of my ticket?", channel_type="im")
    status = stack.fake.wait_for(
        lambda: [t for t in stack.thread_texts(REQUESTER_DM, asked) if number in t and "L1" in t],
        what="the status, in words",
    )
    assert "Printer on floor 3 jams" in status[0]
    stack.fake.settle(quiet=0.5)
    assert not [t for t in stack.thread_texts(L1_CHANNEL, card.ts) if "status of my ticket" in t]
    assert not stack.fake.calls_to("reactions.add")  # answered in words, not relayed
    assert receipt.ts != asked


def test_it_works_now_in_a_new_dm_and_a_top_level_yes_close_the_ticket(stack: Stack) -> None:
    """People answer a DM at its top level, not in the thread of our offer: that *yes* counts."""
    _card, _receipt = _reported_printer_jams(stack)
    with transaction(stack.db.sessions) as session:
        number = str(session.scalars(select(Ticket.number)).one())
    said = stack.driver.say(REQUESTER, REQUESTER_DM, "never mind, it works now", channel_type="im")
    stack.fake.wait_for(
        lambda: [t for t in stack.thread_texts(REQUESTER_DM, said) if number in t and "yes" in t],
        what="the offer to close it",
    )
    stack.driver.say(REQUESTER, REQUESTER_DM, "yes", channel_type="im")
    stack.fake.wait_for(lambda: stack.ticket(number).status.value == "closed", what="closed")
