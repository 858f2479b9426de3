"""A fake Slack Web API over real HTTP on 127.0.0.1, for tests and the bench.

It records every call, answers like Slack for the methods the app uses, and checks what it is sent:
the method must exist in Slack's OpenAPI spec with its required arguments, every `blocks` / `view`
must parse and validate with slack_sdk.models, and messages must respect Block Kit limits. Problems
are collected in `problems` (tests assert it stays empty) and answered with Slack's own error so
the app sees what Slack would do. `fail_next` makes a method answer 429 (with Retry-After) or 5xx.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

BOT_USER_ID = "UTIERBOT01"
BOT_ID = "BTIERBOT01"
TEAM_ID = "T0TIERLINE"
# Methods newer than the frozen spec, or that slack_sdk calls on its own (see ../shared/README.md).
NOT_IN_SPEC = frozenset({"apps.connections.open"})
JSON_ARGS = ("blocks", "view", "attachments")
RESPONSE_PATH = "response"


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: str | None
    at: float = field(default_factory=time.monotonic)
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def ts(self) -> str:
        """The ts Slack gave the posted message."""
        return str(self.response.get("ts", ""))


@dataclass
class Failure:
    status: int
    remaining: int
    retry_after: int = 1
    error: str = "internal_error"
    channel: str | None = None  # only calls to this channel fail


class SpecCatalogue:
    """Method names and required arguments from slack_web_openapi_v2 (None: the spec is absent)."""

    def __init__(self, path: Path | None) -> None:
        self.required: dict[str, frozenset[str]] | None = None
        if path is not None and path.exists():
            spec = json.loads(path.read_text())
            self.required = {}
            for route, operations in spec["paths"].items():
                names: set[str] = set()
                for operation in operations.values():
                    for param in operation.get("parameters", []):
                        if param.get("required") and param["name"] != "token":
                            names.add(param["name"])
                self.required[route.lstrip("/")] = frozenset(names)

    def check(self, method: str, args: dict[str, Any]) -> str | None:
        if self.required is None or method in NOT_IN_SPEC:
            return None
        if method not in self.required:
            return f"{method}: not a Slack Web API method"
        missing = sorted(name for name in self.required[method] if args.get(name) in (None, ""))
        return f"{method}: missing required argument(s) {missing}" if missing else None


def validate_blocks(method: str, args: dict[str, Any]) -> list[str]:
    """Block Kit as Slack would judge it, using slack_sdk's models (limits included)."""
    problems: list[str] = []
    raw_blocks = args.get("blocks")
    if raw_blocks:
        if len(raw_blocks) > 50:
            problems.append(f"{method}: {len(raw_blocks)} blocks (max 50)")
        for raw in raw_blocks:
            try:
                block = Block.parse(raw)
                if block is None:
                    problems.append(f"{method}: unknown block {raw.get('type')}")
                    continue
                block.validate_json()
                text = (raw.get("text") or {}).get("text", "")
                if raw.get("type") == "section" and len(text) > 3000:
                    problems.append(f"{method}: section text {len(text)} chars (max 3000)")
            except (SlackObjectFormationError, KeyError, TypeError, ValueError) as exc:
                problems.append(f"{method}: invalid block {raw.get('type')}: {exc}")
        if method in {
            "chat.postMessage",
            "chat.update",
            "chat.postEphemeral",
            "response_url",
        } and not args.get("text"):
            problems.append(f"{method}: blocks without a plain-text fallback `text`")
    raw_view = args.get("view")
    if raw_view:
        if len(raw_view.get("blocks") or []) > 100:
            problems.append(f"{method}: {len(raw_view['blocks'])} blocks in a view (max 100)")
        try:
            View(**raw_view).validate_json()
        except (SlackObjectFormationError, TypeError, ValueError) as exc:
            problems.append(f"{method}: invalid view: {exc}")
    return problems


