"""Engineer listeners: the tier-queue card's buttons and menus, and its thread (relay or !note)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack
from sqlalchemy.orm import Session

from bot.slack import blocks, store
from bot.slack.base import ListenerBase, UserError, view_values
from bot.workflow import access, operations, queries
from bot.workflow.categories import known_categories, match_category, model_categories
from bot.workflow.errors import IllegalTransition, InvalidInput
from bot.workflow.states import check_transition
from models import Ticket, TicketStatus, User
from models.db import transaction

NOTE_PREFIX = "!note"
CORRECTED = "corrected from the Slack card"


class EngineerListeners(ListenerBase):
    """What the IT staff do from a ticket's card in their tier's queue channel."""

    def on_card_thread_reply(self, channel: str, ts: str, thread_ts: str, user: str, text: str) -> None:
        noted = False
        try:
            with self.unit() as session:
                store.claim_post(session, store.post_key(channel, ts))
                card = store.thread_at(session, channel, thread_ts)
                if card is None or card.role != store.CARD:
                    return
                ticket = session.get(Ticket, card.ticket_id)
                if ticket is None:
                    return
                actor = self.actor(session, user)
                body = text.strip()
                if body.lower().startswith(NOTE_PREFIX):
                    operations.add_internal_note(
                        session, ticket, actor=actor, text=body[len(NOTE_PREFIX) :].lstrip(" :").strip()
                    )
                    noted = True
                else:
                    unanswered = ticket.first_response_at is None
                    operations.add_message(session, ticket, actor=actor, text=body, routing=self.s.routing)
                    if unanswered and ticket.first_response_at is not None:  # the card's clock moves on
                        self.s.notifier.refresh_card(session, ticket)
        except store.DuplicatePost:
            return
        except UserError as exc:
            self.refuse(channel, user, str(exc), thread_ts)
            return
        if noted:  # a note is never relayed, so say it was kept: a padlock on it
            self._react(channel, ts, "lock")

    def _card_context(self, body: dict[str, Any]) -> tuple[str, str | None]:
        return body["user"]["id"], (body.get("channel") or {}).get("id")

    def on_claim(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user, channel = self._card_context(body)
        try:
            with self.unit() as session:
                ticket = queries.find_ticket(session, str(action["value"]))
                operations.claim(session, ticket, actor=self.actor(session, user))
                self.s.notifier.refresh_card(session, ticket)
        except UserError as exc:
            self.refuse(channel, user, str(exc))

    def _precheck_then_open(
        self,
        body: dict[str, Any],
        number: str,
        check: Callable[[User, Ticket], None],
        view: dict[str, Any],
    ) -> None:
        """Refuse at once (ephemeral) when the person may not act, before asking them to type anything."""
        user, channel = self._card_context(body)
        try:
            with transaction(self.s.sessions) as session:
                check(self.actor(session, user), queries.find_ticket(session, number))
        except UserError as exc:
            self.refuse(channel, user, str(exc))
            return
        self.open_view(body["trigger_id"], view, user, channel)

    def on_escalate(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        number = str(action["value"])

        def check(actor: User, ticket: Ticket) -> None:
            if not (access.is_admin(actor) or ticket.assignee_id == actor.id):
                access.require_tier(actor, ticket, "escalate")

        self._precheck_then_open(body, number, check, blocks.escalate_modal(number))

    def on_resolve(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        number = str(action["value"])

        def check(actor: User, ticket: Ticket) -> None:  # before they type: claim it first, say
            access.require_handler(actor, ticket, "resolve")
            _require_move(ticket, TicketStatus.RESOLVED, "resolved")

        self._precheck_then_open(body, number, check, blocks.resolve_modal(number))

    def on_note(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        number = str(action["value"])
        check: Callable[[User, Ticket], None] = lambda a, t: access.require_staff(a, "add internal notes")  # noqa: E731
        self._precheck_then_open(body, number, check, blocks.note_modal(number))

    def on_wait(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        number = str(action["value"])

        def check(actor: User, ticket: Ticket) -> None:
            access.require_handler(actor, ticket, "put on hold")
            _require_move(ticket, TicketStatus.WAITING_ON_USER, "put on hold")

        self._precheck_then_open(body, number, check, blocks.wait_modal(number))

    def on_wait_submitted(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        def run(session: Session, ticket: Ticket, actor: User, question: str) -> None:
            operations.set_waiting_on_user(
                session, ticket, actor=actor, routing=self.s.routing, question=question
            )

        self._submit(ack, body, view, "question", run)

    def _submit(
        self, ack: Ack, body: dict[str, Any], view: dict[str, Any], field: str, run: Callable[..., Any]
    ) -> None:
        value = (view_values(view).get(field) or "").strip()
        if not value:
            ack(response_action="errors", errors={field: "This cannot be empty."})
            return
        user = body["user"]["id"]
        number = str(view["private_metadata"])
        try:
            # The change commits before the ack (a refusal shows in the modal), but the Web API
            # calls — the card, the outbox — wait until after it: with a rate-limited Slack they
            # could take longer than the 3 s Slack gives a view submission.
            with transaction(self.s.sessions) as session:
                run(session, queries.find_ticket(session, number), self.actor(session, user), value)
        except UserError as exc:
            ack(response_action="errors", errors={field: str(exc)[:150]})
            return
        ack()
        with transaction(self.s.sessions) as session:
            self.s.notifier.refresh_card(session, queries.find_ticket(session, number))
        self.flush_outbox()

    def on_escalate_submitted(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        def run(session: Session, ticket: Ticket, actor: User, reason: str) -> None:
            operations.escalate(session, ticket, actor=actor, reason=reason, routing=self.s.routing)

        self._submit(ack, body, view, "reason", run)

    def on_resolve_submitted(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        def run(session: Session, ticket: Ticket, actor: User, resolution: str) -> None:
            operations.resolve(session, ticket, actor=actor, resolution=resolution, routing=self.s.routing)

        self._submit(ack, body, view, "resolution", run)

    def on_note_submitted(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        def run(session: Session, ticket: Ticket, actor: User, note: str) -> None:
            operations.add_internal_note(session, ticket, actor=actor, text=note)

        self._submit(ack, body, view, "note", run)

    def on_correct(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user, channel = self._card_context(body)
        number, value = str(action["selected_option"]["value"]).split("|", 1)
        try:
            with self.unit() as session:
                ticket = queries.find_ticket(session, number)
                actor = self.actor(session, user)
                # The workflow's corrections record category_changed / priority_changed (what the
                # next training reads as a correction) and also re-route and re-time the ticket.
                if action["action_id"] == blocks.CORRECT_CATEGORY:
                    known = known_categories(self.s.routing, model_categories(session))
                    category = match_category(value, known)
                    if category is None:  # not from our menu: a forged or stale payload
                        raise InvalidInput(f"{value!r} is not a category; choose one from the menu")
                    operations.change_category(
                        session,
                        ticket,
                        actor=actor,
                        category=category,
                        routing=self.s.routing,
                        reason=CORRECTED,
                    )
                else:
                    operations.change_priority(
                        session, ticket, actor=actor, priority=value, routing=self.s.routing, reason=CORRECTED
                    )
                self.s.notifier.refresh_card(session, ticket)
        except UserError as exc:
            self.refuse(channel, user, str(exc))


def _require_move(ticket: Ticket, target: TicketStatus, done: str) -> None:
    """Refuse a form whose submission the ticket's status would refuse, with what to do first:
    an unclaimed (new, escalated, reopened) ticket is claimed before it is worked."""
    try:
        check_transition(ticket, target, done)
    except IllegalTransition as exc:
        hint = " Claim it first." if ticket.assignee_id is None and ticket.status.value != "closed" else ""
        raise IllegalTransition(f"{exc}.{hint}") from None
