"""What every Slack listener shares: the services, one unit of work per event, refusals, identities.

`ListenerBase` is the plumbing; `requester`, `engineer` and `commands` add listeners on top, and
`app.TierlineSlack` combines them and registers them on bolt.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session, sessionmaker

from bot.engine import Engine, Outcome
from bot.slack import blocks, store
from bot.slack.config import SlackConfig
from bot.slack.learning import LearningHooks
from bot.slack.notifier import SlackNotifier, mention_ids
from bot.slack.text import from_slack
from bot.triage import TriageError, TriageService
from bot.workflow import queries
from bot.workflow.errors import WorkflowError
from bot.workflow.outbox import deliver_pending
from bot.workflow.routing import Routing
from models import OutboxMessage, Role, User
from models.db import transaction

log = logging.getLogger(__name__)

USERGROUP_CACHE_SECONDS = 60.0
# Refusals and bad input a person can fix: shown to them (ephemeral), never a crash.
UserError = (WorkflowError, TriageError)
SORRY = "Sorry, something went wrong on my side and it has been logged. Please try again in a minute."
FORM_FAILED = "Something went wrong on my side. Please submit again in a minute."


@dataclass
class SlackServices:
    """Everything the listeners need, built once at start-up (models loaded before the first event)."""

    config: SlackConfig
    sessions: sessionmaker[Session]
    engine: Engine
    triage: TriageService
    routing: Routing
    client: WebClient
    notifier: SlackNotifier
    ticket_prefix: str = "IT"
    # Runs training and returns a summary (metrics, promoted or not, why); None: not available.
    retrain: Callable[[], str] | None = None
    # Key metrics as lines of mrkdwn.
    stats: Callable[[Session], list[str]] | None = None
    # Similar tickets, KB drafts, spike alerts and the learning figures; None: those extras are off.
    learning: LearningHooks | None = None
    worker_id: str = field(default_factory=lambda: f"slack-{uuid4().hex[:8]}")


class ListenerBase:
    """Plumbing shared by the listener groups."""

    def __init__(self, services: SlackServices) -> None:
        self.s = services
        self._groups: dict[str, tuple[float, frozenset[str]]] = {}
        self._groups_lock = threading.Lock()

    @contextmanager
    def unit(self) -> Iterator[Session]:
        """One transaction; the outbox rows it wrote are delivered right after it commits."""
        with transaction(self.s.sessions) as session:
            yield session
        self.flush_outbox()

    def flush_outbox(self) -> None:
        deliver_pending(self.s.sessions, self.s.notifier, worker_id=self.s.worker_id)

    def reply(
        self, session: Session, channel: str, thread_ts: str, text: str, body: list[Any], user: str
    ) -> None:
        """Queue a message for a requester's thread; it is posted after the commit."""
        session.add(
            OutboxMessage(
                audience="requester",
                recipient=user,
                kind="slack_reply",
                payload={"channel": channel, "thread_ts": thread_ts, "text": text, "blocks": body},
            )
        )

    def reply_outcome(self, session: Session, outcome: Outcome, user: str) -> None:
        where = store.parse_conversation_key(outcome.conversation_key)
        if where is None:
            return
        text, body = blocks.outcome_message(outcome)
        self.reply(session, where[0], where[1], text, body, user)

    def refuse(self, channel: str | None, user: str, message: str, thread_ts: str | None = None) -> None:
        """An ephemeral 'no' that only the person who tried sees; people in it are named as mentions."""
        text = mention_ids(message[:1].upper() + message[1:])
        if channel is None:
            channel = self._dm(user)
        try:
            self.s.client.chat_postEphemeral(channel=channel, user=user, text=text, thread_ts=thread_ts)
        except SlackApiError as exc:  # e.g. the bot is not in that channel: fall back to a DM
            log.info("ephemeral refusal failed (%s); sending a DM", exc.response.get("error"))
            self.s.client.chat_postMessage(channel=self._dm(user), text=text)

    def guarded(self, listener: Callable[..., None]) -> Callable[..., None]:
        """`listener` with what escapes it logged and told to the person, never re-raised.

        An exception escaping an acknowledged listener makes bolt's thread runner withdraw the
        acknowledgement: when that happens within milliseconds of `ack()`, Slack gets no answer
        for 3 s, then a 404, and the person sees "didn't respond" with no word from us. Bolt
        injects arguments by the listener's own parameter names (it unwraps `functools.wraps`).
        """

        @functools.wraps(listener)
        def run(**kwargs: Any) -> None:
            try:
                listener(**kwargs)
            except Exception:
                log.exception("%s failed", getattr(listener, "__name__", "a listener"))
                ack = kwargs.get("ack")
                if ack is not None and getattr(ack, "response", None) is None:
                    fields = list(((kwargs.get("view") or {}).get("state") or {}).get("values") or {})
                    if fields:  # a form not yet closed stays open, with what they typed in it
                        ack(response_action="errors", errors={fields[0]: FORM_FAILED})
                        return
                    ack()  # Slack still gets its quick 200
                self._tell_failure(kwargs)

        return run

    def _tell_failure(self, kwargs: dict[str, Any]) -> None:
        """Best effort: the person who clicked, typed the command or submitted the form hears we
        failed; a form's text comes back to them so nothing they typed is lost."""
        body = kwargs.get("body") or {}
        command = kwargs.get("command") or {}
        user = command.get("user_id") or (body.get("user") or {}).get("id")
        if not user:
            return
        channel = (
            command.get("channel_id")
            or (body.get("channel") or {}).get("id")
            or (body.get("container") or {}).get("channel_id")
        )
        text = SORRY
        typed = [v for v in view_values(kwargs.get("view") or {}).values() if v.strip()]
        if typed:
            text += " What you wrote:\n" + "\n".join(f"> {line}" for v in typed for line in v.splitlines())
        try:
            self.refuse(channel, str(user), text)
        except Exception:  # Slack itself is failing: the log is all that is left
            log.exception("could not tell %s that their request failed", user)

    def open_view(self, trigger_id: str, view: dict[str, Any], user: str, channel: str | None) -> None:
        """Open a form; when Slack will not (the click's trigger expired, Slack is busy) say so,
        so the person clicks again rather than waits for a form that never comes."""
        try:
            self.s.client.views_open(trigger_id=trigger_id, view=view)
        except SlackApiError as exc:
            log.info("views.open failed: %s", exc.response.get("error"))
            self.refuse(channel, user, "Slack did not let me open the form in time. Please try again.")

    def _dm(self, user: str) -> str:
        return str(self.s.client.conversations_open(users=user)["channel"]["id"])

    def redraw(self, channel: str, ts: str, text: str, body: list[dict[str, Any]]) -> None:
        """Best effort: replace a message's buttons with what was decided. The decision is already
        committed and answered, so a Web API failure here is logged, not told to the person as a
        failure (they would press again on something that worked)."""
        try:
            self.s.client.chat_update(channel=channel, ts=ts, text=text, blocks=body)
        except (SlackApiError, OSError) as exc:
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else exc
            log.warning("could not update message %s in %s: %s", ts, channel, error)

    def thread_start(self, channel: str, thread_ts: str, bot_user: str) -> str:
        """The words of a thread's first message, when a person wrote it; "" when Slack will not
        say (no history scope there, the thread deleted, Slack busy) — the caller does without."""
        try:
            reply = self.s.client.conversations_replies(
                channel=channel, ts=thread_ts, limit=1, inclusive=True
            )
        except (SlackApiError, OSError) as exc:
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else exc
            log.info("could not read the start of thread %s in %s: %s", thread_ts, channel, error)
            return ""
        messages = reply.get("messages") or []
        first = messages[0] if messages and isinstance(messages[0], dict) else {}
        if first.get("ts") != thread_ts or first.get("bot_id") or not first.get("user"):
            return ""
        return from_slack(str(first.get("text") or ""), bot_user).strip()

    def _react(self, channel: str, ts: str, name: str) -> None:
        try:
            self.s.client.reactions_add(channel=channel, timestamp=ts, name=name)
        except SlackApiError as exc:
            log.info("could not add a reaction: %s", exc.response.get("error"))

    def actor(self, session: Session, user_id: str) -> User:
        """The Slack user as a workflow user, with role and tiers from config and Slack user groups."""
        user = queries.ensure_user(session, user_id)  # race-free: insert-if-absent
        if user_id in self.s.config.admins and user.role is not Role.ADMIN:
            user.role = Role.ADMIN
        # A tier mapped to a user group takes its members from the group, both ways: someone
        # removed from the group in Slack loses the tier here within a minute (the cache).
        for tier, group in self.s.config.tier_usergroups.items():
            members = self._group_members(group)
            if members is None:
                continue  # group not readable right now: leave the tier as it is
            if user_id in members and tier not in user.tiers:
                queries.grant_tier(session, user, tier)
            elif user_id not in members and tier in user.tiers:
                queries.revoke_tier(session, user, tier)
        return user

    def _group_members(self, group: str) -> frozenset[str] | None:
        """The group's members (cached for a minute); None when Slack will not list them — a
        mistyped group id must not turn every message into an error."""
        with self._groups_lock:
            cached = self._groups.get(group)
            if cached and time.monotonic() - cached[0] < USERGROUP_CACHE_SECONDS:
                return cached[1]
        try:
            users: list[str] = self.s.client.usergroups_users_list(usergroup=group).get("users", [])
        except SlackApiError as exc:
            log.warning(
                "cannot list user group %s (%s); its tier is left as it is", group, exc.response.get("error")
            )
            return cached[1] if cached else None
        members = frozenset(users)
        with self._groups_lock:
            self._groups[group] = (time.monotonic(), members)
        return members


def view_values(view: dict[str, Any]) -> dict[str, str]:
    """{block_id: value} for text inputs and selects in a submitted view."""
    out: dict[str, str] = {}
    for block_id, elements in ((view.get("state") or {}).get("values") or {}).items():
        for element in elements.values():
            if element.get("type") == "static_select" or "selected_option" in element:
                selected = element.get("selected_option") or {}
                out[block_id] = str(selected.get("value") or "")
            else:
                out[block_id] = str(element.get("value") or "")
    return out
