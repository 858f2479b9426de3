"""Learning-loop listeners: "Mark duplicate" and "Create KB draft" on the card, "Approve" on the
draft, and "Declare major incident" on a spike alert.

Refusals (role, state, bad input) come back as `LearningError` or a workflow error and are shown
only to the person who clicked; nothing is half-done because each click is one unit of work.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack

from bot.learning.errors import LearningError
from bot.learning.incidents import can_run_incidents, default_title, dismiss_alert, incident_label
from bot.learning.similar import link_duplicate
from bot.learning.spikes import alert_payload
from bot.slack import blocks
from bot.slack.base import ListenerBase, UserError, view_values
from bot.slack.learning import DEFAULT_INCIDENT_MESSAGE, LearningHooks
from bot.workflow import access, queries
from bot.workflow.errors import PermissionDenied
from models import SpikeAlert
from models.db import transaction

log = logging.getLogger(__name__)

OFF = "The learning loop is not enabled in this deployment."


class LearningListeners(ListenerBase):
    """Buttons the learning loop adds to cards, alerts and draft notices."""

    def _hooks(self, channel: str | None, user: str) -> LearningHooks | None:
        if self.s.learning is None:
            self.refuse(channel, user, OFF)
        return self.s.learning

    def _tell(
        self, channel: str | None, user: str, text: str, body: list[dict[str, Any]] | None = None
    ) -> None:
        if channel is None:
            self.s.client.chat_postMessage(channel=self._dm(user), text=text, blocks=body)
            return
        self.s.client.chat_postEphemeral(channel=channel, user=user, text=text, blocks=body)

    # ------------------------------------------------------------------ card
    def on_link_duplicate(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user, channel = body["user"]["id"], (body.get("channel") or {}).get("id")
        number, original_number = str(action["value"]).split("|", 1)
        try:
            with self.unit() as session:
                actor = self.actor(session, user)
                access.require_staff(actor, "mark duplicates")
                ticket = queries.find_ticket(session, number)
                original = queries.find_ticket(session, original_number)
                link_duplicate(session, ticket, original, actor=actor)
                self.s.notifier.refresh_card(session, ticket)
        except (LearningError, *UserError) as exc:
            self.refuse(channel, user, str(exc))
            return
        self._tell(channel, user, f"{number} is marked as a duplicate of {original_number}.")

    def on_create_draft(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user, channel = body["user"]["id"], (body.get("channel") or {}).get("id")
        hooks = self._hooks(channel, user)
        if hooks is None:
            return
        number = str(action["value"])
        try:
            with transaction(self.s.sessions) as session:
                actor = self.actor(session, user)
                draft = hooks.draft(session, queries.find_ticket(session, number), actor)
                if draft.suggested_action == "update" and draft.similar_article_id:
                    suggestion = (
                        f"It covers the same topic as `{draft.similar_article_id}` "
                        f"({draft.similarity or 0:.0%} similar), so approving adds the fix to that article."
                    )
                else:
                    suggestion = "No live article covers it yet, so approving publishes a new article."
                text, message = blocks.draft_created_message(
                    draft_id=draft.id,
                    number=number,
                    title=draft.title,
                    suggestion=suggestion,
                    can_approve=access.is_admin(actor),
                    draft_text=draft.body,
                )
        except (LearningError, *UserError) as exc:
            self.refuse(channel, user, str(exc))
            return
        self._tell(channel, user, text, message)

    def on_approve_draft(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user, channel = body["user"]["id"], (body.get("channel") or {}).get("id")
        hooks = self._hooks(channel, user)
        if hooks is None:
            return
        draft_id = int(action["value"])
        try:
            with transaction(self.s.sessions) as session:
                actor = self.actor(session, user)
                if not access.is_admin(actor):
                    raise PermissionDenied("only admins can publish KB drafts from Slack")
                publication = hooks.approve(session, draft_id, actor)
        except (LearningError, *UserError) as exc:
            self.refuse(channel, user, str(exc))
            return
        except Exception as exc:  # the re-index failed: the approval was rolled back, say so and log it
            log.exception("approving KB draft #%s failed", draft_id)
            self.refuse(channel, user, f"Draft #{draft_id} was not published: {exc}")
            return
        verb = "published as a new article" if publication.action == "new" else "added to"
        self._tell(
            channel, user, f"KB draft #{draft_id} {verb} `{publication.article_id}`; search has it now."
        )

    # ------------------------------------------------------------------ spike alerts
    def on_declare_incident(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user, channel = body["user"]["id"], (body.get("channel") or {}).get("id")
        if self._hooks(channel, user) is None:
            return
        alert_id = int(action["value"])
        with transaction(self.s.sessions) as session:
            actor = self.actor(session, user)
            alert = session.get(SpikeAlert, alert_id)
            refusal = None
            if not can_run_incidents(actor):
                refusal = "Only L3 engineers and admins can declare a major incident."
            elif alert is None:
                refusal = f"Spike alert {alert_id} no longer exists."
            elif alert.incident_id is not None:
                refusal = f"Spike alert {alert_id} is already major incident MI-{alert.incident_id}."
            summary = default_title(alert) if alert else ""
        if refusal:
            self.refuse(channel, user, refusal)
            return
        message_ts = (body.get("container") or {}).get("message_ts") or ""
        where = f"{channel}|{message_ts}" if channel and message_ts else ""
        view = blocks.declare_modal(alert_id, title=summary, message=DEFAULT_INCIDENT_MESSAGE, where=where)
        self.open_view(body["trigger_id"], view, user, channel)

    def on_dismiss_alert(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user, channel = body["user"]["id"], (body.get("channel") or {}).get("id")
        alert_id = int(action["value"])
        try:
            with transaction(self.s.sessions) as session:
                dismiss_alert(session, alert_id, actor=self.actor(session, user))
        except LearningError as exc:
            self.refuse(channel, user, str(exc))
            return
        message_ts = (body.get("container") or {}).get("message_ts")
        if channel and message_ts:
            self._close_alert(
                alert_id, channel, str(message_ts), f"Dismissed as not an incident by <@{user}>."
            )

    def _close_alert(self, alert_id: int, channel: str, ts: str, outcome: str) -> None:
        """Replace the alert's buttons with what was decided, so nobody decides twice."""
        with transaction(self.s.sessions) as session:
            alert = session.get(SpikeAlert, alert_id)
            if alert is None:
                return
            payload = alert_payload(alert, [m.ticket for m in alert.members])
        text, body = blocks.spike_alert_message(payload, can_declare=False, outcome=outcome)
        self.redraw(channel, ts, text, body)

    def on_declare_submitted(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = view_values(view)
        message = (values.get("message") or "").strip()
        if not message:
            ack(response_action="errors", errors={"message": "Tell the requesters what is happening."})
            return
        if self.s.learning is None:
            ack(response_action="errors", errors={"message": OFF})
            return
        user = body["user"]["id"]
        alert_text, _, where = str(view["private_metadata"]).partition("|")
        alert_id = int(alert_text)
        try:
            # Not `unit()`: telling every requester happens after the ack, not inside Slack's 3 s.
            with transaction(self.s.sessions) as session:
                incident = self.s.learning.declare(
                    session,
                    alert_id,
                    self.actor(session, user),
                    title=values.get("title") or "",
                    message=message,
                )
                label = incident_label(incident)
        except LearningError as exc:
            ack(response_action="errors", errors={"message": str(exc)[:150]})
            return
        ack()
        self.flush_outbox()
        log.info("%s declared %s", user, label)
        channel, _, ts = where.partition("|")
        if channel and ts:
            self._close_alert(alert_id, channel, ts, f"Declared as major incident {label} by <@{user}>.")
