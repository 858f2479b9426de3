"""Slack platform rules, each observable from outside: signatures, url_verification, fast acks,
deduplicated retries, ignored bot/edit/join messages, rate limits and the outbox fallback."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

from sqlalchemy import select

from bot.workflow.outbox import deliver_pending
from models import OutboxMessage, utcnow
from models.db import transaction
from tests.conftest import TestDatabase
from tests.slack.conftest import (
    MENTION_ONLY,
    OTHER,
    RANDOM,
    REQUESTER,
    SUPPORT,
    Stack,
    build_stack,
)
from tests.slack.fake_slack import BOT_ID, BOT_USER_ID, FakeSlack

QUESTION = "How do I reset my forgotten password?"


def test_forged_or_stale_requests_are_rejected_with_401(stack: Stack) -> None:
    event = stack.driver.message_event(REQUESTER, SUPPORT, QUESTION)
    body = json.dumps(stack.driver.envelope(event)).encode()
    wrong = stack.driver.post("/slack/events", body, "application/json", secret="not-the-secret")
    stale = stack.driver.post("/slack/events", body, "application/json", timestamp=int(time.time()) - 6 * 60)
    assert (wrong.status, stale.status) == (401, 401)
    fresh = stack.driver.post("/slack/events", body, "application/json")
    assert fresh.status == 200
    stack.fake.wait_for(lambda: stack.fake.posts(SUPPORT), what="reply to the genuine request")
    stack.fake.settle()
    assert len(stack.fake.posts(SUPPORT)) == 1


def test_url_verification_echoes_the_challenge(stack: Stack) -> None:
    body = json.dumps(
        {
            "token": "t",
            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification",
        }
    )
    response = stack.driver.post("/slack/events", body.encode(), "application/json")
    assert response.status == 200
    assert "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" in response.body


def test_ack_comes_before_the_work(db: TestDatabase, fake: FakeSlack) -> None:
    slow = build_stack(db, fake, delay=1.5)  # the knowledge search takes 1.5 s
    try:
        started = time.perf_counter()
        ts = slow.driver.say(REQUESTER, SUPPORT, QUESTION)
        acked = time.perf_counter() - started
        fake.wait_for(lambda: fake.posts(SUPPORT, ts), what="answer after the ack")
        answered = time.perf_counter() - started
        assert acked < 1.0 < 1.5 <= answered, (acked, answered)
    finally:
        fake.settle()
        slow.server.shutdown()
        slow.server.server_close()


def test_retries_and_mention_pairs_produce_one_reply(stack: Stack) -> None:
    event = stack.driver.message_event(REQUESTER, SUPPORT, f"<@{BOT_USER_ID}> {QUESTION}")
    mention = {**event, "type": "app_mention"}
    mention.pop("channel_type")
    assert stack.driver.send_event(event, event_id="Ev1").status == 200
    assert stack.driver.send_event(mention, event_id="Ev2").status == 200
    for retry in (1, 2):
        assert stack.driver.send_event(event, event_id="Ev1", retry_num=retry).status == 200
    stack.fake.wait_for(lambda: stack.fake.posts(SUPPORT), what="reply")
    stack.fake.settle(quiet=0.5)
    assert len(stack.fake.posts(SUPPORT, event["ts"])) == 1


def test_dedupe_holds_across_app_processes(db: TestDatabase, fake: FakeSlack) -> None:
    first, second = build_stack(db, fake), build_stack(db, fake)  # two workers, one database
    try:
        event = first.driver.message_event(REQUESTER, SUPPORT, QUESTION)
        threads = [
            threading.Thread(target=app.driver.send_event, args=(event,), kwargs={"event_id": "EvSame"})
            for app in (first, second, first, second)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        fake.wait_for(lambda: fake.posts(SUPPORT), what="reply")
        fake.settle(quiet=0.7)
        assert len(fake.posts(SUPPORT, event["ts"])) == 1
    finally:
        for app in (first, second):
            app.server.shutdown()
            app.server.server_close()
        assert first.errors == second.errors == []


def test_bot_messages_edits_joins_and_other_channels_are_ignored(stack: Stack) -> None:
    d = stack.driver
    ignored = [
        d.message_event(BOT_USER_ID, SUPPORT, QUESTION, bot_id=BOT_ID),  # our own post
        d.message_event("UOTHERBOT1", SUPPORT, QUESTION, bot_id="BOTHERBOT1", subtype="bot_message"),
        d.message_event(REQUESTER, SUPPORT, QUESTION, subtype="message_changed"),
        d.message_event(REQUESTER, SUPPORT, f"<@{REQUESTER}> has joined the channel", subtype="channel_join"),
        d.message_event(REQUESTER, RANDOM, QUESTION),  # not a support channel, and no mention
        d.message_event(REQUESTER, MENTION_ONLY, QUESTION),  # mention-only channel, no mention
    ]
    for event in ignored:
        assert d.send_event(event).status == 200
    mentioned = d.say(REQUESTER, MENTION_ONLY, f"<@{BOT_USER_ID}> {QUESTION}", event_type="app_mention")
    stack.fake.wait_for(lambda: stack.fake.posts(MENTION_ONLY, mentioned), what="reply to the mention")
    stack.fake.settle(quiet=0.5)
    assert [c.args["channel"] for c in stack.fake.calls_to("chat.postMessage")] == [MENTION_ONLY]


def test_an_at_mention_in_any_channel_the_bot_is_in_is_answered_in_its_thread(stack: Stack) -> None:
    """Not a support channel: the people there talk among themselves, but someone who addresses
    the bot by name gets an answer, and a thread reply there continues that case."""
    d = stack.driver
    asked = d.say(REQUESTER, RANDOM, f"<@{BOT_USER_ID}> {QUESTION}", event_type="app_mention")
    stack.fake.wait_for(lambda: stack.fake.posts(RANDOM, asked), what="reply to the mention")
    first = stack.fake.posts(RANDOM, asked)
    assert len(first) == 1 and "password" in json.dumps(first[0].args).lower()
    d.say(REQUESTER, RANDOM, "talk to a person", thread_ts=asked)
    stack.fake.wait_for(lambda: len(stack.fake.posts(RANDOM, asked)) > 1, what="the handoff in the thread")
    assert "IT-" in json.dumps(stack.fake.posts(RANDOM, asked)[-1].args)


def test_with_mentions_anywhere_off_only_support_channels_and_dms_are_answered(
    db: TestDatabase, fake: FakeSlack
) -> None:
    built = build_stack(db, fake, mentions_anywhere=False)
    try:
        d = built.driver
        d.send_event(
            d.message_event(REQUESTER, RANDOM, f"<@{BOT_USER_ID}> {QUESTION}", event_type="app_mention")
        )
        mentioned = d.say(REQUESTER, MENTION_ONLY, f"<@{BOT_USER_ID}> {QUESTION}", event_type="app_mention")
        built.fake.wait_for(lambda: built.fake.posts(MENTION_ONLY, mentioned), what="reply to the mention")
        built.fake.settle(quiet=0.5)
        assert [c.args["channel"] for c in built.fake.calls_to("chat.postMessage")] == [MENTION_ONLY]
    finally:
        built.server.shutdown()
        built.server.server_close()
    assert built.errors == []


def test_rate_limit_storm_is_ridden_out(stack: Stack) -> None:
    stack.fake.fail_next("chat.postMessage", 429, times=2, retry_after=1)
    ts = stack.driver.say(REQUESTER, SUPPORT, QUESTION)
    stack.fake.wait_for(
        lambda: stack.fake.posts(SUPPORT, ts) and stack.fake.posts(SUPPORT, ts)[-1].response.get("ok"),
        timeout=20,
        what="delivery after two 429s",
    )
    attempts = stack.fake.posts(SUPPORT, ts)
    assert len(attempts) == 3
    assert attempts[1].at - attempts[0].at >= 0.9  # Retry-After was honoured


def test_undeliverable_message_stays_in_the_outbox_for_the_worker(stack: Stack) -> None:
    stack.fake.fail_next("chat.postMessage", 500, times=100)
    ts = stack.driver.say(REQUESTER, SUPPORT, QUESTION)
    stack.fake.wait_for(lambda: len(stack.fake.posts(SUPPORT, ts)) >= 3, what="retries of the 500s")
    stack.fake.settle(quiet=0.5)

    def pending() -> list[OutboxMessage]:
        with transaction(stack.db.sessions) as session:
            return list(session.scalars(select(OutboxMessage).where(OutboxMessage.delivered_at.is_(None))))

    stuck = pending()
    assert len(stuck) == 1 and "internal_error" in (stuck[0].last_error or "")
    stack.fake.failures.clear()  # Slack is back: the worker's next pass delivers it
    later = utcnow() + timedelta(minutes=10)
    assert deliver_pending(stack.db.sessions, stack.services.notifier, worker_id="worker", now=later) == 1
    assert pending() == []
    assert [c.response.get("ok") for c in stack.fake.posts(SUPPORT, ts)][-1] is True, [
        (c.response, c.args.get("thread_ts")) for c in stack.fake.calls
    ]


def test_only_the_requester_presses_the_answer_buttons(stack: Stack) -> None:
    ts = stack.driver.say(REQUESTER, SUPPORT, QUESTION)
    stack.fake.wait_for(lambda: stack.fake.posts(SUPPORT, ts), what="answer")
    stack.driver.click(OTHER, "tl_not_solved", f"slack:{SUPPORT}:{ts}", channel=SUPPORT)
    refusal = stack.fake.wait_for(lambda: stack.fake.calls_to("chat.postEphemeral"), what="refusal")[0]
    assert refusal.args["user"] == OTHER and REQUESTER in refusal.args["text"]
    stack.fake.settle()
    assert len(stack.fake.posts(SUPPORT, ts)) == 1  # no ticket was opened


def test_health_and_metrics(stack: Stack) -> None:
    assert stack.driver.get("/healthz").status == 200
    ts = stack.driver.say(REQUESTER, SUPPORT, QUESTION)
    stack.fake.wait_for(lambda: stack.fake.posts(SUPPORT, ts), what="answer")
    metrics = stack.driver.get("/metrics")
    assert metrics.status == 200


def test_an_event_no_listener_wants_is_acknowledged_not_refused(stack: Stack) -> None:
    """Slack counts a non-2xx answer as a failed delivery and retries it; enough of those and it
    turns the app's events off. An event the app does not use is acknowledged and ignored."""
    d = stack.driver
    for event in (
        {"type": "reaction_added", "user": REQUESTER, "reaction": "thumbsup", "event_ts": d.next_ts()},
        {"type": "member_joined_channel", "user": REQUESTER, "channel": SUPPORT, "event_ts": d.next_ts()},
    ):
        assert d.send_event(event).status == 200
    stack.fake.settle(quiet=0.3)
    assert stack.fake.calls_to("chat.postMessage") == []


