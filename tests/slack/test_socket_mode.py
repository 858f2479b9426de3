"""Socket Mode: the same app over a WebSocket (apps.connections.open → wss URL → envelopes + acks)."""

from __future__ import annotations

from bot.slack.server import socket_mode_handler
from tests.conftest import TestDatabase
from tests.slack.conftest import REQUESTER, SUPPORT, build_stack
from tests.slack.fake_slack import FakeSlack
from tests.slack.fake_socket_mode import FakeSocketMode


def test_socket_mode_acks_envelopes_and_answers(db: TestDatabase, fake: FakeSlack) -> None:
    ws = FakeSocketMode()
    fake.socket_mode_url = ws.url
    stack = build_stack(db, fake, socket_mode=True)
    handler = socket_mode_handler(stack.app, "xapp-1-test")
    try:
        handler.connect()
        assert ws.connected.wait(10)
        event = stack.driver.message_event(REQUESTER, SUPPORT, "How do I reset my forgotten password?")
        ws.push_event("env-1", stack.driver.envelope(event))
        ws.wait_for_ack("env-1")
        reply = fake.wait_for(lambda: fake.posts(SUPPORT, event["ts"]), what="reply over Socket Mode")[0]
        assert "self-service portal" in reply.args["text"]
        opened = fake.calls_to("apps.connections.open")
        assert opened and opened[0].token == "xapp-1-test"
        ws.push_event("env-2", stack.driver.envelope(event))  # Slack redelivers: acked, not answered twice
        ws.wait_for_ack("env-2")
        fake.settle(quiet=0.4)
        assert len(fake.posts(SUPPORT, event["ts"])) == 1
    finally:
        handler.close()
        ws.stop()
        stack.server.shutdown()
        stack.server.server_close()
    assert fake.problems == [] and stack.errors == []
