"""`/tierline` (report, status, queue, stats, retrain) and the App Home tab."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, Respond
from sqlalchemy.orm import Session

from bot.slack import blocks
from bot.slack.base import ListenerBase
from bot.slack.home import default_stats, home_for
from bot.slack.text import escape, from_slack
from bot.workflow import access, queries
from models import Ticket, Tier
from models.db import transaction

log = logging.getLogger(__name__)

COMMAND_HELP = (
    "*/tierline* commands:\n"
    "• `/tierline report [what happened]` — file a ticket with a form\n"
    "• `/tierline status` — your tickets\n"
    "• `/tierline queue` — unclaimed tickets waiting for your tiers (IT staff)\n"
    "• `/tierline stats` — key metrics (IT staff)\n"
    "• `/tierline retrain` — retrain the triage classifier (admins)"
)


class CommandListeners(ListenerBase):
    """The slash command and App Home: self-service views for every role."""

    def on_command(self, ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        """Answers go through the command's `response_url` (`respond`) rather than
        `chat.postEphemeral`: a slash command works in any conversation, including DMs between
        people and channels the bot is not in, where the Web API answers `channel_not_found`."""
        sub, _, rest = str(command.get("text") or "").strip().partition(" ")
        sub = sub.lower()
        user, channel = command["user_id"], command.get("channel_id")
        ack()

        def say(text: str) -> None:
            if command.get("response_url"):
                try:
                    sent = respond(
                        text=text,
                        blocks=[blocks.section(text)],
                        response_type="ephemeral",
                        replace_original=False,
                    )
                    if sent.status_code == 200:
                        return
                    log.info("response_url answered %s; telling %s another way", sent.status_code, user)
                except (OSError, ValueError) as exc:
                    log.info("response_url failed (%s); telling %s another way", exc, user)
            self.refuse(channel, user, text)  # ephemeral where they typed it, else a DM

        if sub == "report":
            meta = json.dumps({"channel": None})
            view = blocks.report_modal(initial_text=from_slack(rest), private_metadata=meta)
            self.open_view(command["trigger_id"], view, user, channel)
        elif sub == "status":
            self._status(user, say)
        elif sub == "queue":
            self._queue(user, say)
        elif sub == "stats":
            self._stats(user, say)
        elif sub == "retrain":
            self._retrain(user, say)
        elif sub in ("", "help"):
            say(COMMAND_HELP)
        else:  # say what was not understood, or a typo looks like it was ignored
            say(f"I don't know `/tierline {escape(blocks.clip(sub, 40))}`.\n{COMMAND_HELP}")

    def _status(self, user: str, say: Callable[[str], None]) -> None:
        with transaction(self.s.sessions) as session:
            tickets = queries.tickets_for_requester(session, self.actor(session, user))
            lines = [ticket_line(t) for t in tickets[:20]]
        say("*Your tickets*\n" + "\n".join(lines) if lines else "You have no tickets. Ask me anything here.")

    def _queue(self, user: str, say: Callable[[str], None]) -> None:
        """Unclaimed tickets waiting for the engineer's tiers (every tier for an admin without any)."""
        with transaction(self.s.sessions) as session:
            actor = self.actor(session, user)
            allowed = access.is_staff(actor)
            tiers = sorted(actor.tiers) or (sorted(Tier) if access.is_admin(actor) else [])
            lines = (
                [ticket_line(t) for tier in tiers for t in queries.queue(session, tier)[:20]]
                if allowed
                else []
            )
            names = ", ".join(t.value for t in tiers) or "no tier"
        if not allowed:
            say("/tierline queue is for IT staff; `/tierline status` shows your own tickets.")
        elif lines:
            say(f"*Waiting for {names}*\n" + "\n".join(lines[:40]))
        else:
            say(f"No unclaimed tickets are waiting for {names}.")

    def _stats(self, user: str, say: Callable[[str], None]) -> None:
        with transaction(self.s.sessions) as session:
            actor = self.actor(session, user)
            allowed = access.is_staff(actor)
            lines = self._stats_lines(session) if allowed else []
        say("*Tierline metrics*\n" + "\n".join(lines) if allowed else "/tierline stats is for IT staff.")

    def _stats_lines(self, session: Session) -> list[str]:
        """The desk's metrics, then the learning loop's (alerts, incidents, drafts waiting)."""
        lines = (self.s.stats or default_stats)(session)
        if self.s.learning is not None:
            lines = [*lines, *self.s.learning.dashboard_lines(session)]
        return lines

    def _retrain(self, user: str, say: Callable[[str], None]) -> None:
        """Runs in the background and answers through the same response_url (valid for 30 minutes)."""
        with transaction(self.s.sessions) as session:
            is_admin = access.is_admin(self.actor(session, user))
        if not is_admin:
            say("Only admins can retrain the classifier.")
            return
        if self.s.retrain is None:
            say("Retraining is not available in this deployment.")
            return
        say("Retraining started; I'll tell you here when it's done.")
        retrain = self.s.retrain

        def run() -> None:
            try:
                summary = retrain()
            except Exception as exc:  # report any failure to the admin who asked, then log it
                log.exception("retraining failed")
                summary = f"Retraining failed: {exc}"
            say(f"<@{user}> {summary}")

        threading.Thread(target=run, name="tierline-retrain", daemon=True).start()

    def on_home_opened(self, event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home":
            return
        user = str(event["user"])
        with transaction(self.s.sessions) as session:
            view = home_for(session, self.actor(session, user), stats=self._stats_lines)
        self.s.client.views_publish(user_id=user, view=view)


def ticket_line(ticket: Ticket) -> str:
    who = f" · with <@{ticket.assignee.external_id}>" if ticket.assignee else ""
    subject = escape(blocks.clip(ticket.subject, 80))
    return (
        f"• *{ticket.number}* {subject} — {ticket.status.value.replace('_', ' ')}"
        f" · {ticket.priority} · {ticket.tier.value}{who}"
    )
