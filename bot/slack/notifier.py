"""Delivers outbox rows to Slack: tier-queue cards, requester-thread updates, relays, CSAT.

The workflow writes an `OutboxMessage` in the same transaction as the change it reports; this
notifier renders it and posts it. It raises when Slack cannot be reached after the client's own
retries, and the outbox keeps the row pending for the worker. Requester-facing rows are built by
the workflow from explicit text only; as a second guard, a row marked internal is refused here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session, sessionmaker

from bot.learning.incidents import active_incident_of, incident_label
from bot.settings import Settings
from bot.slack import blocks, store
from bot.slack.client import make_web_client
from bot.slack.config import SlackConfig, parse_tier_map
from bot.slack.learning import LearningHooks
from bot.slack.text import escape
from bot.workflow.categories import routed_categories
from bot.workflow.routing import Routing, load_routing
from models import OutboxMessage, Ticket, TicketStatus, Tier
from models.db import make_engine, make_session_factory, transaction

log = logging.getLogger(__name__)

SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{6,}")
BARE_USER_ID = re.compile(r"(?<![<@\w])([UW][A-Z0-9]{8,})\b")


def mention_ids(text: str) -> str:
    """Workflow texts name people by label, which is the Slack id until a name is known: show a mention."""
    return BARE_USER_ID.sub(r"<@\1>", text)


CARD_REFRESH = "card_refresh"
# chat.update errors after which retrying cannot help: the card was deleted or its channel is gone.
CARD_GONE = frozenset(
    {"message_not_found", "cant_update_message", "channel_not_found", "is_archived", "not_in_channel"}
)
# chat.postMessage errors that mean the bot cannot write in that thread (but may DM the person).
THREAD_UNREACHABLE = frozenset({"not_in_channel", "channel_not_found", "is_archived", "thread_not_found"})
# Outbox kinds that ask the requester to rate the help (1–5 buttons).
CSAT_KINDS = frozenset({"csat_request", "ticket_resolved_csat"})
# Queue notices that move a ticket to another tier: the new tier's card hears why, the old ones settle.
MOVE_KINDS = frozenset({"ticket_escalated", "ticket_deescalated", "ticket_rerouted"})


class DeliveryRefused(Exception):
    """A row that must never be sent (e.g. internal content addressed to a requester)."""


class SlackNotifier:
    """Implements the workflow's `Notifier` protocol: `deliver(message)`; raises on failure."""

    def __init__(
        self,
        client: WebClient,
        *,
        tier_channels: dict[Tier, str],
        sessions: sessionmaker[Session] | None = None,
        categories: Sequence[str],
        learning: LearningHooks | None = None,
    ) -> None:
        self.client = client
        self.tier_channels = tier_channels
        self.sessions = sessions
        self.categories = tuple(categories)
        self.learning = learning

    # ------------------------------------------------------------------ protocol
    def deliver(self, message: OutboxMessage) -> None:
        payload = message.payload or {}
        if message.audience == store.REQUESTER and (payload.get("internal") or message.kind == "note"):
            raise DeliveryRefused(f"outbox row {message.id} is internal and addressed to a requester")
        try:
            self._deliver(message)
        except store.DuplicatePost:
            log.info("outbox row %s was already delivered", message.id)

    def _deliver(self, message: OutboxMessage) -> None:
        payload = message.payload or {}
        with self._session() as session:
            # Idempotent per outbox row: a row handed over twice (lease expired after a crash) posts once.
            store.claim_post(session, f"outbox:{message.id}")
            ticket = session.get(Ticket, message.ticket_id) if message.ticket_id is not None else None
            if message.kind == "ticket_opened" and ticket is not None and ticket.conversation_id is not None:
                return  # the engine's handoff reply in the same thread already said this
            if message.kind == CARD_REFRESH:
                if ticket is not None:
                    self.refresh_card(session, ticket, strict=True)
            elif message.kind == "slack_reply":
                self._post(
                    payload["channel"],
                    payload.get("text", ""),
                    payload.get("blocks"),
                    payload.get("thread_ts"),
                )
            elif ticket is None:
                self._to_tier_channel(message)
            elif message.audience == store.REQUESTER:
                self._to_requester(session, ticket, message)
            elif message.audience == "tier_queue":
                self._to_queue(session, ticket, message)
            else:
                self._to_engineer(session, ticket, message)

    # ------------------------------------------------------------------ audiences
    def _to_requester(self, session: Session, ticket: Ticket, message: OutboxMessage) -> None:
        payload = message.payload or {}
        where = store.requester_thread(session, ticket)
        if where is None:
            channel = self._open_dm(message.recipient)
            where = (channel, "")
        channel, thread_ts = where
        number = ticket.number or ""
        # Delivered late (a retry, a busy worker), a prompt may find its ticket already rated or
        # reopened: the resolution note still goes out, without buttons nobody may use any more.
        prompt = message.kind in CSAT_KINDS and _rateable(ticket)
        if prompt:
            text, body = blocks.csat_message(number)
            if payload.get("text"):
                said = escape(str(payload["text"]))
                text, body = said + "\n" + text, [blocks.section(said), *body]
        elif message.kind in CSAT_KINDS:
            text, body = blocks.notice_message(str(payload.get("text") or "") or f"{number} is resolved.")
        else:
            text, body = blocks.notice_message(self._requester_text(ticket, message))
        try:
            ts = self._post(channel, text, body, thread_ts or None)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "")
            if not thread_ts or error not in THREAD_UNREACHABLE:
                raise
            # e.g. "Report to IT" on a message in a channel the bot is not in: the requester is
            # told in a DM instead, which becomes the ticket's thread for everything after.
            log.info("requester thread of %s unreachable (%s); using a DM", ticket.number, error)
            store.unlink_thread(session, channel, thread_ts)
            channel, thread_ts = self._open_dm(message.recipient), ""
            ts = self._post(channel, text, body)
        if not thread_ts:  # a DM we just opened becomes the ticket's requester thread
            store.link_thread(session, ticket, store.REQUESTER, channel, ts)
        if prompt:
            store.link_thread(session, ticket, store.CSAT, channel, ts)
        if message.kind != "relay":
            self.refresh_card(session, ticket)

    def _requester_text(self, ticket: Ticket, message: OutboxMessage) -> str:
        payload = message.payload or {}
        text = str(payload.get("text") or "")
        if message.kind == "relay":
            author = _mention(str(payload.get("author") or "IT"))
            return f"*{author}* ({ticket.number}): {text}"  # people's words are relayed verbatim
        return (
            mention_ids(text) if text else f"{ticket.number} is now {ticket.status.value.replace('_', ' ')}."
        )

    def _to_queue(self, session: Session, ticket: Ticket, message: OutboxMessage) -> None:
        tier = _tier(message.recipient) or ticket.tier
        channel = self.tier_channels.get(tier)
        if channel is None:
            log.warning("no queue channel configured for %s; %s stays unposted", tier, ticket.number)
            return
        # One delivery per ticket at a time (PostgreSQL; SQLite serialises writers already): the
        # rows of a new ticket — its card, the requester's next words — may be delivered by two
        # threads side by side, and only one of them may find no card and post it.
        session.refresh(ticket, with_for_update=True)
        card = store.card_for_tier(session, ticket, tier)
        moved = message.kind in MOVE_KINDS
        if card is None:
            if tier != ticket.tier:
                log.info(
                    "%s has left %s; its %s notice is not posted there", ticket.number, tier, message.kind
                )
                return
            headline = "Escalated" if message.kind == "ticket_escalated" else "New ticket"
            text, body = self.card(ticket, headline=headline, session=session)
            ts = self._post(channel, text, body)
            card = store.link_thread(session, ticket, store.CARD, channel, ts, tier)
        elif message.kind != "ticket_created":
            self.refresh_card(session, ticket)
        if moved:  # why it came here and what the last tier found; that tier's card loses its buttons
            self._post(card.channel, *self._handover_note(message), thread_ts=card.ts)
            self._settle_old_cards(session, ticket)
        elif message.kind != "ticket_created":
            self._post(card.channel, *self._thread_note(ticket, message), thread_ts=card.ts)

    def _to_tier_channel(self, message: OutboxMessage) -> None:
        """Ticketless rows for a queue (spike alerts, L3 copies of incident updates): post to its channel."""
        tier = _tier(message.recipient) if message.audience == "tier_queue" else None
        channel = self.tier_channels.get(tier) if tier is not None else None
        if channel is None:
            log.warning(
                "outbox row %s (%s) has no ticket and no queue channel; not posted", message.id, message.kind
            )
            return
        payload = message.payload or {}
        can_declare = message.kind == "spike_alert" and self.learning is not None
        text, body = blocks.spike_alert_message(payload, can_declare=can_declare)
        self._post(channel, mention_ids(text), body)

    def _to_engineer(self, session: Session, ticket: Ticket, message: OutboxMessage) -> None:
        card = store.latest_card(session, ticket)
        if message.kind == "relay" and card is not None:
            self._post(card.channel, *self._thread_note(ticket, message), thread_ts=card.ts)
            if (message.payload or {}).get("resumed"):  # the answer ended "waiting on user"
                self.refresh_card(session, ticket)
            return
        channel = self._open_dm(message.recipient)
        self._post(channel, *self._thread_note(ticket, message))

    def _handover_note(self, message: OutboxMessage) -> tuple[str, list[dict[str, Any]]]:
        """The reason a ticket came to this tier and the notes the last tier left (internal: the
        tier channels are staff-only), posted in the new card's thread."""
        payload = message.payload or {}
        lines = [mention_ids(str(payload.get("text") or message.kind.replace("_", " ")))]
        notes = [n for n in payload.get("notes") or [] if isinstance(n, dict) and n.get("text")]
        if notes:
            lines.append("*What happened so far:*")
            for note in notes:
                kind = "internal note" if note.get("internal") else str(note.get("kind") or "note")
                by = mention_ids(str(note.get("by") or "someone"))
                lines.append(f"• {by} ({kind}): {note['text']}")
        return blocks.notice_message("\n".join(lines))  # escapes people's words

    def _settle_old_cards(self, session: Session, ticket: Ticket) -> None:
        """Cards in tiers the ticket has left keep showing its state, without buttons: nobody
        there can claim or resolve it any more (best effort: the live card is what matters)."""
        text, body = self.card(ticket, headline=f"Moved to {ticket.tier.value}", actionable=False)
        live = store.latest_card(session, ticket)
        for card in store.cards_of(session, ticket):
            if live is not None and card.id == live.id:
                continue
            try:
                self.client.chat_update(channel=card.channel, ts=card.ts, text=text, blocks=body)
            except (SlackApiError, OSError) as exc:
                log.info("the old card of %s in %s was not updated: %s", ticket.number, card.tier, exc)

    def _thread_note(self, ticket: Ticket, message: OutboxMessage) -> tuple[str, list[dict[str, Any]]]:
        payload = message.payload or {}
        text = str(payload.get("text") or message.kind.replace("_", " "))
        if message.kind == "relay":
            author = _mention(str(payload.get("author") or "Requester"))
            text = f"*{author}* (requester): {text}"
        else:
            text = mention_ids(text)
        return blocks.notice_message(text)

    # ------------------------------------------------------------------ cards
    def card(
        self,
        ticket: Ticket,
        *,
        headline: str = "New ticket",
        session: Session | None = None,
        actionable: bool = True,
    ) -> tuple[str, list[dict[str, Any]]]:
        """The card; with a session and the learning loop on, also similar tickets and "Create KB draft"."""
        similar: list[dict[str, Any]] = []
        if self.learning is not None and session is not None:
            similar = [row.to_json() for row in self.learning.similar(session, ticket)]
        incident = active_incident_of(session, ticket) if session is not None else None
        resolved = ticket.status in (TicketStatus.RESOLVED, TicketStatus.CLOSED)
        # The clock that is running: the first response, then the resolution; none once resolved.
        if resolved:
            due, due_label = None, "Resolve by"
        elif ticket.first_response_at is None:
            due, due_label = ticket.sla_response_due, "Respond by"
        else:
            due, due_label = ticket.sla_resolution_due, "Resolve by"
        return blocks.ticket_card(
            number=ticket.number or "",
            subject=ticket.subject,
            body=ticket.body,
            category=ticket.category,
            priority=ticket.priority,
            tier=ticket.tier.value,
            status=ticket.status.value,
            requester=_mention(ticket.requester.external_id) if ticket.requester else "unknown",
            assignee=_mention(ticket.assignee.external_id) if ticket.assignee else None,
            response_due=due,
            due_label=due_label,
            categories=self.categories,
            facts=ticket.facts,
            headline=headline,
            similar=similar,
            can_draft=self.learning is not None and resolved and actionable,
            actionable=actionable,
            incident=f"{incident_label(incident)}: {incident.title}" if incident is not None else None,
        )

    def refresh_card(self, session: Session, ticket: Ticket, *, strict: bool = False) -> None:
        """Re-render the ticket's current card from the row as it is now in this transaction.

        A card that Slack cannot update right now is retried later from the outbox (`strict`, used
        by that retry, raises instead); one that is gone (deleted, archived channel) is left alone.

        The re-read matters: another request may have changed another column since we loaded the
        ticket, and the card must show both changes. It locks the row (PostgreSQL; SQLite already
        serialises writers) until this transaction ends: a click handler updates the card before
        it commits, and without the lock an outbox delivery running meanwhile could read the
        previous state and post it after, leaving the card one change behind for good.
        """
        card = store.latest_card(session, ticket)
        if card is None:
            return
        session.flush()
        session.refresh(ticket, with_for_update=True)
        text, body = self.card(ticket, headline=_headline(ticket), session=session)
        try:
            self.client.chat_update(channel=card.channel, ts=card.ts, text=text, blocks=body)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "")
            if error in CARD_GONE:
                log.warning("the card of %s can no longer be updated (%s)", ticket.number, error)
                return
            if strict:
                raise
            self._refresh_later(session, ticket, error)
        except OSError as exc:  # connection refused, reset, timed out: Slack unreachable for now
            if strict:
                raise
            self._refresh_later(session, ticket, str(exc))

    def _refresh_later(self, session: Session, ticket: Ticket, why: str) -> None:
        """The card is how the change looks, not the change: a failed update must not undo a claim
        or make a notice be posted twice, so it becomes an outbox row the worker retries."""
        log.warning("the card of %s was not updated (%s); retrying later", ticket.number, why)
        session.add(
            OutboxMessage(
                audience="tier_queue", recipient=ticket.tier.value, kind=CARD_REFRESH, ticket_id=ticket.id
            )
        )

    # ------------------------------------------------------------------ Web API
    def _post(self, channel: str, text: str, body: Any = None, thread_ts: str | None = None) -> str:
        response = self.client.chat_postMessage(
            channel=channel, text=text, blocks=body, thread_ts=thread_ts, unfurl_links=False
        )
        return str(response["ts"])

    def _open_dm(self, user: str) -> str:
        response = self.client.conversations_open(users=user)
        return str(response["channel"]["id"])

    @contextmanager
    def _session(self) -> Iterator[Session]:
        """A transaction of our own: thread links and the delivery receipt commit with the post."""
        if self.sessions is None:
            raise RuntimeError("SlackNotifier needs a session factory to deliver outbox rows")
        with transaction(self.sessions) as session:
            yield session


