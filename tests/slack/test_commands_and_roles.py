"""Slash commands, the "Report to IT" shortcut, App Home, card corrections, and who may do what."""

from __future__ import annotations

import json

from sqlalchemy import select

from bot.slack import blocks
from models import Ticket, TicketEvent
from models.db import transaction
from tests.slack.conftest import (
    ADMIN,
    ENGINEER_L1,
    ENGINEER_L2,
    L1_CHANNEL,
    L2_CHANNEL,
    OTHER,
    REQUESTER,
    SUPPORT,
    Stack,
    hand_off,
)


def ephemerals_to(stack: Stack, user: str) -> list[str]:
    """What only `user` was shown: ephemeral messages and replies to their slash commands."""
    return [
        str(c.args.get("text")) for c in stack.fake.calls_to("chat.postEphemeral") if c.args["user"] == user
    ] + stack.fake.responses_to(user)


def test_requester_cannot_claim_and_engineer_of_another_tier_cannot_resolve(stack: Stack) -> None:
    number, _ = hand_off(stack)
    card = stack.fake.posts(L1_CHANNEL)[0]
    stack.driver.click(REQUESTER, blocks.CLAIM, number, channel=L1_CHANNEL, message_ts=card.ts)
    stack.fake.wait_for(lambda: ephemerals_to(stack, REQUESTER), what="refusal to the requester")
    assert "cannot" in ephemerals_to(stack, REQUESTER)[0] or "not" in ephemerals_to(stack, REQUESTER)[0]
    # an L2 engineer is not a member of L1: no claim, no resolve modal
    stack.driver.click(ENGINEER_L2, blocks.CLAIM, number, channel=L1_CHANNEL, message_ts=card.ts)
    stack.driver.click(ENGINEER_L2, blocks.RESOLVE, number, channel=L1_CHANNEL, message_ts=card.ts)
    stack.fake.wait_for(lambda: len(ephemerals_to(stack, ENGINEER_L2)) == 2, what="two refusals")
    assert all("L1" in text for text in ephemerals_to(stack, ENGINEER_L2))
    stack.fake.settle()
    assert stack.ticket(number).assignee_id is None
    assert not stack.fake.calls_to("views.open")


def test_claim_race_has_one_winner_and_the_loser_is_told(stack: Stack) -> None:
    number, _ = hand_off(stack)
    card = stack.fake.posts(L1_CHANNEL)[0]
    stack.driver.click(ENGINEER_L1, blocks.CLAIM, number, channel=L1_CHANNEL, message_ts=card.ts)
    stack.driver.click(ADMIN, blocks.CLAIM, number, channel=L1_CHANNEL, message_ts=card.ts)
    refusal = stack.fake.wait_for(lambda: stack.fake.calls_to("chat.postEphemeral"), what="loser told")[0]
    with transaction(stack.db.sessions) as session:
        claims = list(session.scalars(select(TicketEvent).where(TicketEvent.kind == "claimed")))
        assert len(claims) == 1
        winner = claims[0].actor.external_id
    loser = ADMIN if winner == ENGINEER_L1 else ENGINEER_L1
    assert refusal.args["user"] == loser and f"claimed by <@{winner}>" in refusal.args["text"]


def test_card_menu_corrects_category_and_priority(stack: Stack) -> None:
    number, _ = hand_off(stack)
    card = stack.fake.posts(L1_CHANNEL)[0]
    stack.driver.click(
        ENGINEER_L1,
        blocks.CORRECT_PRIORITY,
        "",
        channel=L1_CHANNEL,
        message_ts=card.ts,
        selected=f"{number}|high",
    )
    stack.fake.wait_for(lambda: stack.ticket(number).priority == "high", what="priority corrected")
    before = stack.ticket(number).sla_response_due
    stack.driver.click(
        ENGINEER_L1,
        blocks.CORRECT_CATEGORY,
        "",
        channel=L1_CHANNEL,
        message_ts=card.ts,
        selected=f"{number}|network",
    )
    # network belongs to L2 (routing): the corrected ticket moves there and L2 gets a card
    l2_card = stack.fake.wait_for(lambda: stack.fake.posts(L2_CHANNEL), what="re-routed to L2")[0]
    assert number in l2_card.args["text"] and "network" in l2_card.args["text"]
    ticket = stack.ticket(number)
    assert (ticket.category, ticket.tier.value, ticket.needs_triage) == ("network", "L2", False)
    assert (
        before is not None and ticket.sla_response_due == before
    )  # high: re-timed once, on the priority change
    with transaction(stack.db.sessions) as session:
        kinds = set(session.scalars(select(TicketEvent.kind)))
    assert {"category_changed", "priority_changed"} <= kinds  # what the next training reads
    # Once everything has been delivered, the L1 card shows both corrections: card refreshes
    # racing each other (the click's own and the outbox's) must not leave an older rendering last.
    stack.fake.settle(quiet=0.5)
    updated = [c for c in stack.fake.calls_to("chat.update") if c.args["ts"] == card.ts][-1]
    assert "network" in updated.args["text"] and "high" in updated.args["text"]
    # a requester cannot use the menu
    stack.driver.click(
        REQUESTER,
        blocks.CORRECT_PRIORITY,
        "",
        channel=L2_CHANNEL,
        message_ts=l2_card.ts,
        selected=f"{number}|low",
    )
    stack.fake.wait_for(lambda: ephemerals_to(stack, REQUESTER), what="refusal")
    assert stack.ticket(number).priority == "high"


