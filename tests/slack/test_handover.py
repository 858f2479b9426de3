"""What engineers see when a ticket moves between tiers and between them and the requester."""

from __future__ import annotations

import json

from sqlalchemy import select

from bot.slack import blocks
from models import TicketEvent
from models.db import transaction
from tests.slack.conftest import (
    ENGINEER_L1,
    L1_CHANNEL,
    L2_CHANNEL,
    REQUESTER,
    SUPPORT,
    Stack,
    hand_off,
)


def _claim(stack: Stack, number: str, card_ts: str) -> None:
    stack.driver.click(ENGINEER_L1, blocks.CLAIM, number, channel=L1_CHANNEL, message_ts=card_ts)
    stack.fake.wait_for(lambda: stack.ticket(number).assignee_id, what="claimed")


def _last_update(stack: Stack, ts: str) -> dict[str, object]:
    return [c.args for c in stack.fake.calls_to("chat.update") if c.args["ts"] == ts][-1]


def _action_ids(card: dict[str, object]) -> set[str]:
    return {
        e["action_id"]
        for b in card["blocks"]  # type: ignore[attr-defined]
        if b["type"] == "actions"
        for e in b["elements"]
    }


def test_the_next_tier_hears_why_and_what_was_tried_and_the_old_card_loses_its_buttons(stack: Stack) -> None:
    number, _ = hand_off(stack)
    l1_card = stack.fake.posts(L1_CHANNEL)[0]
    _claim(stack, number, l1_card.ts)
    stack.driver.say(
        ENGINEER_L1, L1_CHANNEL, "!note reinstalled the VPN client, no change", thread_ts=l1_card.ts
    )
    stack.fake.settle()
    stack.driver.submit_view(ENGINEER_L1, blocks.ESCALATE_VIEW, {"reason": "needs the network team"}, number)
    l2_card = stack.fake.wait_for(lambda: stack.fake.posts(L2_CHANNEL), what="L2 card")[0]
    handover = stack.fake.wait_for(
        lambda: [t for t in stack.thread_texts(L2_CHANNEL, l2_card.ts) if "needs the network team" in t],
        what="the reason in the L2 card's thread",
    )
    assert "reinstalled the VPN client" in handover[0]
    stack.fake.settle()
    old = _last_update(stack, l1_card.ts)
    assert "Moved to L2" in str(old["text"]) and not _action_ids(old)


def test_the_card_stops_saying_waiting_once_the_requester_answers(stack: Stack) -> None:
    number, ts = hand_off(stack)
    card = stack.fake.posts(L1_CHANNEL)[0]
    _claim(stack, number, card.ts)
    stack.driver.submit_view(
        ENGINEER_L1, blocks.WAIT_VIEW, {"question": "Which building are you in?"}, number
    )
    stack.fake.wait_for(lambda: stack.ticket(number).status.value == "waiting_on_user", what="on hold")
    stack.fake.settle()
    assert "waiting on user" in json.dumps(_last_update(stack, card.ts)["blocks"]).lower()
    stack.driver.say(REQUESTER, SUPPORT, "Building C, third floor", thread_ts=ts)
    stack.fake.wait_for(lambda: stack.ticket(number).status.value == "in_progress", what="resumed")
    # The card is redrawn after the requester's words are posted in its thread (with similar
    # tickets looked up in between, which a busy machine can take its time over).
    stack.fake.wait_for(
        lambda: "in progress" in json.dumps(_last_update(stack, card.ts)["blocks"]).lower(),
        what="the card saying in progress",
    )


def test_a_reply_that_raises_the_priority_tells_the_requester_the_new_promise(stack: Stack) -> None:
    number, ts = hand_off(stack)
    stack.fake.settle()
    stack.driver.say(
        REQUESTER, SUPPORT, "It blocks my work and everyone in the company is affected", thread_ts=ts
    )
    told = stack.fake.wait_for(
        lambda: [t for t in stack.thread_texts(SUPPORT, ts) if "priority is now" in t], what="new promise"
    )
    assert number in told[0] and stack.ticket(number).priority in told[0]


