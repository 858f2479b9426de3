"""What every Slack listener shares: the services, one unit of work per event, refusals, identities.

`ListenerBase` is the plumbing; `requester`, `engineer` and `commands` add listeners on top, and
`app.TierlineSlack` combines them and registers them on bolt.
"""

from __future__ import annotations

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
from bot.slack.notifier import SlackNotifier
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
        """An ephemeral 'no' that only the person who tried sees."""
        text = message[:1].upper() + message[1:]
        if channel is None:
            channel = self._dm(user)
        try:
            self.s.client.chat_postEphemeral(channel=channel, user=user, text=text, thread_ts=thread_ts)
        except SlackApiError as exc:  # e.g. the bot is not in that channel: fall back to a DM
            log.info("ephemeral refusal failed (%s); sending a DM", exc.response.get("error"))
            self.s.client.chat_postMessage(channel=self._dm(user), text=text)

    def _dm(self, user: str) -> str:
        return str(self.s.client.conversations_open(users=user)["channel"]["id"])

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