def test_missing_facts_buttons_and_modal_update_the_ticket(stack: Stack) -> None:
    number, ts = hand_off(stack, text="Outlook crashes when I open the calendar")
    handoff = next(c for c in stack.fake.posts(SUPPORT, ts) if number in str(c.args.get("text")))
    assert "tl_fact_urgency_blocking" in {
        e["action_id"] for b in handoff.args["blocks"] if b["type"] == "actions" for e in b["elements"]
    }
    stack.driver.click(
        REQUESTER,
        "tl_fact_urgency_blocking",
        f"{number}|urgency|blocking",
        channel=SUPPORT,
        message_ts=handoff.ts,
    )
    stack.fake.wait_for(lambda: stack.ticket(number).urgency == "blocking", what="urgency stored")
    stack.driver.submit_view(
        REQUESTER, blocks.DETAILS_VIEW, {"impact": "everyone", "device": "ThinkPad T14"}, number
    )
    stack.fake.wait_for(lambda: stack.ticket(number).impact == "everyone", what="impact stored")
    ticket = stack.ticket(number)
    assert ticket.facts["device"] == "ThinkPad T14"
    assert ticket.priority in {"critical", "high"}  # everyone blocked: the ITIL matrix raises it
    # someone else cannot add facts to my ticket: refused, privately
    stack.driver.submit_view(OTHER, blocks.DETAILS_VIEW, {"device": "toaster"}, number)
    refusal = stack.fake.wait_for(lambda: ephemerals_to(stack, OTHER), what="refusal")[0]
    assert number in refusal
    assert stack.ticket(number).facts["device"] == "ThinkPad T14"


def test_report_command_opens_a_modal_that_files_a_ticket(stack: Stack) -> None:
    response = stack.driver.command(REQUESTER, SUPPORT, "report printer on floor 3 jams")
    assert response.status == 200
    view = stack.fake.wait_for(lambda: stack.fake.calls_to("views.open"), what="modal")[0].args["view"]
    assert view["callback_id"] == blocks.REPORT_VIEW
    empty = stack.driver.submit_view(
        REQUESTER, blocks.REPORT_VIEW, {"subject": " ", "details": "x"}, view["private_metadata"]
    )
    assert json.loads(empty.body)["response_action"] == "errors"
    stack.driver.submit_view(
        REQUESTER,
        blocks.REPORT_VIEW,
        {
            "subject": "Printer on floor 3 jams",
            "details": "Every job jams at the second page",
            "urgency": "workaround",
        },
        view["private_metadata"],
    )
    card = stack.fake.wait_for(lambda: stack.fake.posts(L1_CHANNEL), what="card")[0]
    assert "Printer on floor 3 jams" in card.args["text"]
    dm = stack.fake.wait_for(
        lambda: [c for c in stack.fake.calls_to("chat.postMessage") if c.args["channel"].startswith("D")],
        what="receipt DM",
    )[0]
    assert "IT-" in dm.args["text"]
    # /tierline status lists it, ephemerally
    stack.driver.command(REQUESTER, SUPPORT, "status")
    status = stack.fake.wait_for(
        lambda: [t for t in ephemerals_to(stack, REQUESTER) if "IT-" in t], what="status"
    )
    assert "Printer on floor 3 jams" in status[0]


def test_report_shortcut_files_from_a_message_and_answers_in_its_thread(stack: Stack) -> None:
    message = {
        "type": "message",
        "user": REQUESTER,
        "ts": "1700000555.000100",
        "text": "Wi-Fi drops in room 4B",
    }
    stack.driver.shortcut(REQUESTER, blocks.REPORT_SHORTCUT, channel=SUPPORT, message=message)
    view = stack.fake.wait_for(lambda: stack.fake.calls_to("views.open"), what="modal")[0].args["view"]
    assert "Wi-Fi drops" in json.dumps(view)
    stack.driver.submit_view(
        REQUESTER,
        blocks.REPORT_VIEW,
        {"subject": "Wi-Fi drops in room 4B", "details": ""},
        view["private_metadata"],
    )
    receipt = stack.fake.wait_for(
        lambda: stack.fake.posts(SUPPORT, "1700000555.000100"), what="receipt in thread"
    )
    assert "IT-" in receipt[0].args["text"]


