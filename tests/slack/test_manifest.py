"""manifest.yml declares exactly what the app uses: events, command, shortcut, and the scopes of
every Web API method the code calls (each checked against Slack's own API catalogue)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from bot.slack.app import TierlineSlack
from tests.conftest import ROOT, shared_path

MANIFEST = ROOT / "manifest.yml"
SLACK_CODE = ROOT / "bot" / "slack"
# The scope each Web API method needs (from the method's documentation); None: no scope needed.
METHOD_SCOPES: dict[str, str | None] = {
    "apps.connections.open": None,  # Socket Mode, with the app-level token (connections:write)
    "auth.test": None,
    "chat.postMessage": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.update": "chat:write",
    "conversations.open": "im:write",
    "conversations.replies": "channels:history",  # and groups/im/mpim:history by channel type
    "reactions.add": "reactions:write",
    "usergroups.users.list": "usergroups:read",
    "views.open": None,
    "views.publish": None,
}
EVENT_SCOPES = {
    "app_mention": {"app_mentions:read"},
    "message.channels": {"channels:history"},
    "message.groups": {"groups:history"},
    "message.im": {"im:history"},
    "message.mpim": {"mpim:history"},
    "app_home_opened": set(),
}


def manifest() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load(MANIFEST.read_text())


def listeners() -> dict[str, set[str]]:
    app = TierlineSlack.__new__(TierlineSlack)  # only the listener table is read
    return {
        kind: {k if isinstance(k, str) else k.pattern for k, _ in entries}
        for kind, entries in TierlineSlack.listeners(app).items()
    }


def called_methods() -> set[str]:
    """Web API methods called anywhere in bot/slack (client.chat_postMessage → chat.postMessage)."""
    names: set[str] = set()
    for path in SLACK_CODE.glob("*.py"):
        names |= set(re.findall(r"client\.([a-z]+(?:_[a-zA-Z]+)+)\(", path.read_text()))
    return {name.replace("_", ".") for name in names} | {"auth.test"}  # bolt calls auth.test at start


def test_events_match_the_registered_listeners() -> None:
    declared = set(manifest()["settings"]["event_subscriptions"]["bot_events"])
    as_bolt = {e.split(".")[0] for e in declared}
    assert as_bolt == listeners()["event"]


def test_command_and_shortcut_match_the_registered_listeners() -> None:
    features = manifest()["features"]
    assert {c["command"] for c in features["slash_commands"]} == listeners()["command"]
    assert {s["callback_id"] for s in features["shortcuts"]} == listeners()["shortcut"]


def test_scopes_cover_every_method_called_and_nothing_more() -> None:
    methods = called_methods()
    unknown = methods - METHOD_SCOPES.keys()
    assert not unknown, f"add the scope of {sorted(unknown)} to METHOD_SCOPES and manifest.yml"
    spec = json.loads(
        shared_path(
            "slack", "slack-api-specs", "web-api", "slack_web_openapi_v2_without_examples.json"
        ).read_text()
    )
    assert all(f"/{m}" in spec["paths"] for m in methods), sorted(
        m for m in methods if f"/{m}" not in spec["paths"]
    )
    declared = set(manifest()["oauth_config"]["scopes"]["bot"])
    needed = {METHOD_SCOPES[m] for m in methods} - {None}
    needed |= {"commands"}  # the slash command and the shortcut
    for event in manifest()["settings"]["event_subscriptions"]["bot_events"]:
        needed |= EVENT_SCOPES[event]
    assert declared == needed


def test_request_urls_point_at_the_events_path() -> None:
    data = manifest()
    urls = [
        data["settings"]["event_subscriptions"]["request_url"],
        data["settings"]["interactivity"]["request_url"],
        *(c["url"] for c in data["features"]["slash_commands"]),
    ]
    assert all(Path(u.split("//", 1)[1]).as_posix().endswith("/slack/events") for u in urls)
