"""`/tierline` (report, status, stats, retrain) and the App Home tab."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from slack_bolt import Ack
from sqlalchemy.orm import Session

from bot.slack import blocks
from bot.slack.base import ListenerBase
from bot.slack.home import default_stats, home_for
from bot.workflow import access, queries
from models import Ticket
from models.db import transaction

log = logging.getLogger(__name__)

COMMAND_HELP = (
    "*/tierline* commands:\n"
    "• `/tierline report [what happened]` — file a ticket with a form\n"
    "• `/tierline status` — your tickets\n"
    "• `/tierline stats` — key metrics (IT staff)\n"
    "• `/tierline retrain` — retrain the triage classifier (admins)"
)


class CommandListeners(ListenerBase):
    """The slash command and App Home: self-service views for every role."""

    def on_command(self, ack: Ack, command: dict[str, Any]) -> None:
        sub, _, rest = str(command.get("text") or "").strip().partition(" ")
        sub = sub.lower()
        user, channel = command["user_id"], command["channel_id"]
        ack()
        if sub == "report":
            meta = json.dumps({"channel": None})
            view = blocks.report_modal(initial_text=rest.strip(), private_metadata=meta)
            self.s.client.views_open(trigger_id=command["trigger_id"], view=view)
        elif sub == "status":
            self._status(channel, user)
        elif sub == "stats":
            self._stats(channel, user)
        elif sub == "retrain":
            self._retrain(channel, user)
        else:
            self.s.client.chat_postEphemeral(channel=channel, user=user, text=COMMAND_HELP)

    def _status(self, channel: str, user: str) -> None:
        with transaction(self.s.sessions) as session:
            tickets = queries.tickets_for_requester(session, self.actor(session, user))
            lines = [ticket_line(t) for t in tickets[:20]]
        text = (
            "*Your tickets*\n" + "\n".join(lines) if lines else "You have no tickets. Ask me anything here."
        )
        self.s.client.chat_postEphemeral(channel=channel, user=user, text=text, blocks=[blocks.section(text)])

    def _stats(self, channel: str, user: str) -> None:
        with transaction(self.s.sessions) as session:
            actor = self.actor(session, user)
            allowed = access.is_staff(actor)
            lines = self._stats_lines(session) if allowed else []
        if not allowed:
            self.refuse(channel, user, "/tierline stats is for IT staff.")
            return
        text = "*Tierline metrics*\n" + "\n".join(lines)
        self.s.client.chat_postEphemeral(channel=channel, user=user, text=text, blocks=[blocks.section(text)])

    def _stats_lines(self, session: Session) -> list[str]:
        """The desk's metrics, then the learning loop's (alerts, incidents, drafts waiting)."""
        lines = (self.s.stats or default_stats)(session)
        if self.s.learning is not None:
            lines = [*lines, *self.s.learning.dashboard_lines(session)]
        return lines

    def _retrain(self, channel: str, user: str) -> None:
        with transaction(self.s.sessions) as session:
            is_admin = access.is_admin(self.actor(session, user))
        if not is_admin:
            self.refuse(channel, user, "Only admins can retrain the classifier.")
            return
        if self.s.retrain is None:
            self.refuse(channel, user, "Retraining is not available in this deployment.")
            return
        self.s.client.chat_postEphemeral(
            channel=channel, user=user, text="Retraining started; I'll post the result here when it's done."
        )
        retrain = self.s.retrain

        def run() -> None:
            try:
                summary = retrain()
            except Exception as exc:  # report any failure to the admin who asked, then log it
                log.exception("retraining failed")
                summary = f"Retraining failed: {exc}"
            text = f"<@{user}> {summary}"
            self.s.client.chat_postMessage(channel=channel, text=text, blocks=[blocks.section(text)])

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
    return (
        f"• *{ticket.number}* {blocks.clip(ticket.subject, 80)} — {ticket.status.value.replace('_', ' ')}"
        f" · {ticket.priority} · {ticket.tier.value}{who}"
    )
