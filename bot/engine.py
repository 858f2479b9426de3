"""The Slack-free conversation engine: one question in, one decision out.

Every front end (terminal chat, Slack, tests) turns what a person typed into an `Inquiry` and
renders the `Outcome` it gets back. The engine decides between three things only:

* **answer** — the knowledge base is confident enough (calibrated confidence ≥ threshold);
* **clarify** — it is not, and we have not asked yet in this conversation: ask one question;
* **handoff** — still not confident after clarifying, the answer did not help, or the person asked
  for a human: open a ticket (triaged, routed, with SLA due times).

Messages that are not questions — "thanks, that fixed it!", "still not working", "hi", 转人工 —
are read by `bot.intents` before anything is searched. A conversation holds one *case* at a time
(`Conversation.question`): follow-ups add to it, a new question after an answer starts a new one,
and a ticket carries only the current case. After a handoff, anything the requester says in the
conversation is relayed to the ticket.
The caller owns the session and commits; the engine only adds to it.
"""

from __future__ import annotations

import enum
import re
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot import intents, observability, phrases
from bot.attachments import has_attachments, without_attachments
from bot.intents import Intent
from bot.workflow import queries
from bot.workflow.states import OPEN
from classifier.facts import (
    describes_fault,
    facts_to_ask,
    is_service_request,
    names_app,
    reports_loss,
    will_not_power_on,
)
from classifier.priority import reports_widespread_outage
from classifier.types import Facts, TriagePrediction
from kb_index.types import ArticleHit, SearchResult
from models import (
    Conversation,
    ConversationState,
    Message,
    MessageRole,
    Role,
    Ticket,
    TicketStatus,
    User,
    utcnow,
)

OutcomeKind = Literal["answer", "clarify", "handoff", "notice"]

# Longest question we search with; the rest is kept on the ticket, not thrown away. A long paste
# is searched with its prose, not its log lines: people put the question before or after a log.
MAX_QUERY_CHARS = 2_000
MAX_STORED_CHARS = 40_000
MIN_MEANINGFUL_CHARS = 3
# A clarifying question names articles only when the search's calibrated confidence that one of
# them is right (`SearchResult.suggestion_confidence`) is at least this share of the answer
# threshold; below it the suggestions are noise ("hello" → a Chinese printer article). Relative,
# because raw scores mean different things per encoder: e5 gives 0.85 to anything, so an absolute
# 0.40 let "讲个笑话" suggest articles. Measured on the top hit's confidence (in the KB's
# questions below the threshold whose article is in the top 3 / off-topic questions suggested):
# StackFAQ + MiniLM 0.5 → 72/83 and 2/22, 0.6 → 65/83 and 2/22 (both facebook questions the KB
# does answer); the Chinese university KB + e5 at 0.6 drops the least related off-topic ones.
# The shown-as-a-group confidence at 0.6: kb_index.search.BuildSearcher._any_hit_confidence.
MIN_SUGGESTION_SHARE = 0.6
# Two articles with one title ("Email setup" for iPhone and for Windows) scoring within this of
# each other cannot be told apart by the question: ask which one instead of picking.
SAME_TITLE_MARGIN = 0.05
# A reply's passage stays inside a Slack section block (3000 characters) with room to spare.
MAX_PASSAGE_CHARS = 2800
# Up to this many words, a message is short enough that we also ask what the person was doing.
SHORT_QUESTION_WORDS = 6
# A message may carry on a case left waiting in another thread of the same private venue (a DM's
# top-level reply to a question asked in a thread) for this long after our last words there.
CARRY_OVER = timedelta(minutes=30)
_CARRIED_STATES = (ConversationState.CLARIFYING, ConversationState.ANSWERED)


class KnowledgeSearcher(Protocol):
    def search(self, query: str, *, audiences: frozenset[str] = ..., k: int = ...) -> SearchResult: ...


class Triage(Protocol):
    def triage(self, text: str, facts: Facts | None = None) -> TriagePrediction: ...

    def extract_facts(self, text: str) -> Facts: ...


class TicketDesk(Protocol):
    """What the engine needs from the ticket workflow (bot.workflow), kept narrow on purpose."""

    def open_ticket(
        self,
        session: Session,
        *,
        requester: User,
        subject: str,
        body: str,
        triage: TriagePrediction,
        facts: Facts,
        conversation: Conversation | None,
        source: str,
    ) -> Ticket: ...

    def requester_message(self, session: Session, ticket: Ticket, *, requester: User, text: str) -> None: ...

    def ensure_user(self, session: Session, external_id: str, display_name: str = "") -> User: ...

    def confirm_resolved(self, session: Session, ticket: Ticket, *, requester: User) -> bool: ...

    def rate(
        self, session: Session, ticket: Ticket, *, requester: User, score: int, comment: str
    ) -> None: ...

    def add_facts(self, session: Session, ticket: Ticket, *, requester: User, facts: Facts) -> str | None: ...

    def withdraw(self, session: Session, ticket: Ticket, *, requester: User, reason: str) -> None: ...


class KnownIssue(Protocol):
    """An active major incident a new ticket joined (bot.learning.incidents.KnownIncident)."""

    @property
    def label(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def latest(self) -> str: ...


class KnownIssues(Protocol):
    """Links a new ticket to the active major incident it is about, if any (bot.learning)."""

    def reported(self, session: Session, text: str) -> bool: ...

    def join(self, session: Session, ticket: Ticket) -> KnownIssue | None: ...


class Feedback(enum.StrEnum):
    """The three buttons under an answer (and their typed equivalents in the terminal)."""

    SOLVED = "solved"
    NOT_SOLVED = "not_solved"
    HUMAN = "human"


# Typed words that act as the buttons (bare "yes" / "no" only right after an answer: see `_on_intent`).
_FEEDBACK_OF = {
    Intent.SOLVED: Feedback.SOLVED,
    Intent.NOT_SOLVED: Feedback.NOT_SOLVED,
    Intent.HUMAN: Feedback.HUMAN,
}
# Said after a ticket is resolved, these confirm it rather than reopen it.
_ALL_GOOD = frozenset({Intent.SOLVED, Intent.YES, Intent.THANKS, Intent.ACK, Intent.CLOSE})
# What accepts our offer to close a ticket: "yes", "solved", "close it".
_AGREES = frozenset({Intent.YES, Intent.SOLVED, Intent.CLOSE})


@dataclass(frozen=True)
class Inquiry:
    """What a person said, and where: the conversation key identifies the thread."""

    text: str
    requester_id: str  # front-end identity: Slack user id, or "cli:<name>"
    conversation_key: str  # "slack:<channel>:<thread_ts>" or "cli:<session id>"
    source: str = "cli"
    requester_name: str = ""
    # The key of an earlier conversation this message may carry on: in a Slack DM, people answer
    # a question asked in a thread at the top level. Taken only when that case is still waiting
    # for the same person (our clarifying question, or an answer without feedback) and recent.
    may_continue: str | None = None


@dataclass(frozen=True)
class SourceRef:
    id: str
    title: str
    score: float
    url: str | None = None
    section: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "section": self.section,
            "score": round(self.score, 4),
            "url": self.url,
        }


@dataclass(frozen=True)
class TicketRef:
    number: str
    category: str
    priority: str
    tier: str
    status: str
    sla_response_due: datetime | None
    sla_resolution_due: datetime | None
    needs_triage: bool = False
    missing_facts: tuple[str, ...] = ()

    @classmethod
    def of(cls, ticket: Ticket, missing: tuple[str, ...] = ()) -> TicketRef:
        return cls(
            number=ticket.number or "",
            category=ticket.category,
            priority=ticket.priority,
            tier=ticket.tier.value,
            status=ticket.status.value,
            sla_response_due=ticket.sla_response_due,
            sla_resolution_due=ticket.sla_resolution_due,
            needs_triage=ticket.needs_triage,
            missing_facts=missing,
        )

    def to_json(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "number": self.number,
            "category": self.category,
            "priority": self.priority,
            "tier": self.tier,
            "status": self.status,
            "needs_triage": self.needs_triage,
            "sla_response_due": iso(self.sla_response_due),
            "sla_resolution_due": iso(self.sla_resolution_due),
            "missing_facts": list(self.missing_facts),
        }


