"""KB health: which articles help, which do not, and what people ask that no article answers.

Score (documented in `tierline kb health --help` and the report):

    health = (solved + 1) / (solved + failed + 2)

where, for every time the article was shown as an answer, the outcome is *solved* when the
requester pressed Solved, *failed* when they pressed Not solved or the conversation was handed
to a person before another answer was shown, and *unrated* otherwise (unrated answers do not
count). It is the Laplace-smoothed share of rated answers that solved the problem: 0.5 means
"no evidence either way", 1 article with 0 of 3 solved scores 0.2, 9 of 10 scores 0.83.
Articles are ranked weakest first (ties: the most shown first, since they hurt most people).
An article is *stale* when its current version is older than `stale_days`.

KB gaps are questions that got no answer at all (only a clarifying question and/or a handoff),
clustered by meaning so "vpn drops at home" and "VPN disconnects on home wifi" count together.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.learning.embeddings import greedy_clusters
from bot.learning.privacy import scrub
from kb_index.encoders import Encoder, load_encoder
from models import Conversation, KBArticle, KBArticleVersion, Message, MessageRole

DEFAULT_STALE_DAYS = 180
DEFAULT_GAP_SIMILARITY = 0.55
MAX_GAP_QUESTIONS = 3_000


def health_score(solved: int, failed: int) -> float:
    return (solved + 1) / (solved + failed + 2)


@dataclass
class ArticleHealth:
    article_id: str
    title: str
    shown: int = 0
    solved: int = 0
    not_solved: int = 0
    handoffs: int = 0
    failed: int = 0
    last_updated: datetime | None = None
    stale: bool = False
    removed: bool = False

    @property
    def rated(self) -> int:
        return self.solved + self.failed

    @property
    def score(self) -> float:
        return health_score(self.solved, self.failed)

    def to_json(self) -> dict[str, Any]:
        return {
            "article_id": self.article_id,
            "title": self.title,
            "shown": self.shown,
            "solved": self.solved,
            "not_solved": self.not_solved,
            "handoffs": self.handoffs,
            "failed": self.failed,
            "score": round(self.score, 4),
            "stale": self.stale,
            "last_updated": self.last_updated.isoformat() if self.last_updated else None,
        }


@dataclass
class KBGap:
    """A cluster of unanswered questions: how many, a representative, a few examples."""

    count: int
    representative: str
    examples: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "representative": self.representative, "examples": self.examples}


def _answer_messages(session: Session, since: datetime, until: datetime) -> list[Message]:
    return list(
        session.scalars(
            select(Message)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(
                Message.created_at >= since,
                Message.created_at < until,
                Message.kind.in_(("answer", "feedback", "handoff")),
            )
            .order_by(Message.conversation_id, Message.created_at, Message.id)
        )
    )


def article_health(
    session: Session,
    *,
    since: datetime,
    until: datetime,
    stale_days: int = DEFAULT_STALE_DAYS,
) -> list[ArticleHealth]:
    """Per-article outcomes over [since, until), weakest first; unused live articles come last."""
    table: dict[str, ArticleHealth] = {}
    for article in session.scalars(select(KBArticle)):
        table[article.id] = ArticleHealth(article.id, article.title, removed=article.removed_at is not None)
    latest: dict[str, datetime] = {}
    for article_id, created in session.execute(
        select(KBArticleVersion.article_id, KBArticleVersion.created_at)
    ):
        if article_id not in latest or created > latest[article_id]:
            latest[article_id] = created
    by_conversation: dict[int, list[Message]] = defaultdict(list)
    for message in _answer_messages(session, since, until):
        by_conversation[message.conversation_id].append(message)
    for messages in by_conversation.values():
        _tally(messages, table)
    stale_before = until - timedelta(days=stale_days)
    for row in table.values():
        row.last_updated = latest.get(row.article_id)
        row.stale = row.last_updated is not None and row.last_updated < stale_before
    rows = [r for r in table.values() if r.shown > 0 or not r.removed]
    return sorted(rows, key=lambda r: (r.shown == 0, r.score, -r.shown, r.article_id))


def _tally(messages: list[Message], table: dict[str, ArticleHealth]) -> None:
    """Walk one conversation: each answer's outcome is decided before the next answer."""
    current: str | None = None
    decided = True
    for message in messages:
        payload = message.payload or {}
        if message.role is MessageRole.ASSISTANT and message.kind == "answer":
            current = str(payload.get("article_id") or "") or None
            decided = False
            if current is not None:
                table.setdefault(current, ArticleHealth(current, current, removed=True)).shown += 1
            continue
        if current is None:
            continue
        row = table[current]
        if message.kind == "feedback":
            action = payload.get("action")
            if action == "solved" and not decided:
                row.solved += 1
                decided = True
            elif action == "not_solved":
                row.not_solved += 1
                if not decided:
                    row.failed += 1
                    decided = True
        elif message.kind == "handoff":
            row.handoffs += 1
            if not decided:
                row.failed += 1
                decided = True
            current = None


def unanswered_questions(session: Session, *, since: datetime, until: datetime) -> list[str]:
    """Questions of conversations (started in the period) that never got a KB answer."""
    answered = select(Message.conversation_id).where(
        Message.role == MessageRole.ASSISTANT, Message.kind == "answer"
    )
    asked = select(Message.conversation_id).where(
        Message.role == MessageRole.REQUESTER, Message.kind == "question"
    )
    rows = session.scalars(
        select(Conversation.question)
        .where(
            Conversation.created_at >= since,
            Conversation.created_at < until,
            Conversation.id.in_(asked),
            Conversation.id.not_in(answered),
            Conversation.question != "",
        )
        .order_by(Conversation.created_at.desc(), Conversation.id.desc())
        .limit(MAX_GAP_QUESTIONS)
    )
    return [" ".join(q.split()) for q in rows if q and q.strip()]


def kb_gaps(
    session: Session,
    *,
    since: datetime,
    until: datetime,
    encoder: Encoder | str = "minilm",
    similarity: float = DEFAULT_GAP_SIMILARITY,
    limit: int = 10,
) -> list[KBGap]:
    """Unanswered questions clustered by meaning, biggest cluster first."""
    questions = unanswered_questions(session, since=since, until=until)
    if not questions:
        return []
    questions.reverse()  # oldest first: cluster leaders are the first way a problem was put
    enc = load_encoder(encoder) if isinstance(encoder, str) else encoder
    vectors = enc.encode_queries([q[:500] for q in questions])
    gaps = []
    for cluster in greedy_clusters(vectors, similarity):
        members = cluster.members
        sims = vectors[members] @ cluster.centroid
        order = [members[int(i)] for i in np.argsort(-sims, kind="stable")]
        # Quoted to admins and in a report meant to be mailed: no requester's address or number.
        shown = [scrub(questions[i]) for i in order[:4]]
        gaps.append(KBGap(len(members), shown[0], shown[1:]))
    gaps.sort(key=lambda g: (-g.count, g.representative))
    return gaps[:limit]
