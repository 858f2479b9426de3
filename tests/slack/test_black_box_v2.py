"""What a black-box Slack driver tries after the happy path: slash subcommands an engineer would
type (and one that says "payload"), Web API failures on purely cosmetic updates, a ticket sent back
to a tier it left, and a new ticket's rows delivered at once."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import select

from models import OutboxMessage
from models.db import transaction
from tests.slack.conftest import (
    ENGINEER_L1,
    ENGINEER_L2,
    L1_CHANNEL,
    L2_CHANNEL,
    REQUESTER,
    SUPPORT,
    Stack,
    hand_off,
)

QUESTION = "How do I reset my forgotten password?"


def test_a_solved_click_is_not_reported_as_failed_when_slack_fails_to_redraw_the_buttons(
    stack: Stack,
) -> None:
    d = stack.driver
    ts = d.say(REQUESTER, SUPPORT, QUESTION)
    answer = stack.fake.wait_for(lambda: stack.fake.posts(SUPPORT, ts), what="answer")[0]
    stack.fake.fail_next("chat.update", 500, times=10)  # outlasts the client's own retries
    message = {
        "type": "message",
        "ts": answer.ts,
        "text": answer.args["text"],
        "blocks": answer.args["blocks"],
    }
    d.click(
        REQUESTER,
        "tl_solved",
        f"slack:{SUPPORT}:{ts}",
        channel=SUPPORT,
        message_ts=answer.ts,
        message=message,
    )
    stack.fake.wait_for(lambda: len(stack.fake.posts(SUPPORT, ts)) == 2, what="the thanks")
    stack.fake.wait_for(lambda: len(stack.fake.calls_to("chat.update")) >= 3, what="the redraw attempts")
    stack.fake.settle(quiet=1.5)  # the client's retries back off between attempts
    assert "glad" in str(stack.fake.posts(SUPPORT, ts)[-1].args["text"]).lower()
    # The choice was recorded and thanked for: no "something went wrong, try again" on top of it.
    assert stack.fake.calls_to("chat.postEphemeral") == []


def test_a_rating_is_not_reported_as_failed_when_slack_fails_to_redraw_the_buttons(stack: Stack) -> None:
    d = stack.driver
    number, thread = hand_off(stack)
    d.click(ENGINEER_L1, "tl_claim", number, channel=L1_CHANNEL)
    stack.fake.wait_for(lambda: stack.ticket(number).assignee_id is not None, what="claim")
    d.submit_view(ENGINEER_L1, "tl_resolve_view", {"resolution": "Reinstalled the VPN client"}, number)
    csat = stack.fake.wait_for(
        lambda: [c for c in stack.fake.posts(SUPPORT, thread) if "How did we do" in str(c.args["text"])],
        what="CSAT buttons",
    )[0]
    stack.fake.settle(quiet=0.4)
    stack.fake.fail_next("chat.update", 500, times=10)
    d.click(REQUESTER, "tl_csat_4", f"{number}|4", channel=SUPPORT, message_ts=csat.ts)
    stack.fake.wait_for(lambda: stack.ticket(number).csat_score == 4, what="rating")
    stack.fake.wait_for(lambda: len(stack.fake.calls_to("chat.update")) >= 3, what="the redraw attempts")
    stack.fake.settle(quiet=1.5)  # the client's retries back off between attempts
    assert [c.args["text"] for c in stack.fake.calls_to("chat.postEphemeral")] == []


def test_queue_lists_the_engineers_waiting_tickets_and_is_for_staff(stack: Stack) -> None:
    d = stack.driver
    number, _ = hand_off(stack)
    d.command(ENGINEER_L1, L1_CHANNEL, "queue")
    d.command(REQUESTER, SUPPORT, "queue")
    answer = stack.fake.wait_for(lambda: stack.fake.responses_to(ENGINEER_L1), what="queue")[0]
    assert number in answer and "L1" in answer and "commands" not in answer
    refusal = stack.fake.wait_for(lambda: stack.fake.responses_to(REQUESTER), what="refusal")[0]
    assert "IT staff" in refusal and number not in refusal

    d.click(ENGINEER_L1, "tl_claim", number, channel=L1_CHANNEL)
    stack.fake.wait_for(lambda: stack.ticket(number).assignee_id is not None, what="claim")
    d.command(ENGINEER_L1, L1_CHANNEL, "queue")
    after = stack.fake.wait_for(lambda: stack.fake.responses_to(ENGINEER_L1)[1:], what="empty queue")[0]
    assert number not in after and "no unclaimed" in after.lower()


def test_an_unknown_subcommand_is_named_before_the_help(stack: Stack) -> None:
    stack.driver.command(REQUESTER, SUPPORT, "frobnicate now")
    stack.driver.command(ENGINEER_L1, SUPPORT, "help")
    unknown = stack.fake.wait_for(lambda: stack.fake.responses_to(REQUESTER), what="unknown")[0]
    assert "frobnicate" in unknown and "/tierline status" in unknown
    helped = stack.fake.wait_for(lambda: stack.fake.responses_to(ENGINEER_L1), what="help")[0]
    assert "frobnicate" not in helped and "/tierline queue" in helped


def test_a_slash_command_whose_text_says_payload_is_answered(stack: Stack) -> None:
    """Bolt reads any form body containing "payload" as an interactivity payload; the command's
    words must not decide whether it is understood."""
    response = stack.driver.command(REQUESTER, SUPPORT, "status of the payload upload")
    assert response.status == 200, response
    answer = stack.fake.wait_for(lambda: stack.fake.responses_to(REQUESTER), what="answer")[0]
    assert answer == "You have no tickets. Ask me anything here."

    stack.driver.command(REQUESTER, SUPPORT, "report the upload payload is rejected")
    view = stack.fake.wait_for(lambda: stack.fake.calls_to("views.open"), what="report form")[0]
    assert view.args["view"]["blocks"][0]["element"]["initial_value"] == "the upload payload is rejected"


def _last_render(stack: Stack, channel: str, ts: str) -> dict[str, Any]:
    """The card as Slack shows it now: its last chat.update, else the post that created it."""
    renders = [
        c.args
        for c in stack.fake.calls
        if c.method in ("chat.postMessage", "chat.update")
        and c.args.get("channel") == channel
        and (c.args.get("ts") == ts or (c.method == "chat.postMessage" and c.ts == ts))
    ]
    return renders[-1]


def _buttons(args: dict[str, Any]) -> set[str]:
    return {
        str(e.get("action_id"))
        for b in args.get("blocks") or []
        if b["type"] == "actions"
        for e in b["elements"]
    }


def test_a_ticket_sent_back_to_a_tier_it_left_is_workable_from_that_tiers_card(stack: Stack) -> None:
    d, fake = stack.driver, stack.fake
    number, _ = hand_off(stack)  # a "needs triage" ticket in L1
    l1_card = fake.posts(L1_CHANNEL)[0].ts
    d.click(ENGINEER_L1, "tl_correct_category", "", channel=L1_CHANNEL, selected=f"{number}|network")
    l2_card = fake.wait_for(
        lambda: [c for c in fake.posts(L2_CHANNEL) if not c.args.get("thread_ts")], what="L2"
    )
    fake.settle(quiet=0.4)
    # L2 finds it is the laptop after all: back to L1, whose card said "Moved to L2".
    d.click(ENGINEER_L2, "tl_correct_category", "", channel=L2_CHANNEL, selected=f"{number}|hardware")
    fake.wait_for(lambda: stack.ticket(number).tier.value == "L1", what="re-route")
    fake.wait_for(lambda: fake.posts(L1_CHANNEL, l1_card), what="handover note in the L1 thread")
    fake.settle(quiet=0.5)

    l1_now, l2_now = _last_render(stack, L1_CHANNEL, l1_card), _last_render(stack, L2_CHANNEL, l2_card[0].ts)
    assert {"tl_claim", "tl_resolve"} <= _buttons(l1_now), l1_now["text"]
    assert _buttons(l2_now) == set() and "Moved to L1" in l2_now["text"]
    assert any("category is hardware" in str(c.args["text"]) for c in fake.posts(L1_CHANNEL, l1_card))

    # The L1 engineer works it from the L1 card, and the requester's words reach that card's thread.
    d.click(ENGINEER_L1, "tl_claim", number, channel=L1_CHANNEL, message_ts=l1_card)
    fake.wait_for(lambda: stack.ticket(number).assignee_id is not None, what="claim")
    fake.settle(quiet=0.4)
    assert "In progress" in _last_render(stack, L1_CHANNEL, l1_card)["text"]
    assert _buttons(_last_render(stack, L2_CHANNEL, l2_card[0].ts)) == set()


def test_a_new_tickets_card_and_the_requesters_next_words_delivered_at_once_post_one_card(
    stack: Stack,
) -> None:
    """Two listener threads may deliver a new ticket's rows side by side: its card, and the words
    the requester added a moment later. Only one of them may post the card."""
    d, fake = stack.driver, stack.fake
    fake.refuse_next("chat.postMessage", "internal_error", channel=L1_CHANNEL, times=100)
    ts = d.say(REQUESTER, SUPPORT, "The VPN keeps disconnecting on my laptop")
    fake.wait_for(lambda: fake.posts(SUPPORT, ts), what="answer")
    d.click(REQUESTER, "tl_human", f"slack:{SUPPORT}:{ts}", channel=SUPPORT)
    fake.wait_for(lambda: len(fake.posts(SUPPORT, ts)) == 2, what="handoff reply")
    d.say(REQUESTER, SUPPORT, "It started after the Windows update", thread_ts=ts)
    fake.wait_for(lambda: len(fake.posts(L1_CHANNEL)) == 2, what="both rows tried and refused")
    fake.settle(quiet=0.4)
    fake.failures.clear()
    with transaction(stack.db.sessions) as session:
        rows = list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.delivered_at.is_(None), OutboxMessage.audience == "tier_queue")
                .order_by(OutboxMessage.id)
            )
        )
        session.expunge_all()
    assert [r.kind for r in rows] == ["ticket_created", "relay"]
    fake.fail_next("chat.postMessage", 429, retry_after=1)  # the first card post takes a second
    threads = [threading.Thread(target=stack.services.notifier.deliver, args=(row,)) for row in rows]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    fake.settle(quiet=0.4)

    cards = [c for c in fake.posts(L1_CHANNEL) if c.response.get("ok") and not c.args.get("thread_ts")]
    assert len(cards) == 1, [c.args["text"] for c in cards]
    thread_texts = [str(c.args["text"]) for c in fake.posts(L1_CHANNEL, cards[0].ts)]
    assert thread_texts == [f"*<@{REQUESTER}>* (requester): It started after the Windows update"]