def test_resolve_on_an_unclaimed_ticket_is_refused_before_the_form_opens(stack: Stack) -> None:
    number, _ = hand_off(stack)
    card = stack.fake.posts(L1_CHANNEL)[0]
    stack.driver.click(ENGINEER_L1, blocks.RESOLVE, number, channel=L1_CHANNEL, message_ts=card.ts)
    refusal = stack.fake.wait_for(lambda: stack.fake.calls_to("chat.postEphemeral"), what="refusal")[0]
    assert "Claim it first" in str(refusal.args["text"])
    assert stack.fake.calls_to("views.open") == []


def test_a_note_is_acknowledged_and_the_card_shows_the_clock_that_is_running(stack: Stack) -> None:
    number, _ = hand_off(stack)
    card = stack.fake.posts(L1_CHANNEL)[0]
    assert "Respond by" in json.dumps(card.args["blocks"])
    _claim(stack, number, card.ts)
    note = stack.driver.say(ENGINEER_L1, L1_CHANNEL, "!note: checked the gateway logs", thread_ts=card.ts)
    lock = stack.fake.wait_for(
        lambda: [c for c in stack.fake.calls_to("reactions.add") if c.args["timestamp"] == note],
        what="padlock",
    )
    assert lock[0].args["name"] == "lock"
    with transaction(stack.db.sessions) as session:
        kept = session.scalars(
            select(TicketEvent.text).where(TicketEvent.kind == "note", TicketEvent.internal.is_(True))
        ).all()
    assert kept == ["checked the gateway logs"]  # "!note:" as people type it, without the colon
    stack.driver.say(ENGINEER_L1, L1_CHANNEL, "Could you restart the laptop?", thread_ts=card.ts)
    stack.fake.wait_for(lambda: stack.ticket(number).first_response_at, what="first response")
    stack.fake.settle()
    assert "Resolve by" in json.dumps(_last_update(stack, card.ts)["blocks"])


def test_a_reopen_passes_the_words_on_once_and_tells_the_requester(stack: Stack) -> None:
    number, ts = hand_off(stack)
    card = stack.fake.posts(L1_CHANNEL)[0]
    _claim(stack, number, card.ts)
    stack.driver.submit_view(
        ENGINEER_L1, blocks.RESOLVE_VIEW, {"resolution": "Reinstalled the client"}, number
    )
    stack.fake.wait_for(lambda: stack.ticket(number).status.value == "resolved", what="resolved")
    stack.fake.settle()
    stack.driver.say(REQUESTER, SUPPORT, "It is broken again since this morning", thread_ts=ts)
    stack.fake.wait_for(
        lambda: [t for t in stack.thread_texts(SUPPORT, ts) if "reopened" in t], what="requester told"
    )
    stack.fake.settle()
    words = [t for t in stack.thread_texts(L1_CHANNEL, card.ts) if "broken again since this morning" in t]
    assert len(words) == 1, words
    # the rating prompt of the resolution that did not hold loses its buttons
    prompt = _csat_prompt(stack, ts)
    assert "reopened" in str(_last_update(stack, prompt)["text"])
    assert not _action_ids(_last_update(stack, prompt))


def test_a_requester_who_says_it_works_now_can_withdraw_the_ticket_and_the_card_says_so(stack: Stack) -> None:
    number, ts = hand_off(stack)
    card = stack.fake.posts(L1_CHANNEL)[0]
    stack.driver.say(REQUESTER, SUPPORT, "never mind, it works now", thread_ts=ts)
    stack.fake.wait_for(
        lambda: [t for t in stack.thread_texts(SUPPORT, ts) if f"Shall I close {number}" in t], what="offer"
    )
    assert stack.ticket(number).status.value == "new"
    stack.driver.say(REQUESTER, SUPPORT, "yes", thread_ts=ts)
    stack.fake.wait_for(lambda: stack.ticket(number).status.value == "closed", what="withdrawn")
    stack.fake.wait_for(
        lambda: [t for t in stack.thread_texts(L1_CHANNEL, card.ts) if "withdrawn by the requester" in t],
        what="note in the card's thread",
    )
    stack.fake.wait_for(
        lambda: "closed" in json.dumps(_last_update(stack, card.ts)["blocks"]).lower(),
        what="the card saying closed",
    )
    assert blocks.CLAIM not in json.dumps(_last_update(stack, card.ts)["blocks"])  # nothing left to claim