@dataclass(frozen=True)
class Outcome:
    """The engine's decision, ready for any front end to render."""

    kind: OutcomeKind
    text: str
    conversation_key: str
    sources: tuple[SourceRef, ...] = ()
    ticket: TicketRef | None = None
    confidence: float | None = None
    passage: str | None = None
    # Which buttons make sense now: subset of solved / not_solved / human.
    actions: tuple[Feedback, ...] = ()
    # The message was passed on to the ticket's engineer (Slack acknowledges it with a reaction).
    relayed: bool = False
    # A line said after an answer's passage (a second problem the message reported), also in `text`.
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "text": self.text,
            "sources": [s.to_json() for s in self.sources],
            "passage": self.passage,
            "ticket": self.ticket.to_json() if self.ticket else None,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "actions": [action.value for action in self.actions],
            "note": self.note,
        }


@dataclass(frozen=True)
class InputCheck:
    """The text fit to search with, or why there is nothing to search with."""

    query: str
    stored: str
    problem: str | None = None
    truncated: bool = False


def check_input(raw: str) -> InputCheck:
    """Turn whatever arrived into something searchable, or say plainly why it is not.

    Never raises: empty lines, 50 KB pastes, binary junk and emoji-only messages all get a reply.
    """
    text = raw.replace("\x00", "")
    printable = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    stored = printable[:MAX_STORED_CHARS]
    if len(raw) >= 8 and len(printable) < 0.7 * len(raw):
        return InputCheck("", stored, "binary")
    # A shared file's name and link are stored with the message but never searched with.
    if has_attachments(printable):
        printable = without_attachments(printable)
        if not printable:
            return InputCheck("", stored, "attachment_only")
    compact = " ".join(printable.split())
    if not compact:
        return InputCheck("", stored, "empty")
    letters = sum(1 for ch in compact if unicodedata.category(ch)[0] in "LN")
    if letters == 0:
        return InputCheck("", stored, "no_words")
    replacement = compact.count("\ufffd")
    if replacement > 0.3 * len(compact):
        return InputCheck("", stored, "binary")
    if letters < MIN_MEANINGFUL_CHARS and not _has_cjk(compact):
        return InputCheck("", stored, "too_short")
    truncated = len(compact) > MAX_QUERY_CHARS
    query = _search_text(printable, MAX_QUERY_CHARS) if truncated else compact
    return InputCheck(query, stored, None, truncated)


def _search_text(text: str, limit: int) -> str:
    """What to search with when a message is too long: the sentences a person wrote, without the
    log lines around them, opening and closing parts if that is still too long. A 12 KB log
    followed by "-- anyway my vpn disconnects every few minutes" is searched with the question."""
    prose = " ".join(p for p in _PIECES.split(text) if p.strip() and not _looks_like_log(p))
    kept = " ".join(prose.split()) or " ".join(text.split())
    if len(kept) <= limit:
        return kept
    half = (limit - 5) // 2
    return f"{kept[:half].rstrip()} ... {kept[-half:].lstrip()}"


# Lines, sentences, and " -- " asides: the pieces of a paste that are either prose or log.
_PIECES = re.compile(r"\n+|(?<=[.!?])\s+|\s-{2,}\s")
# Log-ish tokens: numbers, timestamps, key=value, paths, brackets, LEVEL words.
_LOG_TOKEN = re.compile(r"\d|[=\[\]{}<>|/\\_]|^[A-Z]{3,}:?$")


def _looks_like_log(piece: str) -> bool:
    tokens = piece.split()
    return sum(1 for t in tokens if _LOG_TOKEN.search(t)) > 0.3 * len(tokens)


def _readable(hits: tuple[ArticleHit, ...], lang: phrases.Language) -> tuple[ArticleHit, ...]:
    """The hits worth offering to someone writing in `lang`: a Chinese article means nothing to
    someone who asked in English ("vpn" offered "VPN 连接不上或频繁断线"), while Chinese readers
    here mostly read English articles too."""
    return hits if lang == "zh" else tuple(h for h in hits if not _has_cjk(h.title))


def _has_cjk(text: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in text)


_PROBLEM_REPLIES = {
    "empty": "I didn't get any text. What can I help you with? Describe the problem in a sentence or two.",
    "binary": (
        "That looks like binary data rather than a message, so I left it alone. Please describe the "
        "problem in words (you can paste the exact error text)."
    ),
    "no_words": (
        "I only see symbols or emoji there. What's going on? A sentence like \"my VPN keeps "
        'disconnecting" is enough to get started.'
    ),
    "too_short": "Could you say a bit more? A short sentence about what isn't working is enough.",
}