def test_stats_and_retrain_are_for_staff_and_admins(stack: Stack) -> None:
    stack.driver.command(REQUESTER, SUPPORT, "retrain")
    stack.driver.command(REQUESTER, SUPPORT, "stats")
    stack.fake.wait_for(lambda: len(ephemerals_to(stack, REQUESTER)) == 2, what="two refusals")
    assert "admins" in ephemerals_to(stack, REQUESTER)[0] or "admins" in ephemerals_to(stack, REQUESTER)[1]
    stack.driver.command(ENGINEER_L1, SUPPORT, "stats")
    stats = stack.fake.wait_for(lambda: ephemerals_to(stack, ENGINEER_L1), what="stats")[0]
    assert "Open tickets" in stats and "Deflection" in stats
    stack.driver.command(ADMIN, SUPPORT, "retrain")
    result = stack.fake.wait_for(
        lambda: [t for t in stack.fake.responses_to(ADMIN) if "promoted" in t], what="retrain result"
    )
    assert ADMIN in result[0]
    stack.driver.command(REQUESTER, SUPPORT, "")
    stack.fake.wait_for(
        lambda: any("/tierline report" in t for t in ephemerals_to(stack, REQUESTER)), what="help"
    )


def test_app_home_differs_by_role(stack: Stack) -> None:
    hand_off(stack)
    for user in (REQUESTER, ENGINEER_L1, ADMIN):
        stack.driver.send_event(
            {
                "type": "app_home_opened",
                "user": user,
                "channel": "DHOME00001",
                "tab": "home",
                "event_ts": stack.driver.next_ts(),
            }
        )
    stack.fake.wait_for(lambda: len(stack.fake.calls_to("views.publish")) == 3, what="three home views")
    headers = {
        c.args["user_id"]: {b["text"]["text"] for b in c.args["view"]["blocks"] if b["type"] == "header"}
        for c in stack.fake.calls_to("views.publish")
    }
    assert headers[REQUESTER] == {"My tickets"}
    assert {"My queue", "SLA at risk"} <= headers[ENGINEER_L1] and "Metrics" not in headers[ENGINEER_L1]
    assert "Metrics" in headers[ADMIN]
    queue_text = json.dumps(
        [c.args["view"] for c in stack.fake.calls_to("views.publish") if c.args["user_id"] == ENGINEER_L1]
    )
    with transaction(stack.db.sessions) as session:
        number = session.scalars(select(Ticket.number)).one()
    assert number in queue_text


def test_l2_membership_comes_from_the_slack_user_group(stack: Stack) -> None:
    number, _ = hand_off(stack)
    card = stack.fake.posts(L1_CHANNEL)[0]
    stack.driver.click(ENGINEER_L1, blocks.ESCALATE, number, channel=L1_CHANNEL, message_ts=card.ts)
    stack.fake.wait_for(lambda: stack.fake.calls_to("views.open"), what="escalate modal")
    stack.driver.submit_view(ENGINEER_L1, "tl_escalate_view", {"reason": "network"}, number)
    l2_card = stack.fake.wait_for(lambda: stack.fake.posts(L2_CHANNEL), what="L2 card")[0]
    stack.driver.click(ENGINEER_L2, blocks.CLAIM, number, channel=L2_CHANNEL, message_ts=l2_card.ts)
    stack.fake.wait_for(lambda: stack.ticket(number).assignee_id is not None, what="claimed")
    assert stack.fake.calls_to("usergroups.users.list")


def test_asking_the_requester_pauses_until_they_answer(stack: Stack) -> None:
    number, ts = hand_off(stack)
    card = stack.fake.posts(L1_CHANNEL)[0]
    stack.driver.click(ENGINEER_L1, blocks.CLAIM, number, channel=L1_CHANNEL, message_ts=card.ts)
    stack.fake.wait_for(lambda: stack.ticket(number).assignee_id is not None, what="claim")
    stack.driver.click(ENGINEER_L1, blocks.WAIT, number, channel=L1_CHANNEL, message_ts=card.ts)
    stack.fake.wait_for(lambda: stack.fake.calls_to("views.open"), what="question modal")
    stack.driver.submit_view(
        ENGINEER_L1, blocks.WAIT_VIEW, {"question": "Does it happen on cable too?"}, number
    )
    stack.fake.wait_for(lambda: stack.ticket(number).status.value == "waiting_on_user", what="on hold")
    stack.fake.wait_for(
        lambda: any("cable too" in t for t in stack.thread_texts(SUPPORT, ts)), what="question asked"
    )
    stack.driver.say(REQUESTER, SUPPORT, "Yes, on cable too", thread_ts=ts)
    stack.fake.wait_for(lambda: stack.ticket(number).status.value == "in_progress", what="clock resumed")
    stack.fake.wait_for(
        lambda: any("on cable too" in t for t in stack.thread_texts(L1_CHANNEL, card.ts)), what="relay"
    )


def test_a_failure_is_admitted_in_the_thread(stack: Stack) -> None:
    class Broken:
        def search(self, query: str, **_: object) -> None:
            raise RuntimeError("index file unreadable")

    stack.services.engine.searcher = Broken()  # type: ignore[assignment]
    ts = stack.driver.say(REQUESTER, SUPPORT, "How do I reset my forgotten password?")
    reply = stack.fake.wait_for(lambda: stack.fake.posts(SUPPORT, ts), what="apology")[0]
    assert "went wrong" in reply.args["text"]
    stack.fake.wait_for(lambda: stack.errors, what="error recorded")
    assert "index file unreadable" in stack.errors[0]
    stack.errors.clear()
