"""The Slack app: bolt listeners that turn Slack events into engine and workflow calls.

Listeners live in `requester`, `engineer` and `commands` (plumbing in `base`); this module combines
them, routes each posted message to the right side, and builds the bolt `App`.

Thin on purpose: every decision lives in `bot.engine` and `bot.workflow`; this module only
(1) decides whether a Slack event is ours to handle, (2) runs one unit of work per event, and
(3) hands what must be said to the outbox, delivered right after the commit (the worker retries).

Acknowledgement: the app runs with `process_before_response=False`, so bolt answers Slack's HTTP
request as soon as `ack()` is called (events are acknowledged before the listener runs) and the
engine's work happens afterwards in bolt's listener executor, well inside Slack's 3-second limit.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse

from bot.slack import blocks, store
from bot.slack.base import SORRY, SlackServices, UserError
from bot.slack.commands import CommandListeners
from bot.slack.config import ChannelMode
from bot.slack.engineer import EngineerListeners
from bot.slack.learning_actions import LearningListeners
from bot.slack.requester import RequesterListeners
from bot.slack.text import mentions_user, message_text, with_attachments

__all__ = ["SlackServices", "TierlineSlack", "build_app", "is_human_post"]

log = logging.getLogger(__name__)

# Message subtypes that are a person saying something; everything else (edits, deletes, joins,
# bot posts, topic changes...) is ignored.
HUMAN_SUBTYPES = frozenset({None, "file_share", "thread_broadcast", "me_message"})


class TierlineSlack(RequesterListeners, EngineerListeners, CommandListeners, LearningListeners):
    """All listeners, registered on a bolt `App` by `register`; `on_message` routes each post."""

    def listeners(self) -> dict[str, list[tuple[str | re.Pattern[str], Callable[..., Any]]]]:
        """Every listener by bolt kind; `register` installs exactly these (the manifest test reads them)."""
        return {
            "event": [
                ("message", self.on_message),
                ("app_mention", self.on_message),
                ("app_home_opened", self.on_home_opened),
            ],
            "action": [
                *((feedback[0], self.on_feedback) for feedback in blocks.FEEDBACK_ACTIONS.values()),
                (blocks.ADD_DETAILS, self.on_add_details),
                (re.compile(r"^tl_fact_urgency_\w+$"), self.on_fact_button),
                (re.compile(rf"^{blocks.CSAT_PREFIX}[1-5]$"), self.on_csat),
                (re.compile(rf"^{blocks.PICK_PREFIX}\d+$"), self.on_pick),
                (blocks.CLAIM, self.on_claim),
                (blocks.ESCALATE, self.on_escalate),
                (blocks.RESOLVE, self.on_resolve),
                (blocks.NOTE, self.on_note),
                (blocks.WAIT, self.on_wait),
                (blocks.CORRECT_CATEGORY, self.on_correct),
                (blocks.CORRECT_PRIORITY, self.on_correct),
                (blocks.LINK_DUPLICATE, self.on_link_duplicate),
                (blocks.CREATE_DRAFT, self.on_create_draft),
                (blocks.APPROVE_DRAFT, self.on_approve_draft),
                (blocks.DECLARE_INCIDENT, self.on_declare_incident),
                (blocks.DISMISS_ALERT, self.on_dismiss_alert),
            ],
            "command": [("/tierline", self.on_command)],
            "shortcut": [(blocks.REPORT_SHORTCUT, self.on_report_shortcut)],
            "view": [
                (blocks.REPORT_VIEW, self.on_report_submitted),
                (blocks.DETAILS_VIEW, self.on_details_submitted),
                (blocks.NOTE_VIEW, self.on_note_submitted),
                (blocks.RESOLVE_VIEW, self.on_resolve_submitted),
                (blocks.ESCALATE_VIEW, self.on_escalate_submitted),
                (blocks.WAIT_VIEW, self.on_wait_submitted),
                (blocks.DECLARE_VIEW, self.on_declare_submitted),
            ],
        }

    def register(self, app: App) -> None:
        """Install the listeners; those Slack waits on (clicks, commands, forms) are `guarded`.
        Events are acknowledged before they run, and `on_message` answers its own failures."""
        for kind, entries in self.listeners().items():
            for key, listener in entries:
                getattr(app, kind)(key)(listener if kind == "event" else self.guarded(listener))
        # Last, so it only gets what no listener above wants: bolt runs the first match.
        app.event(re.compile(r".*"))(self.on_unsubscribed_event)

    def on_unsubscribed_event(self, event: dict[str, Any]) -> None:
        """An event the manifest does not subscribe to (a workspace that subscribed to more, a
        reaction, Slack's assistant-thread events): acknowledged with 200 and left alone. Bolt
        would answer 404, which Slack counts as a failed delivery, retries, and after enough of
        them disables the app's event subscriptions."""
        log.debug("ignoring a %s event: no listener takes it", event.get("type"))

    def on_message(self, event: dict[str, Any], context: BoltContext) -> None:
        if not is_human_post(event):
            return
        channel, ts = str(event["channel"]), str(event["ts"])
        thread_ts = event.get("thread_ts")
        user = str(event["user"])
        bot_user = context.bot_user_id or ""
        said = with_attachments(message_text(event, bot_user), event.get("files"))
        if self.s.config.tier_of_channel(channel) is not None:
            if thread_ts and thread_ts != ts:
                self.on_card_thread_reply(channel, ts, str(thread_ts), user, said)
            return
        mentioned = event.get("type") == "app_mention" or mentions_user(event, bot_user)
        is_dm = event.get("channel_type") == "im" or channel.startswith("D")
        top_level = not thread_ts or thread_ts == ts
        key = store.conversation_key(channel, str(thread_ts or ts))
        if not is_dm:
            mode = self.s.config.channel_mode(channel)
            if mode is None and event.get("channel_type") == "mpim":
                mode = ChannelMode.MENTION  # a group DM the bot was added to: answer when asked
            if mode is None:
                return  # never answer in a channel we were not configured for
            if top_level and mode is ChannelMode.MENTION and not mentioned:
                return
        try:
            relayed = self._handle_post(
                channel,
                ts,
                user,
                key,
                said,
                top_level=top_level,
                mentioned=mentioned,
                dm=is_dm,
                bot_user=bot_user,
            )
        except store.DuplicatePost:
            return  # a retry, or the other event of an app_mention + message pair
        except UserError as exc:  # e.g. a closed ticket that may not be reopened any more
            self.refuse(channel, user, str(exc), str(thread_ts or ts))
            return
        except Exception:
            # Say so in the thread rather than leave the person waiting; bolt's error handler logs it.
            self.s.client.chat_postMessage(channel=channel, thread_ts=str(thread_ts or ts), text=SORRY)
            raise
        if relayed:
            self._react(channel, ts, "incoming_envelope")


def is_human_post(event: dict[str, Any]) -> bool:
    """A person's new message: not a bot (ours or another), not an edit, delete or join."""
    if event.get("bot_id") or event.get("bot_profile") or not event.get("user"):
        return False
    return event.get("subtype") in HUMAN_SUBTYPES and bool(event.get("channel")) and bool(event.get("ts"))


def build_app(
    services: SlackServices,
    *,
    listener_executor: Executor | None = None,
    token_verification: bool = True,
) -> App:
    """The bolt app over `services`; serve it with `bot.slack.server`."""
    app = App(
        client=services.client,
        signing_secret=services.config.signing_secret or "socket-mode",
        process_before_response=False,
        token_verification_enabled=token_verification,
        listener_executor=listener_executor,
        request_verification_enabled=bool(services.config.signing_secret),
    )
    app.middleware(acknowledge_rate_limit_notices)
    TierlineSlack(services).register(app)
    return app


def acknowledge_rate_limit_notices(body: dict[str, Any], next: Callable[[], BoltResponse]) -> BoltResponse:
    """Slack's `app_rate_limited` notice (events are being dropped for this workspace) is no event
    a listener takes, and Slack counts a non-2xx answer as a failure of the events URL: log it,
    answer 200."""
    if body.get("type") == "app_rate_limited":
        log.warning(
            "Slack is dropping events for team %s (over its rate limit since %s)",
            body.get("team_id"),
            body.get("minute_rate_limited"),
        )
        return BoltResponse(status=200, body="")
    return next()