def test_a_question_in_a_new_thread_of_the_dm_is_answered_in_that_thread(stack: Stack) -> None:
    """Slack's assistant pane opens every chat as a thread of the DM, under a message that is not
    ours to know; in a DM every word is said to the bot, so the first message there is a question."""
    d, dm = stack.driver, "D0REQUEST1"
    parent = d.next_ts()  # the thread's first message, which the app never received
    asked = d.say(REQUESTER, dm, QUESTION, thread_ts=parent, channel_type="im")
    stack.fake.wait_for(lambda: stack.fake.posts(dm, parent), what="the answer in that thread")
    reply = stack.fake.posts(dm, parent)
    assert len(reply) == 1 and "password" in json.dumps(reply[0].args).lower()
    assert asked != parent


def test_a_mention_under_a_colleagues_message_answers_that_message(stack: Stack) -> None:
    """ "@Tierline can you help with this?" in the thread of someone's question: the question is
    the thread's first message, which the bot reads from Slack, and the ticket says it too."""
    d, fake = stack.driver, stack.fake
    parent = d.next_ts()
    fake.messages[(RANDOM, parent)] = {"type": "message", "user": OTHER, "ts": parent, "text": QUESTION}
    d.say(
        REQUESTER,
        RANDOM,
        f"<@{BOT_USER_ID}> can you help with this?",
        event_type="app_mention",
        thread_ts=parent,
    )
    reply = fake.wait_for(lambda: fake.posts(RANDOM, parent), what="the answer in that thread")
    assert "password" in json.dumps(reply[0].args).lower()
    assert [c.args["ts"] for c in fake.calls_to("conversations.replies")][:1] == [parent]