def _headline(ticket: Ticket) -> str:
    """What the card's header says the ticket needs: unclaimed ones, a taker."""
    status = ticket.status.value
    if ticket.assignee is None and status in ("new", "triaged"):
        return "Unclaimed"
    return status.replace("_", " ").capitalize()


def _rateable(ticket: Ticket) -> bool:
    """Whether a rating prompt for `ticket` can still be answered: resolved, not yet rated."""
    return (
        ticket.csat_score is None
        and ticket.resolved_at is not None
        and ticket.status in (TicketStatus.RESOLVED, TicketStatus.CLOSED)
    )


def _tier(value: str) -> Tier | None:
    try:
        return Tier(value)
    except ValueError:
        return None


def _mention(external_id: str) -> str:
    """`<@U123ABC>` for Slack user ids (Slack renders the name); other labels as they are."""
    return f"<@{external_id}>" if SLACK_USER_ID.fullmatch(external_id) else external_id


def build_notifier(
    settings: Settings,
    client: WebClient | None = None,
    *,
    sessions: sessionmaker[Session] | None = None,
    routing: Routing | None = None,
    learning: LearningHooks | None = None,
) -> SlackNotifier:
    """The notifier for the worker and the app: a retrying WebClient on SLACK_API_URL.

    Card menus offer the routing's categories; a routing file that cannot be read raises its own
    RoutingError (naming the bad key) rather than silently falling back.
    """
    categories = routed_categories(routing or load_routing(settings.routing_file))
    if client is None:
        config = SlackConfig.from_settings(settings)
        client = make_web_client(config.bot_token, config.api_url)
    if sessions is None:
        sessions = make_session_factory(make_engine(settings.database_url))
    return SlackNotifier(
        client,
        tier_channels=parse_tier_map(settings.slack_tier_channels, "TIERLINE_TIER_CHANNELS"),
        sessions=sessions,
        categories=categories,
        learning=learning or LearningHooks.from_settings(settings),
    )
