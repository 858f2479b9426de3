"""The whole journey over real HTTP: question → answer → solved; and question → not solved →
ticket → card in L1 → claim → replies relayed both ways → !note kept internal → escalate to L2 →
resolve → CSAT."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from bot.slack import blocks
from bot.workflow.facts import missing_facts
from models import Conversation, ConversationState, OutboxMessage, TicketEvent
from models.db import transaction
from tests.slack.conftest import (
    ENGINEER_L1,
    ENGINEER_L2,
    L1_CHANNEL,
    L2_CHANNEL,
    OTHER,
    REQUESTER,
    SUPPORT,
    Stack,
)

DM = "DREQUEST01"


def action_ids(call_blocks: list[dict]) -> set[str]:
    return {e.get("action_id") for b in call_blocks if b["type"] == "actions" for e in b["elements"]}


def test_answer_then_solved_closes_the_conversation(stack: Stack) -> None:
    ts = stack.driver.say(REQUESTER, DM, "How do I reset my forgotten password?", channel_type="im")
    answer = stack.fake.wait_for(lambda: stack.fake.posts(DM, ts), what="answer")[0]
    assert "self-service portal" in answer.args["text"]
    assert {"tl_solved", "tl_not_solved", "tl_human"} <= action_ids(answer.args["blocks"])
    context = next(b for b in answer.args["blocks"] if b["type"] == "context")["elements"][0]["text"]
    assert "Reset your password" in context and "https://kb.example.test/reset-password" in context

    shown = {"type": "message", "ts": answer.ts, "text": answer.args["text"], "blocks": answer.args["blocks"]}
    stack.driver.click(
        REQUESTER, "tl_solved", f"slack:{DM}:{ts}", channel=DM, message_ts=answer.ts, message=shown
    )
    stack.fake.wait_for(lambda: len(stack.fake.posts(DM, ts)) == 2, what="solved reply")
    # the buttons are replaced by what was chosen, so nobody presses twice
    update = stack.fake.wait_for(lambda: stack.fake.calls_to("chat.update"), what="buttons removed")[0]
    assert update.args["ts"] == answer.ts and not action_ids(update.args["blocks"])
    assert f"Solved — <@{REQUESTER}>" in json.dumps(update.args["blocks"], ensure_ascii=False)
    assert "solved" in stack.fake.posts(DM, ts)[1].args["text"].lower()
    with transaction(stack.db.sessions) as session:
        conversation = session.scalars(select(Conversation)).one()
        assert conversation.state is ConversationState.SOLVED


def test_low_confidence_asks_once_then_hands_off(stack: Stack) -> None:
    fake, driver = stack.fake, stack.driver
    ts = driver.say(REQUESTER, SUPPORT, "My monitor shows strange green lines")
    clarify = fake.wait_for(lambda: fake.posts(SUPPORT, ts), what="clarifying question")[0]
    assert "?" in clarify.args["text"] and "tl_solved" not in action_ids(clarify.args["blocks"])
    driver.say(REQUESTER, SUPPORT, "It is the external Dell screen, since this morning", thread_ts=ts)
    fake.wait_for(lambda: len(fake.posts(SUPPORT, ts)) == 2, what="handoff after one clarification")
    assert re.search(r"IT-\d+", fake.posts(SUPPORT, ts)[1].args["text"])
    card = fake.wait_for(lambda: fake.posts(L1_CHANNEL), what="card")[0]
    assert "Dell" in json.dumps(card.args["blocks"])  # the card carries the whole conversation


def test_a_clarifying_question_offers_its_articles_as_buttons_and_a_click_answers(stack: Stack) -> None:
    fake, driver = stack.fake, stack.driver
    ts = driver.say(REQUESTER, DM, "printer jobs keep failing today", channel_type="im")
    clarify = fake.wait_for(lambda: fake.posts(DM, ts), what="clarifying question")[0]
    buttons = [e for b in clarify.args["blocks"] if b["type"] == "actions" for e in b["elements"]]
    pick = next(e for e in buttons if e["action_id"].startswith(blocks.PICK_PREFIX))
    assert pick["text"]["text"] == "Add an office printer"
    assert "tl_human" in action_ids(clarify.args["blocks"])  # a person is still one click away
    shown = {
        "type": "message",
        "ts": clarify.ts,
        "text": clarify.args["text"],
        "blocks": clarify.args["blocks"],
    }
    driver.click(OTHER, pick["action_id"], pick["value"], channel=DM, message_ts=clarify.ts, message=shown)
    refusal = fake.wait_for(lambda: fake.calls_to("chat.postEphemeral"), what="refusal")[0]
    assert "who asked" in refusal.args["text"] and len(fake.posts(DM, ts)) == 1
    driver.click(
        REQUESTER, pick["action_id"], pick["value"], channel=DM, message_ts=clarify.ts, message=shown
    )
    answer = fake.wait_for(lambda: fake.posts(DM, ts)[1:], what="answer from the picked article")[0]
    assert "Settings, Printers, Add printer" in answer.args["text"]
    assert {"tl_solved", "tl_not_solved"} <= action_ids(answer.args["blocks"])
    update = fake.wait_for(lambda: fake.calls_to("chat.update"), what="buttons replaced")[0]
    assert update.args["ts"] == clarify.ts and not action_ids(update.args["blocks"])
    assert f"Add an office printer — <@{REQUESTER}>" in json.dumps(update.args["blocks"], ensure_ascii=False)
    # The same button again, now that the question is answered: told so, not answered twice.
    driver.click(
        REQUESTER, pick["action_id"], pick["value"], channel=DM, message_ts=clarify.ts, message=shown
    )
    stale = fake.wait_for(lambda: fake.posts(DM, ts)[2:], what="stale click")[0]
    assert "no longer open" in stale.args["text"]


def test_full_handoff_journey(stack: Stack) -> None:
    fake, driver = stack.fake, stack.driver
    # -- the requester asks in the support channel and gets an answer in the thread
    ts = driver.say(REQUESTER, SUPPORT, "The VPN keeps disconnecting on my laptop all day")
    fake.wait_for(lambda: fake.posts(SUPPORT, ts), what="answer")
    # -- not solved: a ticket is opened, the requester is told in the thread, a card lands in L1
    driver.click(REQUESTER, "tl_not_solved", f"slack:{SUPPORT}:{ts}", channel=SUPPORT)
    handoff = fake.wait_for(
        lambda: [c for c in fake.posts(SUPPORT, ts) if "IT-" in c.args["text"]], what="handoff"
    )
    number = re.search(r"IT-\d+", handoff[0].args["text"]).group(0)  # type: ignore[union-attr]
    assert "priority" in handoff[0].args["text"]
    card = fake.wait_for(lambda: fake.posts(L1_CHANNEL), what="L1 card")[0]
    assert number in card.args["text"]
    assert {blocks.CLAIM, blocks.ESCALATE, blocks.RESOLVE, blocks.NOTE} <= action_ids(card.args["blocks"])
    card_ts = card.ts
    # the missing facts are asked with a button that opens a modal of only those facts
    assert blocks.ADD_DETAILS in action_ids(handoff[0].args["blocks"])
    driver.click(REQUESTER, blocks.ADD_DETAILS, number, channel=SUPPORT)
    modal = fake.wait_for(lambda: fake.calls_to("views.open"), what="details modal")[0].args["view"]
    asked = {b["block_id"] for b in modal["blocks"]}
    assert asked == set(missing_facts(stack.ticket(number))) and asked

    # -- an L1 engineer claims it; the requester hears who took it
    driver.click(ENGINEER_L1, blocks.CLAIM, number, channel=L1_CHANNEL, message_ts=card_ts)
    fake.wait_for(
        lambda: any("working on" in t for t in stack.thread_texts(SUPPORT, ts)), what="claimed notice"
    )
    assert stack.ticket(number).assignee_id is not None

    # -- replies are relayed both ways with attribution
    driver.say(ENGINEER_L1, L1_CHANNEL, "Which VPN gateway do you use?", thread_ts=card_ts)
    fake.wait_for(
        lambda: any("Which VPN gateway" in t for t in stack.thread_texts(SUPPORT, ts)), what="relay out"
    )
    relayed = next(t for t in stack.thread_texts(SUPPORT, ts) if "Which VPN gateway" in t)
    assert f"<@{ENGINEER_L1}>" in relayed
    driver.say(OTHER, SUPPORT, "Same problem here, following", thread_ts=ts)  # a colleague: not relayed
    driver.say(REQUESTER, SUPPORT, "The Frankfurt one", thread_ts=ts)
    fake.wait_for(
        lambda: any("Frankfurt" in t for t in stack.thread_texts(L1_CHANNEL, card_ts)), what="relay in"
    )
    assert any(f"<@{REQUESTER}>" in t for t in stack.thread_texts(L1_CHANNEL, card_ts) if "Frankfurt" in t)

    # -- internal notes (typed with !note, or from the card's button) never reach the requester
    driver.say(ENGINEER_L1, L1_CHANNEL, "!note gateway FRA-2 is flaky, known issue", thread_ts=card_ts)
    driver.click(ENGINEER_L1, blocks.NOTE, number, channel=L1_CHANNEL, message_ts=card_ts)
    fake.wait_for(lambda: len(fake.calls_to("views.open")) == 2, what="note modal")
    response = driver.submit_view(ENGINEER_L1, blocks.NOTE_VIEW, {"note": "customer is a VIP"}, number)
    assert response.status == 200
    fake.wait_for(lambda: _notes(stack) == 2, what="two internal notes")

    # -- escalate to L2: a card lands in L2's channel and the requester is told
    driver.click(ENGINEER_L1, blocks.ESCALATE, number, channel=L1_CHANNEL, message_ts=card_ts)
    fake.wait_for(lambda: len(fake.calls_to("views.open")) == 3, what="escalate modal")
    driver.submit_view(ENGINEER_L1, blocks.ESCALATE_VIEW, {"reason": "needs network team"}, number)
    l2_card = fake.wait_for(lambda: fake.posts(L2_CHANNEL), what="L2 card")[0]
    assert number in l2_card.args["text"]
    fake.wait_for(lambda: any("L2" in t for t in stack.thread_texts(SUPPORT, ts)), what="escalated notice")

    # -- an L2 engineer (member through the Slack user group) resolves it; the requester gets CSAT
    l2_ts = l2_card.ts
    driver.click(ENGINEER_L2, blocks.CLAIM, number, channel=L2_CHANNEL, message_ts=l2_ts)
    fake.wait_for(lambda: stack.ticket(number).status.value == "in_progress", what="L2 claim")
    driver.click(ENGINEER_L2, blocks.RESOLVE, number, channel=L2_CHANNEL, message_ts=l2_ts)
    fake.wait_for(lambda: len(fake.calls_to("views.open")) == 4, what="resolve modal")
    driver.submit_view(ENGINEER_L2, blocks.RESOLVE_VIEW, {"resolution": "Moved you to gateway FRA-1"}, number)
    csat = fake.wait_for(
        lambda: [c for c in fake.posts(SUPPORT, ts) if "tl_csat_5" in action_ids(c.args.get("blocks") or [])],
        what="CSAT buttons",
    )[0]
    assert {f"tl_csat_{n}" for n in range(1, 6)} <= action_ids(csat.args["blocks"])
    driver.click(REQUESTER, "tl_csat_5", f"{number}|5", channel=SUPPORT, message_ts="1800000000.999999")
    fake.wait_for(lambda: stack.ticket(number).csat_score == 5, what="rating stored")
    fake.settle()
    assert not any("Same problem here" in str(c.args) for c in fake.calls_to("chat.postMessage"))

    # -- nothing internal ever reached the requester's thread (or any DM)
    to_requester = [
        str(c.args) for c in fake.calls_to("chat.postMessage") if c.args["channel"] in {SUPPORT, DM}
    ]
    for secret in ("FRA-2 is flaky", "VIP", "!note"):
        assert not any(secret in text for text in to_requester), secret
    with transaction(stack.db.sessions) as session:
        assert all(m.delivered_at is not None for m in session.scalars(select(OutboxMessage)))


def _notes(stack: Stack) -> int:
    with transaction(stack.db.sessions) as session:
        return len(list(session.scalars(select(TicketEvent).where(TicketEvent.internal.is_(True)))))


def test_a_dm_reply_outside_the_thread_carries_the_case_on(stack: Stack) -> None:
    fake, driver = stack.fake, stack.driver
    first = driver.say(REQUESTER, DM, "My monitor shows strange green lines", channel_type="im")
    clarify = fake.wait_for(lambda: fake.posts(DM, first), what="clarifying question")[0]
    assert "?" in clarify.args["text"]
    # people answer in the DM itself, not in the thread under their first message
    second = driver.say(
        REQUESTER, DM, "The external Dell screen stays black since this morning", channel_type="im"
    )
    reply = fake.wait_for(lambda: fake.posts(DM, second), what="reply in the new thread")[0]
    number = re.search(r"IT-\d+", reply.args["text"])
    assert number, reply.args["text"]  # the second round of the same case, handed off
    with transaction(stack.db.sessions) as session:
        ticket = stack.ticket(number.group(0))
        assert "green lines" in ticket.body and "Dell screen" in ticket.body
        keys = {c.key: c.state for c in session.scalars(select(Conversation))}
    assert keys[f"slack:{DM}:{first}"] is ConversationState.OPEN
    assert keys[f"slack:{DM}:{second}"] is ConversationState.HANDED_OFF