def test_in_a_dm_yes_written_outside_the_thread_withdraws_the_ticket(stack: Stack) -> None:
    dm = "D0REQUEST1"
    number, ts = hand_off(stack, channel=dm)
    stack.driver.say(REQUESTER, dm, "fixed itself", thread_ts=ts, channel_type="im")
    stack.fake.wait_for(
        lambda: [t for t in stack.thread_texts(dm, ts) if f"Shall I close {number}" in t], what="offer"
    )
    yes = stack.driver.say(REQUESTER, dm, "yes", channel_type="im")  # at the top of the DM
    stack.fake.wait_for(lambda: stack.ticket(number).status.value == "closed", what="withdrawn")
    told = stack.fake.wait_for(
        lambda: [t for t in stack.thread_texts(dm, yes) if f"{number} is closed" in t], what="reply"
    )
    assert told


def test_a_rating_typed_in_the_thread_after_the_resolution_closes_the_ticket_unreopened(stack: Stack) -> None:
    """People type "5" under "Rate the help from 1 to 5" as often as they press the button."""
    number, ts = hand_off(stack)
    card = stack.fake.posts(L1_CHANNEL)[0]
    _claim(stack, number, card.ts)
    stack.driver.click(ENGINEER_L1, blocks.RESOLVE, number, channel=L1_CHANNEL, message_ts=card.ts)
    stack.fake.wait_for(lambda: stack.fake.calls_to("views.open"), what="resolve modal")
    stack.driver.submit_view(
        ENGINEER_L1, blocks.RESOLVE_VIEW, {"resolution": "Reset the VPN profile"}, number
    )
    prompt = _csat_prompt(stack, ts)
    stack.driver.say(REQUESTER, SUPPORT, "5, thanks!", thread_ts=ts)
    stack.fake.wait_for(
        lambda: [t for t in stack.thread_texts(SUPPORT, ts) if f"rating {number} 5/5" in t], what="thanks"
    )
    ticket = stack.ticket(number)
    assert (ticket.csat_score, ticket.status.value, ticket.reopen_count) == (5, "closed", 0)
    # the buttons of "How did we do?" are replaced by the rating, as a click would do
    stack.fake.wait_for(
        lambda: [c for c in stack.fake.calls_to("chat.update") if c.args["ts"] == prompt], what="redraw"
    )
    assert "rated" in str(_last_update(stack, prompt)["text"]) and "5/5" in str(
        _last_update(stack, prompt)["text"]
    )
    assert not _action_ids(_last_update(stack, prompt))


def test_a_click_on_a_rating_is_refused_for_a_ticket_that_was_reopened(stack: Stack) -> None:
    """A prompt that somehow kept its buttons (an update that failed) cannot rate a reopened ticket."""
    number, ts = hand_off(stack)
    card = stack.fake.posts(L1_CHANNEL)[0]
    _claim(stack, number, card.ts)
    stack.driver.submit_view(ENGINEER_L1, blocks.RESOLVE_VIEW, {"resolution": "New cable"}, number)
    stack.fake.wait_for(lambda: stack.ticket(number).status.value == "resolved", what="resolved")
    stack.fake.settle()
    prompt = _csat_prompt(stack, ts)
    stack.driver.say(REQUESTER, SUPPORT, "still broken", thread_ts=ts)
    stack.fake.wait_for(lambda: stack.ticket(number).status.value != "resolved", what="reopened")
    stack.driver.click(REQUESTER, "tl_csat_5", f"{number}|5", channel=SUPPORT, message_ts=prompt)
    refusal = stack.fake.wait_for(lambda: stack.fake.calls_to("chat.postEphemeral"), what="refusal")
    assert "rated once it is resolved" in str(refusal[-1].args["text"])
    assert stack.ticket(number).csat_score is None


def _csat_prompt(stack: Stack, thread_ts: str) -> str:
    """The ts of the "How did we do?" message in the requester's thread."""
    posts = stack.fake.wait_for(
        lambda: [
            c for c in stack.fake.posts(SUPPORT, thread_ts) if "tl_csat_5" in json.dumps(c.args.get("blocks"))
        ],
        what="rating prompt",
    )
    return str(posts[-1].ts)