def test_a_mention_in_a_thread_the_bot_already_answers_in_does_not_read_it_again(stack: Stack) -> None:
    """Slack allows few conversations.replies calls a minute: the thread's start is read once."""
    d, fake = stack.driver, stack.fake
    parent = d.next_ts()
    fake.messages[(RANDOM, parent)] = {"type": "message", "user": OTHER, "ts": parent, "text": QUESTION}
    mention = f"<@{BOT_USER_ID}> can you help with this?"
    d.say(REQUESTER, RANDOM, mention, event_type="app_mention", thread_ts=parent)
    fake.wait_for(lambda: fake.posts(RANDOM, parent), what="the answer in that thread")
    d.say(
        REQUESTER,
        RANDOM,
        f"<@{BOT_USER_ID}> it still says my password expired",
        event_type="app_mention",
        thread_ts=parent,
    )
    fake.wait_for(lambda: len(fake.posts(RANDOM, parent)) >= 2, what="the reply to the follow-up")
    assert len(fake.calls_to("conversations.replies")) == 1


def test_a_mention_in_a_thread_slack_will_not_show_is_answered_from_its_own_words(stack: Stack) -> None:
    d, fake = stack.driver, stack.fake
    parent = d.next_ts()  # no such message in the fake: conversations.replies says thread_not_found
    d.say(REQUESTER, RANDOM, f"<@{BOT_USER_ID}> {QUESTION}", event_type="app_mention", thread_ts=parent)
    reply = fake.wait_for(lambda: fake.posts(RANDOM, parent), what="the answer in that thread")
    assert "password" in json.dumps(reply[0].args).lower()
    assert stack.errors == []
