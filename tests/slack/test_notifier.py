"""Outbox rows the workflow writes reach the right Slack place; internal content never reaches a requester."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.workflow.outbox import deliver_pending
from models import OutboxMessage, Ticket, utcnow
from models.db import transaction
from tests.slack.conftest import ENGINEER_L1, L1_CHANNEL, REQUESTER, SUPPORT, Stack, hand_off


def _queue(stack: Stack, number: str, **row: object) -> int:
    with transaction(stack.db.sessions) as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
        message = OutboxMessage(ticket_id=ticket.id, **row)  # type: ignore[arg-type]
        session.add(message)
        session.flush()
        return message.id


def _deliver(stack: Stack) -> int:
    return deliver_pending(
        stack.db.sessions, stack.services.notifier, worker_id="test-worker", now=utcnow() + timedelta(hours=2)
    )


def test_sla_warning_goes_to_the_card_thread_and_the_engineer(stack: Stack) -> None:
    number, _ = hand_off(stack)
    card = stack.fake.posts(L1_CHANNEL)[0]
    stack.fake.settle()
    _queue(
        stack,
        number,
        audience="tier_queue",
        recipient="L1",
        kind="sla_warning",
        payload={"text": f"{number} will breach its response SLA in 30 minutes"},
    )
    _queue(
        stack,
        number,
        audience="engineer",
        recipient=ENGINEER_L1,
        kind="sla_warning",
        payload={"text": f"{number} is yours and close to breaching"},
    )
    assert _deliver(stack) == 2
    assert any("breach its response SLA" in t for t in stack.thread_texts(L1_CHANNEL, card.ts))
    dm = [c for c in stack.fake.calls_to("chat.postMessage") if c.args["channel"] == "D" + ENGINEER_L1[1:]]
    assert dm and "close to breaching" in dm[0].args["text"]


def test_internal_rows_for_requesters_are_refused_and_kept_for_a_human(stack: Stack) -> None:
    number, ts = hand_off(stack)
    stack.fake.settle()
    row = _queue(
        stack,
        number,
        audience="requester",
        recipient=REQUESTER,
        kind="status_changed",
        payload={"text": "internal: suspect the laptop is stolen", "internal": True},
    )
    assert _deliver(stack) == 0
    assert not any("stolen" in str(c.args) for c in stack.fake.calls_to("chat.postMessage"))
    with transaction(stack.db.sessions) as session:
        stuck = session.get(OutboxMessage, row)
        assert stuck is not None and stuck.delivered_at is None and "internal" in (stuck.last_error or "")
    assert stack.thread_texts(SUPPORT, ts)  # the requester's thread itself is untouched otherwise


def test_a_row_handed_over_twice_is_posted_once(stack: Stack) -> None:
    number, ts = hand_off(stack)
    stack.fake.settle()
    row = _queue(
        stack,
        number,
        audience="requester",
        recipient=REQUESTER,
        kind="status_changed",
        payload={"text": "We are looking at it"},
    )
    with transaction(stack.db.sessions) as session:
        message = session.get(OutboxMessage, row)
        assert message is not None
        session.expunge(message)
    stack.services.notifier.deliver(message)
    stack.services.notifier.deliver(message)  # a worker whose lease expired after a crash
    assert [t for t in stack.thread_texts(SUPPORT, ts) if "looking at it" in t] == ["We are looking at it"]


def test_a_rating_prompt_delivered_after_the_ticket_was_reopened_comes_without_buttons(stack: Stack) -> None:
    """An outbox row can be delivered late (a retry after Slack failed): by then the requester may
    have said "still broken", and buttons would invite a rating the workflow must refuse."""
    number, ts = hand_off(stack)  # open, never resolved: nothing to rate
    stack.fake.settle()
    _queue(
        stack,
        number,
        audience="requester",
        recipient=REQUESTER,
        kind="csat_request",
        payload={"text": "Replaced the <dock> cable"},
    )
    assert _deliver(stack) == 1
    post = stack.fake.posts(SUPPORT, ts)[-1]
    assert "Replaced the &lt;dock&gt; cable" in str(post.args["text"])
    assert "tl_csat_" not in str(post.args.get("blocks"))
