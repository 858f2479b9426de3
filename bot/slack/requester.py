"""Requester listeners: questions in threads, answer buttons, missing facts, CSAT, "Report to IT"."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from slack_bolt import Ack, BoltContext
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.engine import Inquiry
from bot.slack import blocks, store
from bot.slack.base import ListenerBase, UserError, view_values
from bot.slack.text import escape, from_slack
from bot.workflow import operations, queries
from bot.workflow.facts import apply_facts, missing_facts
from bot.workflow.intake import open_ticket
from classifier.types import Facts
from models import Conversation, Ticket, TicketStatus
from models.db import transaction


class RequesterListeners(ListenerBase):
    """What the person asking for help can do."""

    def _handle_post(
        self,
        channel: str,
        ts: str,
        user: str,
        key: str,
        question: str,
        *,
        top_level: bool,
        mentioned: bool,
        dm: bool = False,
        bot_user: str = "",
    ) -> bool:
        """Run the engine on one post; True when it was relayed to an engineer rather than answered.
        In a DM a top-level post may carry on the case waiting in the person's last thread there:
        people answer our clarifying question, or say "still broken", outside the thread.

        A mention in a thread the bot was not part of ("@Tierline can you help with this?" under a
        colleague's message) is about that thread's first message, so a new case there starts
        with its words: the search and the ticket see what was actually asked. It is read before
        the unit of work, so no database lock is held while Slack answers, and only for a thread
        the bot is not yet part of: Slack rate-limits conversations.replies tightly."""
        relayed = False
        where = store.parse_conversation_key(key)
        start = ""
        if mentioned and not top_level and not dm and where is not None and not self._takes_part(key, where):
            start = self.thread_start(where[0], where[1], bot_user)
        with self.unit() as session:
            store.claim_post(session, store.post_key(channel, ts))
            conversation = session.scalars(select(Conversation).where(Conversation.key == key)).one_or_none()
            if not top_level and conversation is None:
                ticket = self._ticket_of_thread(session, key)
                if ticket is not None:
                    if ticket.requester is None or ticket.requester.external_id != user:
                        return False  # someone else's words in a requester's thread: not ours to pass on
                    if not self.s.engine.adopt_ticket_thread(session, ticket, key, "slack"):
                        # the ticket's conversation lives elsewhere: the reply goes to its engineer
                        operations.add_message(
                            session,
                            ticket,
                            actor=self.actor(session, user),
                            text=question,
                            routing=self.s.routing,
                        )
                        return True
                elif not mentioned and not dm:
                    return False  # someone else's thread that we were never part of
                elif start and start not in question:
                    # In a DM everything is said to us: a thread we have not answered in yet (the
                    # assistant pane opens each chat as one) starts a case there; a mention in a
                    # colleague's thread starts it with that thread's first words.
                    question = f"{start}\n{question}".strip()
            if conversation is not None and conversation.requester.external_id != user:
                return False  # a colleague chatting in the requester's thread: theirs, not a question to us
            self.actor(session, user)
            earlier = store.latest_conversation_in(session, channel, user) if dm and top_level else None
            inquiry = Inquiry(question, user, key, "slack", may_continue=earlier)
            outcome = self.s.engine.handle(session, inquiry)  # counts it
            relayed = outcome.relayed  # acknowledged with a reaction below, not a message
            if not relayed:
                self.reply_outcome(session, outcome, user)
            # A rating or a reopen is answered in words (a relayed reply changes neither), so only
            # then can a rating prompt have become stale.
            handled = (
                None
                if relayed or outcome.ticket is None
                else queries.ticket_numbered(session, outcome.ticket.number)
            )
            settled = _settle_csat_prompts(session, handled) if handled is not None else []
        self._redraw_all(settled)
        return relayed

    def _takes_part(self, key: str, where: tuple[str, str]) -> bool:
        """Whether a case or a ticket already lives in this thread, so its start is known."""
        with self.s.sessions() as session:
            case = session.scalars(select(Conversation.id).where(Conversation.key == key)).first()
            return case is not None or store.thread_at(session, *where) is not None

    def _ticket_of_thread(self, session: Session, key: str) -> Ticket | None:
        """The ticket whose requester thread this is when no conversation holds it: the receipt of
        `/tierline report` or "Report to IT", or the DM a notice was sent in. Its requester's
        replies there are read by the engine once the thread is adopted as the ticket's
        conversation (`Engine.adopt_ticket_thread`)."""
        where = store.parse_conversation_key(key)
        thread = store.thread_at(session, *where) if where else None
        if thread is None or thread.role != store.REQUESTER:
            return None
        return session.get(Ticket, thread.ticket_id)

    def on_feedback(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user = body["user"]["id"]
        key = str(action["value"])
        choice = {a[0]: f for f, a in blocks.FEEDBACK_ACTIONS.items()}[action["action_id"]]
        channel = (body.get("channel") or {}).get("id")
        where = store.parse_conversation_key(key)
        with self.unit() as session:
            refusal = _not_the_asker(session, key, user)
            if not refusal:
                outcome = self.s.engine.feedback(session, key, choice, user)
                self.reply_outcome(session, outcome, user)
        if refusal:
            self.refuse(channel, user, refusal, where[1] if where else None)
            return
        self._mark_answered(body, f"{blocks.FEEDBACK_ACTIONS[choice][1]} — <@{user}>")

    def on_pick(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        """A click on one of the articles a clarifying question offered."""
        ack()
        user = body["user"]["id"]
        key, _, article_id = str(action["value"]).rpartition("|")
        channel = (body.get("channel") or {}).get("id")
        where = store.parse_conversation_key(key)
        picked = ""
        with self.unit() as session:
            refusal = _not_the_asker(session, key, user)
            if not refusal:
                outcome = self.s.engine.pick(session, key, article_id, user)
                self.reply_outcome(session, outcome, user)
                if outcome.kind == "answer" and outcome.sources:
                    picked = outcome.sources[0].title
        if refusal:
            self.refuse(channel, user, refusal, where[1] if where else None)
        elif picked:
            self._mark_answered(body, f"{escape(picked)} — <@{user}>")

    def _mark_answered(self, body: dict[str, Any], note: str) -> None:
        """Replace the buttons under a message with what was chosen, so nobody presses twice."""
        message = body.get("message") or {}
        channel = (body.get("channel") or {}).get("id")
        if not channel or not message.get("ts") or not message.get("blocks"):
            return
        kept = [b for b in message["blocks"] if b.get("type") != "actions"]
        self.redraw(
            channel, str(message["ts"]), str(message.get("text") or note), [*kept, blocks.context(note)]
        )

    def on_add_details(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        number = str(action["value"])
        user = body["user"]["id"]
        channel = (body.get("channel") or {}).get("id")
        try:
            with transaction(self.s.sessions) as session:
                missing = missing_facts(queries.find_ticket(session, number))
        except UserError as exc:  # e.g. a button left on a message whose ticket was deleted
            self.refuse(channel, user, str(exc))
            return
        self.open_view(body["trigger_id"], blocks.details_modal(number, missing), user, channel)

    def on_fact_button(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        number, fact, value = str(action["value"]).split("|", 2)
        user = body["user"]["id"]
        channel = (body.get("channel") or {}).get("id")
        try:
            with self.unit() as session:
                ticket = queries.find_ticket(session, number)
                apply_facts(
                    session,
                    ticket,
                    actor=self.actor(session, user),
                    values={fact: value},
                    routing=self.s.routing,
                )
                self.s.notifier.refresh_card(session, ticket)
        except UserError as exc:
            self.refuse(channel, user, str(exc))
            return
        if channel:
            self._react(channel, body["container"]["message_ts"], "white_check_mark")

    def on_details_submitted(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        ack()
        values = {k: v for k, v in view_values(view).items() if v}
        user = body["user"]["id"]
        try:
            with self.unit() as session:
                ticket = queries.find_ticket(session, view["private_metadata"])
                if values:
                    apply_facts(
                        session,
                        ticket,
                        actor=self.actor(session, user),
                        values=values,
                        routing=self.s.routing,
                    )
                    self.s.notifier.refresh_card(session, ticket)
        except UserError as exc:
            self.refuse(None, user, str(exc))

    def on_csat(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        number, score = str(action["value"]).split("|", 1)
        user = body["user"]["id"]
        channel = (body.get("channel") or {}).get("id")
        message_ts = (body.get("container") or {}).get("message_ts")
        try:
            with self.unit() as session:
                ticket = queries.find_ticket(session, number)
                operations.rate(session, ticket, actor=self.actor(session, user), score=int(score))
                settled = _settle_csat_prompts(session, ticket)
        except UserError as exc:
            self.refuse(channel, user, str(exc))
            return
        if channel and message_ts and (channel, str(message_ts)) not in {(c, t) for c, t, _ in settled}:
            # a prompt posted before prompts were kept: the clicked message itself
            settled.append((channel, str(message_ts), _csat_settled_text(number, int(score))))
        self._redraw_all(settled)

    def _redraw_all(self, settled: list[tuple[str, str, str]]) -> None:
        for channel, ts, text in settled:
            self.redraw(channel, ts, text, [blocks.section(text)])

    def on_report_shortcut(
        self, ack: Ack, body: dict[str, Any], shortcut: dict[str, Any], context: BoltContext
    ) -> None:
        ack()
        message = shortcut.get("message") or {}
        channel = (shortcut.get("channel") or {}).get("id")
        meta = json.dumps({"channel": channel, "ts": message.get("thread_ts") or message.get("ts")})
        said = from_slack(str(message.get("text") or ""), context.bot_user_id)
        view = blocks.report_modal(initial_text=said, private_metadata=meta)
        self.open_view(shortcut["trigger_id"], view, body["user"]["id"], channel)

    def on_report_submitted(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = view_values(view)
        subject = (values.get("subject") or "").strip()
        details = (values.get("details") or "").strip()
        if not subject:
            ack(response_action="errors", errors={"subject": "Give the problem a short summary."})
            return
        ack()
        user = body["user"]["id"]
        meta = json.loads(view.get("private_metadata") or "{}")
        text = f"{subject}\n{details}".strip()
        given = {k: values[k] for k in blocks.FACT_LABELS if values.get(k)}
        with self.unit() as session:
            requester = self.actor(session, user)
            facts = _merge_facts(self.s.triage.extract_facts(text), given)
            ticket = open_ticket(
                session,
                requester=requester,
                subject=subject,
                body=details or subject,
                triage=self.s.triage.triage(text, facts),
                facts=facts,
                routing=self.s.routing,
                source="slack",
                prefix=self.s.ticket_prefix,
            )
            if meta.get("channel") and meta.get("ts"):
                store.link_thread(session, ticket, store.REQUESTER, meta["channel"], meta["ts"])


def _not_the_asker(session: Session, key: str, user: str) -> str:
    """The refusal for someone pressing a button under another person's conversation, else ""."""
    conversation = session.scalars(select(Conversation).where(Conversation.key == key)).one_or_none()
    if conversation is None or conversation.requester.external_id == user:
        return ""
    return f"Only <@{conversation.requester.external_id}>, who asked, can answer that."


def _merge_facts(found: Facts, given: dict[str, str]) -> Facts:
    """What the person typed in the form wins over what was read from their text."""
    return replace(
        found,
        device=given.get("device") or found.device,
        software_version=given.get("software_version") or found.software_version,
        error_text=given.get("error_text") or found.error_text,
        impact=given.get("impact") or found.impact,
        urgency=given.get("urgency") or found.urgency,
    )


def _csat_settled_text(number: str, score: int | None) -> str:
    """What a rating prompt says once answered: the rating, or (None) that the ticket was reopened."""
    if score is None:
        return f"*{number}* was reopened; you will be asked to rate it again once it is resolved."
    return f"Thanks! You rated *{number}* {score}/5."


def _settle_csat_prompts(session: Session, ticket: Ticket) -> list[tuple[str, str, str]]:
    """The rating prompts of a ticket that was just rated (a click, or "5" typed in its thread)
    or reopened, with what each should now say instead of its buttons: (channel, ts, text).
    A resolved ticket still waiting for its rating keeps its prompt."""
    if ticket.csat_score is not None:
        text = _csat_settled_text(ticket.number or "", ticket.csat_score)
    elif ticket.status not in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
        text = _csat_settled_text(ticket.number or "", None)
    else:
        return []
    return [(channel, ts, text) for channel, ts in store.take_csat_prompts(session, ticket)]
