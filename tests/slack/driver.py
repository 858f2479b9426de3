"""Talks to the app under test like Slack does: signed HTTP requests to /slack/events."""

from __future__ import annotations

import http.client
import itertools
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from slack_sdk.signature import SignatureVerifier

from tests.slack.fake_slack import BOT_USER_ID, TEAM_ID

API_APP_ID = "A0TIERLINE"


@dataclass
class Response:
    status: int
    body: str
    seconds: float


class SlackDriver:
    """Builds Events API envelopes, interactivity payloads and slash commands, signs and posts them."""

    def __init__(
        self,
        base_url: str,
        signing_secret: str,
        envelope_schema: dict[str, Any] | None = None,
        *,
        response_base: str = "https://hooks.invalid/",
    ) -> None:
        """`response_base`: where `response_url`s point (the fake Slack's, so replies are recorded)."""
        self.base = urlsplit(base_url)
        self.response_base = response_base
        self.secret = signing_secret
        self.schema = envelope_schema
        self._ts = itertools.count(1)
        self._event_ids = itertools.count(1)

    # ------------------------------------------------------------------ transport
    def post(
        self,
        path: str,
        body: bytes,
        content_type: str,
        *,
        secret: str | None = None,
        timestamp: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        signature = SignatureVerifier(secret or self.secret).generate_signature(timestamp=stamp, body=body)
        all_headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature,
            **(headers or {}),
        }
        started = time.perf_counter()
        conn = http.client.HTTPConnection(self.base.hostname, self.base.port, timeout=30)
        try:
            conn.request("POST", path, body=body, headers=all_headers)
            response = conn.getresponse()
            text = response.read().decode()
        finally:
            conn.close()
        return Response(response.status, text, time.perf_counter() - started)

    def get(self, path: str) -> Response:
        started = time.perf_counter()
        conn = http.client.HTTPConnection(self.base.hostname, self.base.port, timeout=30)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            text = response.read().decode()
        finally:
            conn.close()
        return Response(response.status, text, time.perf_counter() - started)

    # ------------------------------------------------------------------ Events API
    def next_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    def envelope(self, event: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
        body = {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "api_app_id": API_APP_ID,
            "event": {"event_ts": event.get("ts", self.next_ts()), **event},
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(self._event_ids):08d}",
            "event_time": int(time.time()),
            "authed_users": [BOT_USER_ID],
        }
        if self.schema is not None:
            import jsonschema

            jsonschema.validate(body, self.schema)
        return body

    def send_event(
        self, event: dict[str, Any], *, event_id: str | None = None, retry_num: int | None = None, **kw: Any
    ) -> Response:
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        body = json.dumps(self.envelope(event, event_id)).encode()
        return self.post("/slack/events", body, "application/json", headers=headers, **kw)

    def message_event(
        self,
        user: str,
        channel: str,
        text: str,
        *,
        ts: str | None = None,
        thread_ts: str | None = None,
        channel_type: str = "channel",
        event_type: str = "message",
        **extra: Any,
    ) -> dict[str, Any]:
        event: dict[str, Any] = {
            "type": event_type,
            "user": user,
            "text": text,
            "ts": ts or self.next_ts(),
            "channel": channel,
            "channel_type": channel_type,
            **extra,
        }
        if event_type == "app_mention":
            event.pop("channel_type")
        if thread_ts:
            event["thread_ts"] = thread_ts
        return event

    def say(self, user: str, channel: str, text: str, **kw: Any) -> str:
        """Post a message as `user`; returns its ts."""
        event = self.message_event(user, channel, text, **kw)
        response = self.send_event(event)
        assert response.status == 200, response
        return str(event["ts"])

    # ------------------------------------------------------------------ interactivity
    def interactive(self, payload: dict[str, Any]) -> Response:
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return self.post("/slack/events", body, "application/x-www-form-urlencoded")

    def click(
        self,
        user: str,
        action_id: str,
        value: str,
        *,
        channel: str,
        message_ts: str = "1700000000.999999",
        selected: str | None = None,
        message: dict[str, Any] | None = None,
    ) -> Response:
        action: dict[str, Any] = {"action_id": action_id, "block_id": "b", "action_ts": self.next_ts()}
        if selected is not None:
            action.update(
                type="static_select",
                selected_option={"text": {"type": "plain_text", "text": selected}, "value": selected},
            )
        else:
            action.update(type="button", value=value, text={"type": "plain_text", "text": action_id})
        return self.interactive(
            {
                "type": "block_actions",
                "team": {"id": TEAM_ID, "domain": "acme"},
                "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
                "api_app_id": API_APP_ID,
                "token": "legacy-verification-token",
                "container": {
                    "type": "message",
                    "message_ts": message_ts,
                    "channel_id": channel,
                    "is_ephemeral": False,
                },
                "trigger_id": f"trigger-{self.next_ts()}",
                "channel": {"id": channel, "name": "x"},
                "message": message or {"type": "message", "ts": message_ts, "text": ""},
                "actions": [action],
            }
        )

    def submit_view(
        self, user: str, callback_id: str, values: dict[str, str], private_metadata: str = ""
    ) -> Response:
        state = {
            block_id: {block_id: {"type": "plain_text_input", "value": value}}
            for block_id, value in values.items()
        }
        return self.interactive(
            {
                "type": "view_submission",
                "team": {"id": TEAM_ID, "domain": "acme"},
                "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
                "api_app_id": API_APP_ID,
                "token": "legacy-verification-token",
                "trigger_id": f"trigger-{self.next_ts()}",
                "view": {
                    "id": "V0000001",
                    "type": "modal",
                    "callback_id": callback_id,
                    "private_metadata": private_metadata,
                    "state": {"values": state},
                    "hash": "h",
                },
            }
        )

    def shortcut(self, user: str, callback_id: str, *, channel: str, message: dict[str, Any]) -> Response:
        return self.interactive(
            {
                "type": "message_action",
                "callback_id": callback_id,
                "team": {"id": TEAM_ID, "domain": "acme"},
                "user": {"id": user, "name": user.lower()},
                "channel": {"id": channel, "name": "x"},
                "message": message,
                "message_ts": message.get("ts"),
                "trigger_id": f"trigger-{self.next_ts()}",
                "token": "legacy-verification-token",
                "response_url": f"{self.response_base}{user}/{channel}/{self.next_ts()}",
            }
        )

    def command(self, user: str, channel: str, text: str) -> Response:
        body = urlencode(
            {
                "token": "legacy-verification-token",
                "team_id": TEAM_ID,
                "team_domain": "acme",
                "channel_id": channel,
                "channel_name": "x",
                "user_id": user,
                "user_name": user.lower(),
                "command": "/tierline",
                "text": text,
                "api_app_id": API_APP_ID,
                "response_url": f"{self.response_base}{user}/{channel}/{self.next_ts()}",
                "trigger_id": f"trigger-{self.next_ts()}",
            }
        ).encode()
        return self.post("/slack/events", body, "application/x-www-form-urlencoded")