class Engine:
    """Decides answer / clarify / handoff and keeps the conversation's state in the database."""

    def __init__(
        self,
        *,
        searcher: KnowledgeSearcher | None,
        triage: Triage,
        desk: TicketDesk,
        answer_threshold: float | None = None,
        top_k: int = 3,
        min_suggestion_share: float = MIN_SUGGESTION_SHARE,
        known_issues: KnownIssues | None = None,
    ) -> None:
        self.searcher = searcher
        self.known_issues = known_issues
        self.min_suggestion_share = min_suggestion_share
        self.triage = triage
        self.desk = desk
        self.answer_threshold = answer_threshold
        self.top_k = top_k

    # ------------------------------------------------------------------ entry points
    def handle(self, session: Session, inquiry: Inquiry) -> Outcome:
        """One message from a person. Feedback in any words ('that fixed it', 'still not working',
        'talk to a person') acts as the buttons; greetings and thanks are answered, never searched."""
        started = time.perf_counter()
        observability.record_request(inquiry.source)
        outcome = self._handle(session, inquiry)
        observability.record_outcome(outcome.kind, time.perf_counter() - started)
        return outcome

    def _handle(self, session: Session, inquiry: Inquiry) -> Outcome:
        requester = self.desk.ensure_user(session, inquiry.requester_id, inquiry.requester_name)
        if self._answers_offer_elsewhere(session, inquiry, requester):
            assert inquiry.may_continue is not None  # checked by _answers_offer_elsewhere
            # "yes" written outside the thread where we offered to close the ticket: answered
            # there (the ticket's conversation), replied to where it was written.
            there = replace(inquiry, conversation_key=inquiry.may_continue, may_continue=None)
            return replace(self._handle(session, there), conversation_key=inquiry.conversation_key)
        conversation = self._conversation(session, inquiry, requester)
        carried = inquiry.may_continue is not None and self._carry_over(
            session, conversation, inquiry.may_continue, requester
        )
        check = check_input(inquiry.text)
        # A short "no" or "ok" has too few letters to search with, but it still means something;
        # so do a "👍" and a row of stars.
        readable = check.problem in (None, "too_short", "no_words")
        intent = intents.read_intent(inquiry.text) if readable else None
        has_words = check.problem in (None, "too_short") or (
            check.problem == "no_words"
            and (intent is not None or intents.typed_rating(inquiry.text) is not None)
        )
        if conversation.state is ConversationState.CLARIFYING and has_words:
            offered = _offered(conversation)
            pick = intents.picked_option(inquiry.text, len(offered))
            if pick is None and intent is Intent.YES and len(offered) == 1:
                pick = 0  # "yes" to "Is it about *X*?"
            if pick is not None:
                return self._answer_pick(session, conversation, requester, check.stored, offered[pick])
        if conversation.state is ConversationState.HANDED_OFF and has_words:
            rated = self._typed_rating(session, conversation, requester, inquiry.text)
            if rated is not None:
                return rated
        if conversation.state is ConversationState.HANDED_OFF and intent in _ALL_GOOD:
            settled = self._settled_ticket(session, conversation, requester, intent, inquiry.text)
            if settled is not None:
                return settled
        if check.problem == "attachment_only" and conversation.state is not ConversationState.HANDED_OFF:
            return self._on_attachment_only(session, conversation, check.stored)
        if conversation.state is ConversationState.HANDED_OFF and (
            has_words or check.problem in ("attachment_only", "no_words")
        ):
            # The engineer must see every reply, even "no" to their question, a bare screenshot or "🤷".
            self._record(session, conversation, MessageRole.REQUESTER, "relay", check.stored)
            return self._relay(session, conversation, requester, check.stored)
        if conversation.state is not ConversationState.HANDED_OFF and has_words:
            status = (
                self._close_reply(session, conversation, requester, inquiry.text)
                or self._works_now_reply(session, conversation, requester, inquiry.text)
                or self._status_reply(session, conversation, requester, inquiry.text)
            )
            if status is not None:
                return status
        if intent is Intent.NOT_SOLVED and not conversation.question and check.problem is None:
            intent = None  # "it does not work" as an opening line is a (vague) question, not feedback
        if intent is not None:
            return self._on_intent(session, conversation, requester, intent, inquiry.text)
        if check.problem is not None:
            self._record(
                session,
                conversation,
                MessageRole.REQUESTER,
                "question",
                check.stored,
                {"rejected": check.problem},
            )
            return self._say(session, conversation, "clarify", _PROBLEM_REPLIES[check.problem])
        return self._on_question(session, conversation, requester, check, carried=carried)

    def _on_attachment_only(self, session: Session, conversation: Conversation, stored: str) -> Outcome:
        """A screenshot or file with no words: nothing to search with, but part of the case. It is
        kept on the case (a ticket carries its link to the engineer) and the person is asked what
        it shows; their answer continues the case like a reply to a clarifying question."""
        self._record(
            session, conversation, MessageRole.REQUESTER, "question", stored, {"attachment_only": True}
        )
        ongoing = conversation.state in _CARRIED_STATES and conversation.question
        if ongoing:
            conversation.question = f"{conversation.question}\n{stored}"
        else:  # nothing asked yet, or the last case is settled: the file starts a new one
            conversation.question = stored
            conversation.clarifications = 0
            conversation.state = ConversationState.CLARIFYING
        lang = phrases.language_of(without_attachments(conversation.question))
        return self._say(
            session, conversation, "clarify", phrases.attachment_only(lang), actions=(Feedback.HUMAN,)
        )

    def _answers_offer_elsewhere(self, session: Session, inquiry: Inquiry, requester: User) -> bool:
        """Whether a new post answers our recent offer, in `inquiry.may_continue`, to close a
        ticket: "yes" to closing the ticket of the person's case there (see `_withdrawal`), or
        "yes" / "no" to closing the one named after "never mind, it works now" (`_works_now_reply`)."""
        key = inquiry.may_continue
        if key is None or key == inquiry.conversation_key:
            return False
        intent = intents.read_intent(inquiry.text)
        if intent not in _AGREES and intent is not Intent.NO:
            return False
        if session.scalars(
            select(Conversation.id).where(Conversation.key == inquiry.conversation_key)
        ).first():
            return False  # not a new post: its own conversation goes on
        earlier = session.scalars(select(Conversation).where(Conversation.key == key)).one_or_none()
        if earlier is None or earlier.requester_id != requester.id:
            return False
        said = _last_said(earlier)
        withdrawal = (
            earlier.state is ConversationState.HANDED_OFF
            and bool(_withdrawal_offered(earlier))
            and intent in _AGREES
        )
        return (
            said is not None
            and (withdrawal or bool(_close_offered(earlier)[0]))
            and utcnow() - said.created_at <= CARRY_OVER
        )

    def _carry_over(self, session: Session, conversation: Conversation, key: str, requester: User) -> bool:
        """Take over the case waiting in conversation `key` (see `Inquiry.may_continue`): this new
        conversation gets its question, where it stood and our clarifying question if that was our
        last word, and the old one is left empty, so one case never becomes two tickets. False
        (nothing moved) unless this conversation is new and that case is the same person's,
        waiting, and recent."""
        if conversation.messages or conversation.question or key == conversation.key:
            return False
        earlier = session.scalars(select(Conversation).where(Conversation.key == key)).one_or_none()
        if (
            earlier is None
            or earlier.requester_id != requester.id
            or earlier.state not in _CARRIED_STATES
            or not earlier.question
            or utcnow() - earlier.updated_at > CARRY_OVER
        ):
            return False
        conversation.question = earlier.question
        conversation.state = earlier.state
        conversation.clarifications = earlier.clarifications
        conversation.last_article_id = earlier.last_article_id
        said = _last_said(earlier)
        if said is not None and said.kind == "clarify":
            # Our question moves too, so "the second one" picks from the articles it offered. Only
            # a question: a copied answer would be counted twice by the KB health figures.
            conversation.messages.append(
                Message(role=said.role, kind=said.kind, text=said.text, payload=dict(said.payload or {}))
            )
        earlier.question = ""
        earlier.state = ConversationState.OPEN
        earlier.messages.append(
            Message(
                role=MessageRole.SYSTEM, kind="notice", text="continued", payload={"in": conversation.key}
            )
        )
        session.flush()
        return True

    def _on_question(
        self,
        session: Session,
        conversation: Conversation,
        requester: User,
        check: InputCheck,
        *,
        carried: bool = False,
    ) -> Outcome:
        """A real question: it continues the open case (a reply to our clarifying question, or a
        follow-up to an answer) or starts a new one; only the current case is searched and ticketed.
        A message that carried a case over from another thread was not written as a reply to it,
        so it is tested like a follow-up: a question the KB answers on its own is a new case."""
        state = conversation.state
        alone: SearchResult | None = None  # the message searched on its own, when that decides
        follow_up = False
        if state is ConversationState.ANSWERED:
            follow_up = intents.is_follow_up(check.stored)
            if not follow_up:
                alone = self._search(check.query, requester, conversation)
                follow_up = self._about_the_answer(conversation, alone)
        elif state is ConversationState.SOLVED:
            # Taking "solved" back, unless the KB knows the message as a question of its own.
            alone = self._search(check.query, requester, conversation)
            follow_up = self._about_the_answer(conversation, alone) or (
                intents.takes_back_solved(check.stored) and not self._answered_elsewhere(conversation, alone)
            )
        # After "That doesn't look like an IT question", the next message starts afresh.
        clarified = state is ConversationState.CLARIFYING and not _said(conversation, "not_about_it")
        if clarified and carried:
            alone = self._search(check.query, requester, conversation)
            clarified = alone is None or not alone.answerable(self._threshold(alone))
        continues = clarified or follow_up
        self._record(
            session,
            conversation,
            MessageRole.REQUESTER,
            "question",
            check.stored,
            {"truncated": check.truncated, "new_case": not continues},
        )
        if continues:
            opening = _first(without_attachments(conversation.question), MAX_QUERY_CHARS // 2)
            conversation.question = f"{conversation.question}\n{check.stored}".strip()
            query = f"{opening} {check.query}"
        else:
            conversation.question = check.stored
            conversation.clarifications = 0
            conversation.state = ConversationState.OPEN
            query = check.query
        if follow_up and intents.says_still_broken(check.stored):
            # "it still drops" after an answer: the answer did not help, and the detail goes on the ticket.
            return self._handoff(
                session, conversation, requester, reason="the suggested article did not help"
            )
        if not continues and self._awaiting_question_for_person(conversation):
            return self._handoff(session, conversation, requester, reason="requested a person")
        # A new case is decided on the very search that told it apart from a follow-up.
        searched = None if continues else alone
        return self._decide(
            session,
            conversation,
            requester,
            query,
            truncated=check.truncated,
            searched=searched,
            reply=(check.query, alone) if clarified else None,
        )

    def _about_the_answer(self, conversation: Conversation, alone: SearchResult | None) -> bool:
        """Whether a message after an answer asks more about it ("why is it blocked", "I already
        clicked the link") rather than starting a new case: the KB is not confident about it on its
        own, and the article just answered is the one it finds first for it. A new topic the KB
        knows ("how do I set an out-of-office?") or one it relates to another article first
        ("how do I book parking?") starts a new case, as before. `alone`: the message's own search."""
        if alone is None or alone.top is None or alone.answerable(self._threshold(alone)):
            return False
        return alone.top.article_id == conversation.last_article_id

    def _answered_elsewhere(self, conversation: Conversation, alone: SearchResult | None) -> bool:
        """Whether the KB answers a message on its own from another article than the case's."""
        return (
            alone is not None
            and alone.top is not None
            and alone.answerable(self._threshold(alone))
            and alone.top.article_id != conversation.last_article_id
        )

    def _threshold(self, result: SearchResult | None) -> float:
        """The answer threshold: the configured one, else the one calibration wrote."""
        if self.answer_threshold is not None:
            return self.answer_threshold
        return result.threshold if result else 1.0

    def _answer_pick(
        self,
        session: Session,
        conversation: Conversation,
        requester: User,
        text: str,
        picked: tuple[str, str],
    ) -> Outcome:
        """The person picked one of the articles our clarifying question offered ("the second
        one"): answer from it. Searched again, not guessed, so the passage is the one that fits
        the question; the title goes on the case, so a later ticket says what "the second one" was."""
        article_id, title = picked
        self._record(session, conversation, MessageRole.REQUESTER, "question", text, {"picked": article_id})
        opening = _first(conversation.question, MAX_QUERY_CHARS // 2)
        conversation.question = f"{conversation.question}\n{title}".strip()
        for query in (f"{opening} {title}", title):
            result = self._search(query, requester, conversation)
            hit = next((h for h in result.hits if h.article_id == article_id), None) if result else None
            if result is not None and hit is not None:
                others = tuple(h for h in result.hits if h is not hit)
                return self._answer(
                    session, conversation, replace(result, hits=(hit, *others)), truncated=False
                )
        # The article is gone (re-ingested meanwhile): decide on the question as usual.
        return self._decide(session, conversation, requester, f"{opening} {title}", truncated=False)

    def _on_intent(
        self, session: Session, conversation: Conversation, requester: User, intent: Intent, text: str
    ) -> Outcome:
        """Feedback, a request for a person, or small talk: nothing is searched, no case is replaced."""
        answered = conversation.state is ConversationState.ANSWERED
        lang = _reply_language(conversation, text)
        if (
            intent is Intent.HUMAN
            and conversation.state is ConversationState.SOLVED
            and conversation.question
            and intents.turns_back(text)
        ):
            # "actually, can I talk to a person" after "solved": it was not, and the person is for
            # that case, which is handed off rather than asked about again.
            conversation.state = ConversationState.ANSWERED
        if intent in _FEEDBACK_OF:
            return self._feedback(session, conversation, requester, _FEEDBACK_OF[intent], lang)
        if intent is Intent.YES and answered:
            return self._feedback(session, conversation, requester, Feedback.SOLVED, lang)
        if intent is Intent.NO and answered:
            return self._feedback(session, conversation, requester, Feedback.NOT_SOLVED, lang)
        self._record(session, conversation, MessageRole.REQUESTER, "chat", text, {"intent": intent.value})
        where = _where(conversation)
        if intent is Intent.CLOSE and where != "idle":
            conversation.state = ConversationState.SOLVED  # closed by the requester, no ticket
        reply = phrases.small_talk(lang, intent.value, where)
        if where == "answered" and intent is not Intent.CLOSE:
            actions: tuple[Feedback, ...] = (Feedback.SOLVED, Feedback.NOT_SOLVED, Feedback.HUMAN)
        elif where == "clarifying" and intent is not Intent.CLOSE:
            actions = (Feedback.HUMAN,)
        else:
            actions = ()
        return self._say(session, conversation, "notice", reply, actions=actions)

    def adopt_ticket_thread(
        self, session: Session, ticket: Ticket, conversation_key: str, source: str
    ) -> bool:
        """Make a thread that holds a ticket but no conversation (the receipt of "Report to IT", a
        DM a notice opened) the ticket's handed-off conversation, so the requester's replies there
        are read as in any handed-off thread: a typed "5" rates, "thanks" confirms, "any news?"
        gets the status. Relayed word for word instead, each of them reopened a resolved ticket.
        False: the ticket already has a conversation, whose thread keeps that role; the caller
        relays. The caller's session commits."""
        if ticket.conversation_id is not None or ticket.requester is None:
            return False
        conversation = Conversation(
            key=conversation_key,
            source=source,
            requester=ticket.requester,
            state=ConversationState.HANDED_OFF,
            question=ticket.body or ticket.subject,
        )
        session.add(conversation)
        session.flush()
        ticket.conversation_id = conversation.id
        return True

    def feedback(
        self, session: Session, conversation_key: str, action: Feedback, requester_id: str
    ) -> Outcome:
        """A button press under an answer: Solved, Not solved, or Talk to a person."""
        requester = self.desk.ensure_user(session, requester_id)
        conversation = self._conversation(session, Inquiry("", requester_id, conversation_key), requester)
        return self._feedback(
            session, conversation, requester, action, phrases.language_of(conversation.question)
        )

    def pick(self, session: Session, conversation_key: str, article_id: str, requester_id: str) -> Outcome:
        """A click on one of the articles our clarifying question offered: the same as typing
        its number. A click on an offer the case has moved past (answered, handed off, asked
        again) is told so rather than answered from a question no longer open."""
        requester = self.desk.ensure_user(session, requester_id)
        conversation = self._conversation(session, Inquiry("", requester_id, conversation_key), requester)
        lang = phrases.language_of(conversation.question)
        offered = dict(_offered(conversation)) if conversation.state is ConversationState.CLARIFYING else {}
        if article_id not in offered:
            return self._say(session, conversation, "notice", phrases.choice_gone(lang))
        return self._answer_pick(
            session, conversation, requester, offered[article_id], (article_id, offered[article_id])
        )

    def _feedback(
        self,
        session: Session,
        conversation: Conversation,
        requester: User,
        action: Feedback,
        lang: phrases.Language,
    ) -> Outcome:
        observability.record_feedback(action.value)
        self._record(
            session,
            conversation,
            MessageRole.REQUESTER,
            "feedback",
            action.value,
            {"action": action.value, "article_id": conversation.last_article_id},
        )
        if conversation.state is ConversationState.HANDED_OFF:
            ticket = self._ticket_of(session, conversation)
            number = ticket.number if ticket else "your ticket"
            return self._say(
                session,
                conversation,
                "notice",
                phrases.already_with_team(lang, number or "your ticket"),
                ticket=TicketRef.of(ticket) if ticket else None,
            )
        if action is Feedback.SOLVED:
            # From any state: "solved" in the middle of a clarification ends the case too.
            after_answer = conversation.state is ConversationState.ANSWERED
            if conversation.question:
                conversation.state = ConversationState.SOLVED
            return self._say(session, conversation, "notice", phrases.solved(lang, after_answer=after_answer))
        reason = "requested a person" if action is Feedback.HUMAN else "the suggested article did not help"
        # A person asked for after a solved case is about something new: ask what it is.
        closed = conversation.state is ConversationState.SOLVED and action is Feedback.HUMAN
        if not conversation.question or closed:
            return self._say(
                session,
                conversation,
                "clarify",
                phrases.ask_what_for_person(lang),
                payload={"awaiting_question_for_person": True},
            )
        return self._handoff(session, conversation, requester, reason=reason)

    def _awaiting_question_for_person(self, conversation: Conversation) -> bool:
        """Whether our last words asked what to pass on to a person (so this question goes to one)."""
        return _said(conversation, "awaiting_question_for_person")

    # ------------------------------------------------------------------ decisions
    def _decide(
        self,
        session: Session,
        conversation: Conversation,
        requester: User,
        query: str,
        *,
        truncated: bool,
        searched: SearchResult | None = None,
        reply: tuple[str, SearchResult | None] | None = None,
    ) -> Outcome:
        """Answer, clarify or hand off on `query`; `searched`: its search, when already made;
        `reply`: a reply to our clarifying question and its own search, if made (see
        `_confirmed_by_reply`)."""
        if self._reports_known_incident(session, conversation.question):
            return self._handoff(session, conversation, requester, reason="part of an active major incident")
        result = searched if searched is not None else self._search(query, requester, conversation)
        threshold = self._threshold(result)
        if reply is not None and result is not None and not result.answerable(threshold):
            result = self._confirmed_by_reply(result, *reply, requester, conversation)
        if result is not None and result.answerable(threshold):
            twins = _same_title_hits(result)
            if twins and conversation.clarifications == 0:
                return self._clarify(session, conversation, result, threshold, only=twins)
            assert result.top is not None  # answerable() guarantees a hit
            # A passage shown earlier in this conversation is never shown again, whichever case
            # showed it: "the ping keeps going when the VPN drops" answering our question about a
            # follow-up says that step was done.
            fresh = _unseen(conversation, result.top)
            if fresh is None:  # more about an article whose every passage they have already read
                return self._handoff(
                    session,
                    conversation,
                    requester,
                    reason="the suggested article did not help",
                    result=result,
                )
            fresh_result = replace(result, hits=(fresh, *result.hits[1:]))
            also = self._other_problem(conversation, fresh, requester)
            return self._answer(session, conversation, fresh_result, truncated=truncated, also=also)
        if not self._plausible(result, threshold) and not self._about_it(conversation.question):
            return self._say(
                session,
                conversation,
                "clarify",
                phrases.not_about_it(phrases.language_of(conversation.question)),
                actions=(Feedback.HUMAN,),
                payload={"not_about_it": True},
            )
        reason = self._no_question_needed(conversation.question)
        if conversation.clarifications == 0 and reason is None:
            return self._clarify(session, conversation, result, threshold)
        return self._handoff(
            session,
            conversation,
            requester,
            reason=reason or "no confident answer in the knowledge base",
            result=result,
        )

    def _confirmed_by_reply(
        self,
        result: SearchResult,
        reply: str,
        alone: SearchResult | None,
        requester: User,
        conversation: Conversation,
    ) -> SearchResult:
        """The case's search (`result`), answerable when a reply to our clarifying question, searched
        on its own (`alone`, searched here when not yet), confidently finds the article the case's
        search puts first. A reply often says plainly what the opening only hinted at ("how do I
        set up email on my iPhone" → "the Outlook app, for my work email"), and the opening's words
        then dilute the joint search below the threshold although both point at one article. Two
        searches that agree, one of them confident, are an answer; a reply that points at another
        article leaves the case as it was. The passages stay the case's: they fit all of it."""
        if result.top is None:
            return result
        if alone is None:
            alone = self._search(reply, requester, conversation)
        if (
            alone is None
            or alone.top is None
            or not alone.answerable(self._threshold(alone))
            or alone.top.article_id != result.top.article_id
        ):
            return result
        return replace(result, confidence=max(result.confidence, alone.confidence))

    def _reports_known_incident(self, session: Session, question: str) -> bool:
        """A fault that reads like the reports of an active major incident goes to it (the handoff
        joins it): the person hears at once that it is known, and later of its fix. A question
        about how to do something ("how do I connect to the office wifi") is answered as usual."""
        if self.known_issues is None or not describes_fault(question):
            return False
        return self.known_issues.reported(session, question)

    def _no_question_needed(self, question: str) -> str | None:
        """Why a case the KB cannot answer goes to a person without a clarifying question, if it
        does: many people unable to work should reach a person now, not after a question."""
        if reports_widespread_outage(question):
            return "outage reported, many people affected"
        return None

    def _plausible(self, result: SearchResult | None, threshold: float) -> bool:
        """Whether the search found articles plausibly about the question (worth suggesting)."""
        return result is not None and result.suggestion_confidence >= self.min_suggestion_share * min(
            threshold, 1.0
        )

    def _about_it(self, question: str) -> bool:
        """False only for chatter ("what's the weather tomorrow", "tell me a joke") with nothing of
        IT in the case: no IT word, no fault, no device, version or error. Such a case is told what
        we help with and gets no ticket unless the person asks; anything else may be a real IT
        problem the KB does not know, and goes to a person after one clarifying question."""
        if not intents.is_chatter(question) or intents.mentions_it(question) or describes_fault(question):
            return True
        facts = self.triage.extract_facts(question)
        return any(f is not None for f in (facts.device, facts.software_version, facts.error_text))

    def _search(self, query: str, requester: User, conversation: Conversation) -> SearchResult | None:
        """Internal articles only for staff, and only where the answer is seen by them alone: an
        engineer asking in a support channel or a group DM is answered in front of everyone."""
        if self.searcher is None:
            return None
        staff = requester.role in (Role.ENGINEER, Role.ADMIN)
        audiences = (
            frozenset({"public", "internal"})
            if staff and is_private_venue(conversation.key)
            else frozenset({"public"})
        )
        return self.searcher.search(query, audiences=audiences, k=self.top_k)

    def _other_problem(self, conversation: Conversation, answered: ArticleHit, requester: User) -> str | None:
        """The second problem of a new case's message that reports two ("outlook keeps crashing and
        also my second monitor flickers"), when it is a fault or a request of its own that the KB
        does not put under the article answered: the answer names it, so it is not silently
        dropped while the first is dealt with. None for one problem, or two about one article."""
        if conversation.state is not ConversationState.OPEN:
            return None
        halves = intents.second_problem(without_attachments(conversation.question))
        if halves is None:
            return None
        other = halves[1]
        if not (describes_fault(other) or is_service_request(other)):
            return None
        alone = self._search(_first(other, MAX_QUERY_CHARS), requester, conversation)
        if alone is not None and alone.top is not None and alone.top.article_id == answered.article_id:
            return None
        return other

    def _answer(
        self,
        session: Session,
        conversation: Conversation,
        result: SearchResult,
        *,
        truncated: bool,
        also: str | None = None,
    ) -> Outcome:
        top = result.top
        assert top is not None  # answerable() guarantees a hit
        conversation.state = ConversationState.ANSWERED
        conversation.last_article_id = top.article_id
        passage = _passage_text(top)
        lang = phrases.language_of(conversation.question)
        note = phrases.also_mentioned(lang, also) if also else None
        text = phrases.answer(
            lang,
            title=top.title,
            section=top.best.section,
            passage=passage,
            sure=result.confidence >= 0.75,
            truncated=truncated,
            note=note,
        )
        outcome = self._say(
            session,
            conversation,
            "answer",
            text,
            sources=_sources(result.hits),
            confidence=result.confidence,
            passage=passage,
            actions=(Feedback.SOLVED, Feedback.NOT_SOLVED, Feedback.HUMAN),
            payload={"article_id": top.article_id, "version": top.best.version, "passage": passage},
        )
        return replace(outcome, note=note)

    def _clarify(
        self,
        session: Session,
        conversation: Conversation,
        result: SearchResult | None,
        threshold: float,
        *,
        only: tuple[ArticleHit, ...] = (),
    ) -> Outcome:
        conversation.state = ConversationState.CLARIFYING
        conversation.clarifications += 1
        # Only articles that are plausibly about it; otherwise an open question is more useful.
        plausible = self._plausible(result, threshold)
        lang = phrases.language_of(conversation.question)
        likely = only or (_readable(result.hits, lang)[:3] if result is not None and plausible else ())
        text = phrases.clarify(
            lang,
            _told_apart(likely),
            self._still_to_ask(conversation.question),
        )
        return self._say(
            session,
            conversation,
            "clarify",
            text,
            sources=_sources(likely),
            confidence=result.confidence if result else None,
            actions=(Feedback.HUMAN,),
        )

    @staticmethod
    def _short(question: str) -> bool:
        if phrases.language_of(question) == "zh":  # no spaces between words: count characters
            return len(question) <= 3 * SHORT_QUESTION_WORDS
        return len(question.split()) <= SHORT_QUESTION_WORDS

    def _still_to_ask(self, said: str) -> tuple[str, ...]:
        """The details a clarifying question asks for: only those the person has not given."""
        question = without_attachments(said)
        if is_service_request(question):  # "I need access": what and for what, not device and error
            return ("need",)
        facts = self.triage.extract_facts(question)
        # "Excel freezes" has said the app: ask only which device it runs on.
        device = "device_only" if names_app(question) else "device"
        no_device = facts.device is None and facts.software_version is None
        if intents.asks_how_to(question) and not describes_fault(question):  # nothing went wrong yet
            return (device,) if no_device else ("outcome",)
        asks: list[str] = []
        if self._short(question) and not describes_fault(question):  # "my mouse stopped working" said it
            asks.append("goal")
        if no_device:
            asks.append(device)
        if reports_loss(question):  # gone: nothing on it to read, only where and when
            asks.append("lost")
        elif facts.device is not None and will_not_power_on(question):  # no screen, so no message
            asks.append("power")
        elif facts.error_text is None:
            asks.append("error_text")
        return tuple(asks)

    def _handoff(
        self,
        session: Session,
        conversation: Conversation,
        requester: User,
        *,
        reason: str,
        result: SearchResult | None = None,
    ) -> Outcome:
        body = conversation.question  # the current case only, never earlier solved topics
        words = without_attachments(body) or body  # file names and links tell the model nothing
        facts = self.triage.extract_facts(words)
        prediction = self.triage.triage(words, facts)
        ticket = self.desk.open_ticket(
            session,
            requester=requester,
            subject=_subject(words),
            body=body,
            triage=prediction,
            facts=facts,
            conversation=conversation,
            source=conversation.source,
        )
        conversation.state = ConversationState.HANDED_OFF
        known = self.known_issues.join(session, ticket) if self.known_issues is not None else None
        # Part of a known outage: its engineers need no device or version from each person.
        missing = () if known is not None else facts_to_ask(words, facts)
        ref = TicketRef.of(ticket, missing)
        lang = phrases.language_of(words)
        text = phrases.handoff(
            lang,
            number=ticket.number or "",
            category=None if ticket.needs_triage else ticket.category,
            priority=ticket.priority,
            tier=ticket.tier.value,
            response_due=ticket.sla_response_due,
            missing=missing,
        )
        if known is not None:
            text += " " + phrases.known_incident(lang, known.label, known.title, known.latest)
        return self._say(
            session,
            conversation,
            "handoff",
            text,
            ticket=ref,
            sources=_sources(result.hits) if result else (),
            confidence=prediction.category.confidence,
            payload={"ticket": ticket.number, "reason": reason},
        )

    def _settled_ticket(
        self, session: Session, conversation: Conversation, requester: User, intent: Intent, said: str
    ) -> Outcome | None:
        """ "solved", "thanks", "ok" once the ticket is resolved: a confirmation, not a reply that
        reopens it and takes it from its engineer. "solved" (or "yes") closes it as confirmed;
        thanks and the like leave it resolved. None: the ticket is still being worked — relay."""
        ticket = self._ticket_of(session, conversation)
        if ticket is None or ticket.status not in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
            return None
        self._record(
            session, conversation, MessageRole.REQUESTER, "chat", intent.value, {"intent": intent.value}
        )
        number = ticket.number or "your ticket"
        closed = intent in (Intent.SOLVED, Intent.YES, Intent.CLOSE) and self.desk.confirm_resolved(
            session, ticket, requester=requester
        )
        text = phrases.settled(_reply_language(conversation, said), number, closed=closed)
        return self._say(session, conversation, "notice", text, ticket=TicketRef.of(ticket))

    def _typed_rating(
        self, session: Session, conversation: Conversation, requester: User, said: str
    ) -> Outcome | None:
        """A rating typed in reply to "Rate the help from 1 to 5" ("5", "4/5 quick fix") once the
        ticket is resolved: its CSAT, which also confirms the fix and closes it — relayed as a
        reply, it reopened the ticket it praised. None: no rating, or nothing resolved to rate."""
        rating = intents.typed_rating(said)
        if rating is None:
            return None
        ticket = self._ticket_of(session, conversation)
        if ticket is None or ticket.status not in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
            return None
        if ticket.resolved_at is None:  # closed unresolved (cancelled, a duplicate): nothing to rate
            return None
        score, comment = rating
        self._record(session, conversation, MessageRole.REQUESTER, "chat", said, {"rating": score})
        lang = _reply_language(conversation, said)
        number = ticket.number or "your ticket"
        if ticket.csat_score is not None:
            text = phrases.already_rated(lang, number, ticket.csat_score)
        else:
            self.desk.rate(session, ticket, requester=requester, score=score, comment=comment)
            text = phrases.rated(lang, number, score)
        return self._say(session, conversation, "notice", text, ticket=TicketRef.of(ticket))

    def _relay(self, session: Session, conversation: Conversation, requester: User, text: str) -> Outcome:
        ticket = self._ticket_of(session, conversation)
        if ticket is None:  # the ticket was removed by an admin: start over rather than lose the message
            conversation.state = ConversationState.OPEN
            conversation.question = text
            return self._decide(
                session, conversation, requester, _first(text, MAX_QUERY_CHARS), truncated=False
            )
        lang = _reply_language(conversation, text)
        number = ticket.number or ""
        was_settled = ticket.status in (TicketStatus.RESOLVED, TicketStatus.CLOSED)
        # "talk to a person" once a person has the ticket: say who has it and by when, in words (a
        # bare acknowledgement reads as being ignored), and pass it on like any reply.
        wants_person = not was_settled and intents.read_intent(text) is Intent.HUMAN
        if intents.asks_for_status(text) or (
            wants_person and ticket.status is not TicketStatus.WAITING_ON_USER
        ):
            return self._ticket_status(session, conversation, requester, ticket, text, lang)
        if not was_settled:
            withdrawn = self._withdrawal(session, conversation, requester, ticket, text, lang)
            if withdrawn is not None:
                return withdrawn
        self.desk.requester_message(session, ticket, requester=requester, text=text)
        if was_settled and ticket.status is TicketStatus.REOPENED:
            return self._say(
                session,
                conversation,
                "notice",
                phrases.reopened(lang, number, ticket.tier.value),
                ticket=TicketRef.of(ticket),
            )
        new_priority = self.desk.add_facts(
            session, ticket, requester=requester, facts=self.triage.extract_facts(text)
        )
        if new_priority is not None:
            return self._say(
                session,
                conversation,
                "notice",
                phrases.relayed_new_priority(
                    lang, number, new_priority, ticket.tier.value, ticket.sla_response_due
                ),
                ticket=TicketRef.of(ticket),
                # said in words, not only acknowledged: the promise they were given has changed
                relayed=False,
            )
        return self._say(
            session,
            conversation,
            "notice",
            phrases.relayed(lang, number),
            ticket=TicketRef.of(ticket),
            relayed=True,
        )

    def _withdrawal(
        self,
        session: Session,
        conversation: Conversation,
        requester: User,
        ticket: Ticket,
        text: str,
        lang: phrases.Language,
    ) -> Outcome | None:
        """ "never mind, it works now" to an open ticket: passed on, and we offer to close it; a
        "yes" to that offer closes it (withdrawn, the engineer's card says so). None: neither."""
        if ticket.status not in OPEN:  # a ticket someone is, or may start, working on
            return None
        number = ticket.number or ""
        reason = _withdrawal_offered(conversation)
        if reason and intents.read_intent(text) in _AGREES:
            self.desk.withdraw(session, ticket, requester=requester, reason=reason)
            return self._say(
                session, conversation, "notice", phrases.withdrawn(lang, number), ticket=TicketRef.of(ticket)
            )
        if not intents.says_it_works(text) or describes_fault(text):
            return None
        self.desk.requester_message(session, ticket, requester=requester, text=text)
        return self._say(
            session,
            conversation,
            "notice",
            phrases.offer_withdraw(lang, number),
            ticket=TicketRef.of(ticket),
            payload={"offer_withdraw": text},
            relayed=False,  # passed on, but said in words: it asks something
        )

    def _close_reply(
        self, session: Session, conversation: Conversation, requester: User, text: str
    ) -> Outcome | None:
        """ "Please close IT-12, it works now" outside the ticket's thread: the requester's own open
        ticket is withdrawn at once, as "never mind" and "yes" do in its thread (the number names
        it, so there is nothing to confirm). Someone else's number, or a ticket already settled,
        is only answered in words."""
        number = intents.close_request(text)
        if number is None:
            return None
        lang = phrases.language_of(text)
        ticket = next(iter(_numbered(queries.tickets_for_requester(session, requester), number)), None)
        self._record(session, conversation, MessageRole.REQUESTER, "status", text, {"close": number})
        if ticket is None:
            return self._say(
                session, conversation, "notice", phrases.status_overview(lang, [], None, missing=number)
            )
        return self._close_at_their_word(session, conversation, requester, ticket, text, lang)

    def _close_at_their_word(
        self,
        session: Session,
        conversation: Conversation,
        requester: User,
        ticket: Ticket,
        reason: str,
        lang: phrases.Language,
    ) -> Outcome:
        """Withdraw the requester's open ticket from outside its thread; a settled one is only
        described (closing it again would change nothing)."""
        if ticket.status not in OPEN:
            reply = phrases.status_overview(lang, [_ticket_state(ticket)], None)
        else:
            self.desk.withdraw(session, ticket, requester=requester, reason=reason)
            reply = phrases.withdrawn(lang, ticket.number or "", here=False)
        return self._say(session, conversation, "notice", reply)

    def _works_now_reply(
        self, session: Session, conversation: Conversation, requester: User, text: str
    ) -> Outcome | None:
        """ "Never mind, it works now" where no case is open (a new DM, the terminal chat) from
        someone with open tickets: it is about one of them, so we offer to close it (a *yes* then
        closes it) or, with several, ask which; with none, we are glad it's sorted (it is no
        question to search). Also the *yes* or *no* to that offer. None when neither applies."""
        lang = phrases.language_of(text)
        offered, reason = _close_offered(conversation)
        if offered:
            intent = intents.read_intent(text)
            ticket = next(iter(_numbered(queries.tickets_for_requester(session, requester), offered)), None)
            if ticket is not None and intent in (*_AGREES, Intent.NO):
                self._record(session, conversation, MessageRole.REQUESTER, "status", text, {"close": offered})
                if intent is Intent.NO:
                    return self._say(session, conversation, "notice", phrases.left_open(lang, offered))
                return self._close_at_their_word(
                    session, conversation, requester, ticket, reason or text, lang
                )
        if conversation.question or not intents.says_it_works(text) or describes_fault(text):
            return None
        open_ones = [t for t in queries.tickets_for_requester(session, requester) if t.status in OPEN]
        self._record(session, conversation, MessageRole.REQUESTER, "status", text, {})
        if not open_ones:  # nothing of theirs is waiting: nothing to search or ask about either
            return self._say(session, conversation, "notice", phrases.solved(lang, after_answer=False))
        return self._say(
            session,
            conversation,
            "notice",
            phrases.offer_close(lang, [_ticket_state(t) for t in open_ones[:10]]),
            payload={"offer_close": open_ones[0].number if len(open_ones) == 1 else None, "said": text},
        )

    def _status_reply(
        self, session: Session, conversation: Conversation, requester: User, text: str
    ) -> Outcome | None:
        """ "What's the status of my ticket?" or "any update on IT-12?" asked outside a ticket's
        thread (a new DM, the terminal chat): where the person's own tickets stand, in words, not a
        search of the KB. Nothing is passed on and the case here is left as it was; a reply reaches
        an engineer in the ticket's own thread. A number that is not one of theirs is not described
        (it may be a colleague's). With no tickets at all, "when will someone fix my laptop" is a
        question like any other (None)."""
        number = intents.named_ticket(text)
        if number is None and (
            # "when will someone fix it" answering our clarifying question is about this case
            conversation.state is ConversationState.CLARIFYING or not intents.asks_for_status(text)
        ):
            return None
        mine = queries.tickets_for_requester(session, requester)
        if number is None and not mine and not intents.mentions_ticket(text):
            return None
        named = _numbered(mine, number) if number else []
        missing = number if number and not named else None
        open_ones = named if named else [t for t in mine if t.status in OPEN]
        latest = None if named or open_ones or not mine else mine[0]
        self._record(session, conversation, MessageRole.REQUESTER, "status", text, {"ticket": number})
        reply = phrases.status_overview(
            phrases.language_of(text),
            [_ticket_state(t) for t in open_ones],
            _ticket_state(latest) if latest is not None else None,
            missing=missing,
        )
        return self._say(session, conversation, "notice", reply)

    def _ticket_status(
        self,
        session: Session,
        conversation: Conversation,
        requester: User,
        ticket: Ticket,
        text: str,
        lang: phrases.Language,
    ) -> Outcome:
        """ "any update?" after a handoff: say where the ticket stands. On an open ticket the
        question is still passed on (the engineer should know someone is waiting); on a settled
        one it is not, so asking never reopens a ticket, nor on one that waits for the requester's
        answer, which this is not."""
        reply = phrases.ticket_status(lang, _ticket_state(ticket))
        quiet = (TicketStatus.RESOLVED, TicketStatus.CLOSED, TicketStatus.WAITING_ON_USER)
        if ticket.status not in quiet:
            self.desk.requester_message(session, ticket, requester=requester, text=text)
        return self._say(session, conversation, "notice", reply, ticket=TicketRef.of(ticket))

    # ------------------------------------------------------------------ bookkeeping
    def _conversation(self, session: Session, inquiry: Inquiry, requester: User) -> Conversation:
        """The conversation, locked until the caller commits: two "Talk to a person" clicks a moment
        apart must open one ticket, so the second waits and then sees the first one's state.

        The lock is a no-op UPDATE rather than SELECT ... FOR UPDATE because SQLite has no row
        locks: there the write takes the database's write lock, which is what serialises the two.
        `populate_existing`: a caller that read the row earlier in this session gets the current
        values, not its stale copy."""
        key = inquiry.conversation_key
        session.execute(
            update(Conversation)
            .where(Conversation.key == key)
            .values(key=Conversation.key)
            .execution_options(synchronize_session=False)
        )
        conversation = session.scalars(
            select(Conversation).where(Conversation.key == key).execution_options(populate_existing=True)
        ).one_or_none()
        if conversation is None:
            conversation = Conversation(
                key=inquiry.conversation_key, source=inquiry.source, requester=requester
            )
            session.add(conversation)
            session.flush()
        return conversation

    def _ticket_of(self, session: Session, conversation: Conversation) -> Ticket | None:
        return session.scalars(
            select(Ticket)
            .where(Ticket.conversation_id == conversation.id)
            .order_by(Ticket.id.desc())
            .limit(1)
        ).one_or_none()

    def _record(
        self,
        session: Session,
        conversation: Conversation,
        role: MessageRole,
        kind: str,
        text: str,
        payload: dict[str, Any] | None = None,
    ) -> None:
        conversation.messages.append(Message(role=role, kind=kind, text=text, payload=payload or {}))
        session.flush()

    def _say(
        self,
        session: Session,
        conversation: Conversation,
        kind: OutcomeKind,
        text: str,
        *,
        sources: tuple[SourceRef, ...] = (),
        ticket: TicketRef | None = None,
        confidence: float | None = None,
        passage: str | None = None,
        actions: tuple[Feedback, ...] = (),
        payload: dict[str, Any] | None = None,
        relayed: bool = False,
    ) -> Outcome:
        data = dict(payload or {})
        data["sources"] = [s.to_json() for s in sources]
        if confidence is not None:
            data["confidence"] = confidence
        self._record(session, conversation, MessageRole.ASSISTANT, kind, text, data)
        return Outcome(
            kind=kind,
            text=text,
            conversation_key=conversation.key,
            sources=sources,
            ticket=ticket,
            confidence=confidence,
            passage=passage,
            actions=actions,
            relayed=relayed,
        )


def _where(conversation: Conversation) -> Literal["idle", "answered", "clarifying"]:
    """Where the open case stands, for replies to small talk."""
    if conversation.state is ConversationState.ANSWERED:
        return "answered"
    if conversation.state is ConversationState.CLARIFYING or (
        conversation.state is ConversationState.OPEN and conversation.question
    ):
        return "clarifying"
    return "idle"


def _unseen(conversation: Conversation, hit: ArticleHit) -> ArticleHit | None:
    """The hit with its best passage not yet shown in this conversation first: a follow-up about
    the same article ("it says the network path was not found") must not get the same text back.
    None when every passage the search gave was shown already; the hit itself when none was."""
    shown = [
        str((m.payload or {}).get("passage") or m.text)
        for m in conversation.messages
        if m.role is MessageRole.ASSISTANT and m.kind == "answer"
    ]
    if not shown:
        return hit
    for i, passage in enumerate(hit.passages):
        candidate = replace(hit, passages=(passage, *hit.passages[:i], *hit.passages[i + 1 :]))
        text = _passage_text(candidate).strip()
        if not any(text and text in earlier for earlier in shown):
            return candidate
    return None


def _reply_language(conversation: Conversation, said: str) -> phrases.Language:
    """The language to answer a reply in: its own when it has words enough to tell ("谢谢",
    "thanks, it works now"), else the case's: a Chinese requester's "ok" is answered in Chinese."""
    if phrases.language_of(said) == "zh" or len(said.split()) > 2:
        return phrases.language_of(said)
    return phrases.language_of(conversation.question)


def _last_said(conversation: Conversation) -> Message | None:
    """Our last message in the conversation, if any."""
    return next((m for m in reversed(conversation.messages) if m.role is MessageRole.ASSISTANT), None)


def _said(conversation: Conversation, flag: str) -> bool:
    """Whether our last message carried `flag` in its payload (what it asked of the person)."""
    said = _last_said(conversation)
    return said is not None and bool((said.payload or {}).get(flag))


def _close_offered(conversation: Conversation) -> tuple[str, str]:
    """The ticket our last words offered to close outside its thread (see `_works_now_reply`), and
    the words that made us offer it (the reason it is closed for); empty when there is no offer."""
    said = _last_said(conversation)
    payload = (said.payload or {}) if said is not None else {}
    return str(payload.get("offer_close") or ""), str(payload.get("said") or "")


def _withdrawal_offered(conversation: Conversation) -> str:
    """The requester's words ("it works now") if our last message offered to close the ticket, else ""."""
    said = _last_said(conversation)
    return str((said.payload or {}).get("offer_withdraw") or "") if said is not None else ""


def _offered(conversation: Conversation) -> tuple[tuple[str, str], ...]:
    """The articles (id, title) our last message offered, when it was a clarifying question."""
    said = _last_said(conversation)
    if said is None or said.kind != "clarify":
        return ()
    sources = (said.payload or {}).get("sources") or []
    return tuple((str(s["id"]), str(s["title"])) for s in sources if isinstance(s, dict) and "id" in s)


def is_private_venue(conversation_key: str) -> bool:
    """Whether only the asker sees the replies: the terminal chat, or a Slack DM with the bot
    (Slack's DM channel ids start with D). Support channels and group DMs are not."""
    if conversation_key.startswith("cli:"):
        return True
    parts = conversation_key.split(":")
    return len(parts) >= 3 and parts[0] == "slack" and parts[1].startswith("D")


def _numbered(tickets: list[Ticket], number: str) -> list[Ticket]:
    """Those of `tickets` with `number`, in any case ("it-12" is IT-12)."""
    return [t for t in tickets if (t.number or "").upper() == number.upper()]


def _ticket_state(ticket: Ticket) -> phrases.TicketState:
    responded = ticket.first_response_at is not None
    return phrases.TicketState(
        number=ticket.number or "",
        subject=ticket.subject or "",
        status=ticket.status.value,
        tier=ticket.tier.value,
        claimed=ticket.assignee_id is not None,
        due=ticket.sla_resolution_due if responded else ticket.sla_response_due,
        responded=responded,
        resolution=ticket.resolution,
    )


def _same_title_hits(result: SearchResult) -> tuple[ArticleHit, ...]:
    """The top hits that share the first one's title and score about as well (else none)."""
    if len(result.hits) < 2:
        return ()
    top = result.hits[0]
    title = _title_key(top.title)
    twins = tuple(
        h for h in result.hits if _title_key(h.title) == title and h.score >= top.score - SAME_TITLE_MARGIN
    )
    return twins if len(twins) > 1 else ()


def _title_key(title: str) -> str:
    return " ".join(title.casefold().split())


def _told_apart(hits: tuple[ArticleHit, ...]) -> list[str]:
    """Titles to offer; articles sharing a title are told apart by section or id ("Email setup
    (email/iphone)"), so the person can say which one they mean."""
    counts = Counter(_title_key(hit.title) for hit in hits)
    labels = []
    for hit in hits:
        if counts[_title_key(hit.title)] > 1:
            detail = (
                hit.best.section if hit.best.section and hit.best.section != hit.title else hit.article_id
            )
            labels.append(f"{hit.title} ({detail})")
        else:
            labels.append(hit.title)
    return labels


def _passage_text(hit: ArticleHit) -> str:
    """The best passage, followed by the article's next one when the search gave it (a short intro
    alone, "follow the steps below.", answers nothing), within MAX_PASSAGE_CHARS."""
    best = hit.best
    text = best.text.strip()
    following = best.following
    if following is None or not following.text.strip():
        return text[:MAX_PASSAGE_CHARS]
    head = f"*{following.section}*\n" if following.section and following.section != best.section else ""
    more = f"{head}{following.text.strip()}"
    if text == best.section.strip():  # a heading alone (its section was only an image): skip it
        return more[:MAX_PASSAGE_CHARS]
    room = MAX_PASSAGE_CHARS - len(text) - 2
    if len(more) > room:
        cut = more[:room]
        more = cut[: cut.rfind("\n")] if "\n" in cut else ""
    return f"{text}\n\n{more}".strip() if more.strip() else text[:MAX_PASSAGE_CHARS]


def _sources(hits: tuple[ArticleHit, ...]) -> tuple[SourceRef, ...]:
    return tuple(SourceRef(h.article_id, h.title, h.score, h.url, h.best.section) for h in hits)


def _first(text: str, limit: int) -> str:
    return " ".join(text.split())[:limit]


def _subject(text: str) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "Request from chat")
    return line if len(line) <= 120 else line[:117].rstrip() + "..."
