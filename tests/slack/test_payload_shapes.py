"""Parsing tolerates every field Slack has ever sent (java-slack-sdk's payload shape logs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from tests.conftest import shared_path
from tests.slack.conftest import REQUESTER, SUPPORT, Stack

UNHANDLED_OK = {200, 404}  # bolt answers 404 to a well-signed request no listener wants


def _shapes(*parts: str) -> list[Path]:
    return sorted(shared_path("slack", "java-slack-sdk-json-logs", *parts).glob("*.json"))


def test_every_event_shape_is_accepted_without_listener_errors(stack: Stack) -> None:
    for n, path in enumerate(_shapes("events")):
        shape = json.loads(path.read_text())
        if "event" not in shape:
            continue
        shape.update(type="event_callback", event_id=f"EvShape{n:04d}", team_id="T0TIERLINE")
        response = stack.driver.post("/slack/events", json.dumps(shape).encode(), "application/json")
        assert response.status in UNHANDLED_OK, (path.name, response)
    stack.fake.settle(quiet=0.5)
    assert stack.errors == []


def test_a_full_message_shape_with_real_values_is_answered(stack: Stack) -> None:
    shape = json.loads(
        (shared_path("slack", "java-slack-sdk-json-logs", "events") / "MessagePayload.json").read_text()
    )
    event: dict[str, Any] = shape["event"]
    for key in (
        "bot_id",
        "bot_profile",
        "subtype",
        "app_id",
        "username",
        "thread_ts",
        "parent_user_id",
        "edited",
    ):
        event.pop(key, None)  # a person's message, with every other field Slack may add
    event.update(
        user=REQUESTER,
        channel=SUPPORT,
        channel_type="channel",
        text="How do I connect to the VPN?",
        ts="1700000777.000001",
        event_ts="1700000777.000001",
    )
    assert stack.driver.send_event(event).status == 200
    stack.fake.wait_for(lambda: stack.fake.posts(SUPPORT, "1700000777.000001"), what="answer")


def test_interactive_and_command_shapes_are_accepted(stack: Stack) -> None:
    folder = "app-backend"
    for kind in ("interactive-components", "views"):
        for path in _shapes(folder, kind):
            body = urlencode({"payload": path.read_text()}).encode()
            response = stack.driver.post("/slack/events", body, "application/x-www-form-urlencoded")
            assert response.status in UNHANDLED_OK, (path.name, response)
    for path in _shapes(folder, "slash-commands"):
        fields = {
            k: v if isinstance(v, str) else json.dumps(v) for k, v in json.loads(path.read_text()).items()
        }
        fields.update(command="/tierline", text="help", user_id=REQUESTER, channel_id=SUPPORT)
        response = stack.driver.post(
            "/slack/events", urlencode(fields).encode(), "application/x-www-form-urlencoded"
        )
        assert response.status == 200, (path.name, response)
    stack.fake.settle(quiet=0.5)
    assert stack.errors == []