class FakeSlack:
    """Start with `FakeSlack.start(spec_path)`; `url` is the Web API base for SLACK_API_URL."""

    def __init__(self, spec: SpecCatalogue, usergroups: dict[str, list[str]] | None = None) -> None:
        self.spec = spec
        self.usergroups = dict(usergroups or {})
        self.calls: list[Call] = []
        self.problems: list[str] = []
        self.failures: dict[str, Failure] = {}
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._ts = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self.socket_mode_url = ""  # set by a Socket Mode test to its fake WebSocket server
        # Messages people posted that the app never received as events, by (channel, ts): what
        # conversations.replies answers with, e.g. a colleague's question the bot is tagged under.
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def start(cls, spec_path: Path | None, usergroups: dict[str, list[str]] | None = None) -> FakeSlack:
        fake = cls(SpecCatalogue(spec_path), usergroups)
        handler = type("Handler", (_Handler,), {"fake": fake})
        fake._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        fake._server.daemon_threads = True
        threading.Thread(target=fake._server.serve_forever, name="fake-slack", daemon=True).start()
        return fake

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    @property
    def response_base(self) -> str:
        """Prefix for `response_url`s: `<base><user>/<channel>/<n>`; posts there are recorded as
        calls to the pseudo-method "response_url" with the user and channel among their args."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/{RESPONSE_PATH}/"

    def responses_to(self, user: str) -> list[str]:
        """Texts sent to `user` through response_urls (slash-command and shortcut replies)."""
        return [str(c.args.get("text")) for c in self.calls_to("response_url") if c.args.get("user") == user]

    # ------------------------------------------------------------------ test controls
    def fail_next(self, method: str, status: int, times: int = 1, retry_after: int = 1) -> None:
        with self._lock:
            self.failures[method] = Failure(status, times, retry_after)

    def refuse_next(self, method: str, error: str, *, channel: str | None = None, times: int = 1) -> None:
        """Answer `{"ok": false, "error": error}` (HTTP 200, as Slack does), e.g. `not_in_channel`."""
        with self._lock:
            self.failures[method] = Failure(200, times, error=error, channel=channel)

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def posts(self, channel: str | None = None, thread_ts: str | None = None) -> list[Call]:
        return [
            c
            for c in self.calls_to("chat.postMessage")
            if (channel is None or c.args.get("channel") == channel)
            and (thread_ts is None or c.args.get("thread_ts") == thread_ts)
        ]

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 15.0, what: str = "") -> Any:
        """Wait until `predicate()` is truthy (work continues after the app's ack)."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                methods = [c.method for c in self.calls[-15:]]
                raise AssertionError(f"timed out waiting for {what or predicate}; last calls: {methods}")
            with self._changed:
                self._changed.wait(min(remaining, 0.05))

    def settle(self, quiet: float = 0.3, timeout: float = 15.0) -> None:
        """Wait until no call arrived for `quiet` seconds (background work has finished)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            last = self.calls[-1].at if self.calls else 0.0
            if time.monotonic() - last >= quiet:
                return
            time.sleep(quiet / 3)

    # ------------------------------------------------------------------ serving
    def handle(
        self, method: str, args: dict[str, Any], token: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        call = Call(method, args, token)
        status, body, headers = self._respond(call)
        call.response = body
        with self._changed:
            self.calls.append(call)
            self._changed.notify_all()
        return status, body, headers

    def _respond(self, call: Call) -> tuple[int, dict[str, Any], dict[str, str]]:
        method, args = call.method, call.args
        with self._lock:
            failure = self.failures.get(method)
            if failure is not None and failure.channel not in (None, args.get("channel")):
                failure = None
            if failure is not None and failure.remaining > 0:
                failure.remaining -= 1
                if failure.status == 200:
                    return 200, {"ok": False, "error": failure.error}, {}
                if failure.status == 429:
                    return (
                        429,
                        {"ok": False, "error": "ratelimited"},
                        {"Retry-After": str(failure.retry_after)},
                    )
                return failure.status, {"ok": False, "error": "internal_error"}, {}
        if not call.token:
            return 200, {"ok": False, "error": "not_authed"}, {}
        problems = [p for p in [self.spec.check(method, args)] if p] + validate_blocks(method, args)
        if problems:
            with self._lock:
                self.problems.extend(problems)
            return (
                200,
                {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": problems}},
                {},
            )
        with self._lock:
            return 200, self._answer(method, args), {}

    def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "ok": True,
                "user_id": BOT_USER_ID,
                "bot_id": BOT_ID,
                "team_id": TEAM_ID,
                "user": "tierline",
            }
        if method in {"chat.postMessage", "chat.update"}:
            ts = args.get("ts") or f"1800000000.{next(self._ts):06d}"
            return {
                "ok": True,
                "channel": args["channel"],
                "ts": ts,
                "message": {"text": args.get("text"), "ts": ts},
            }
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"1800000000.{next(self._ts):06d}"}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D" + str(args.get("users", "X")).split(",")[0][1:]}}
        if method in {"views.open", "views.publish", "views.update"}:
            return {"ok": True, "view": {"id": "V0000001", **(args.get("view") or {})}}
        if method == "apps.connections.open":
            return {"ok": True, "url": self.socket_mode_url}
        if method == "conversations.replies":
            first = self.messages.get((str(args.get("channel")), str(args.get("ts"))))
            if first is None:
                return {"ok": False, "error": "thread_not_found"}
            return {"ok": True, "messages": [first], "has_more": False}
        if method == "usergroups.users.list":
            return {"ok": True, "users": self.usergroups.get(str(args.get("usergroup")), [])}
        return {"ok": True}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeSlack

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _args(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        query = self.path.partition("?")[2]
        args: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query).items()}
        if raw:
            if (self.headers.get("Content-Type") or "").startswith("application/json"):
                args.update(json.loads(raw))
            else:
                args.update({k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()})
        for name in JSON_ARGS:  # form-encoded calls carry these as JSON strings
            if isinstance(args.get(name), str):
                args[name] = json.loads(args[name])
        return args

    def _serve(self) -> None:
        path = self.path.partition("?")[0]
        if path.startswith(f"/{RESPONSE_PATH}/"):
            self._serve_response_url(path)
            return
        method = path.removeprefix("/api/")
        auth = self.headers.get("Authorization") or ""
        args = self._args()
        token = auth.removeprefix("Bearer ").strip() or args.pop("token", None)
        status, body, headers = self.fake.handle(method, args, token)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _serve_response_url(self, path: str) -> None:
        """A post to a response_url: no token (the URL is the secret); Slack answers 200 "ok"."""
        user, _, rest = path.removeprefix(f"/{RESPONSE_PATH}/").partition("/")
        channel = rest.partition("/")[0]
        args = {**self._args(), "user": user, "channel": channel}
        problems = validate_blocks("response_url", args)
        if problems:
            with self.fake._lock:
                self.fake.problems.extend(problems)
        call = Call("response_url", args, None, response={"ok": not problems})
        with self.fake._changed:
            self.fake.calls.append(call)
            self.fake._changed.notify_all()
        data = b"ok"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_POST = _serve
    do_GET = _serve
