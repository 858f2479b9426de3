"""KB drafts from resolved tickets: the engineer proposes, a reviewer approves, only then it is
published.

A draft is written from the ticket (the question, the facts, the resolution) and compared with
the live articles by embedding cosine. When the closest article is at least `same_topic`
similar, approval appends the fix to that article as a new version instead of creating a near
duplicate. Approval writes a Markdown file with front matter into the published folder
(`settings.data_dir / "kb_published"`) and re-indexes incrementally; rejected and pending drafts
are never visible to requesters.

Drafts are public by default and written from a requester's own words, so personal data (e-mail
addresses, phone numbers, Slack mentions, the names of the people on the ticket) is scrubbed when
the draft is written and approval refuses a draft that still holds any. An internal draft never
becomes part of a public article.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.learning.errors import InvalidInput, InvalidState, NotAllowed, NotFound
from bot.learning.privacy import PLACEHOLDER, personal_data_in, scrub
from bot.settings import Settings
from kb_index.encoders import Encoder, load_encoder
from models import (
    Conversation,
    DraftStatus,
    KBArticle,
    KBArticleVersion,
    KBDraft,
    Role,
    Ticket,
    TicketEvent,
    TicketLink,
    TicketStatus,
    User,
    utcnow,
)

# MiniLM, best-matching section of examples/kb: ticket write-ups on an article's own problem scored
# 0.75–0.84, write-ups on problems no article covers 0.32–0.65 (see the report for the list).
DEFAULT_SAME_TOPIC = 0.70
SECTION_CHARS = 1_000
ApproveMode = Literal["suggested", "new", "update"]

_FACT_LABELS = {
    "device": "Device",
    "software_version": "App / OS version",
    "error_text": "Error message",
    "impact": "Who is affected",
    "urgency": "Urgency",
}
# Section vectors of live articles by (encoder key, article id, content hash): articles change rarely.
_ARTICLE_VECTORS: dict[tuple[str, str, str], np.ndarray] = {}


@dataclass(frozen=True)
class ArticleMatch:
    article_id: str
    title: str
    similarity: float


def _slug(text: str) -> str:
    text = PLACEHOLDER.sub(" ", text)  # "[name]" is no part of what the article is about
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:60].rstrip("-") or "article"


def _unique_article_id(session: Session, title: str) -> str:
    base = _slug(title)
    taken = set(session.scalars(select(KBArticle.id).where(KBArticle.id.like(f"{base}%"))))
    taken |= set(
        session.scalars(
            select(KBDraft.proposed_article_id).where(KBDraft.proposed_article_id.like(f"{base}%"))
        )
    )
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def _question_of(session: Session, ticket: Ticket) -> str:
    if ticket.conversation_id is not None:
        conversation = session.get(Conversation, ticket.conversation_id)
        if conversation is not None and conversation.question.strip():
            return conversation.question.strip()
    return (ticket.body or ticket.subject).strip()


def people_on(session: Session, ticket: Ticket) -> list[str]:
    """Display names of the ticket's people (requester, assignee, anyone on its audit trail): the
    names a draft written from it must not publish."""
    ids = {ticket.requester_id, ticket.assignee_id}
    ids |= set(session.scalars(select(TicketEvent.actor_id).where(TicketEvent.ticket_id == ticket.id)))
    known = [i for i in ids if i is not None]
    if not known:
        return []
    return [name for name in session.scalars(select(User.display_name).where(User.id.in_(known))) if name]


def _duplicate_of(session: Session, ticket: Ticket) -> Ticket | None:
    link = session.scalars(
        select(TicketLink).where(TicketLink.ticket_id == ticket.id, TicketLink.kind == "duplicate")
    ).first()
    return link.target if link is not None else None


def draft_markdown(title: str, question: str, facts: dict[str, Any], resolution: str) -> str:
    """The article body a reviewer edits: problem, symptoms (facts) and fix in ONE section.

    Bold labels rather than `##` headings on purpose: the index chunks at headings and the engine
    answers with the best chunk, so a separate "Problem" section would match the question best
    and the assistant would reply with the requester's own problem instead of the fix.
    """
    lines = [f"# {title}", "", f"**Problem.** {question.strip()}"]
    symptoms = [(label, str(facts[key]).strip()) for key, label in _FACT_LABELS.items() if facts.get(key)]
    if symptoms:
        lines += ["", "**Symptoms.**"]
        lines += [f"- {label}: {value}" for label, value in symptoms]
    lines += ["", f"**Fix.** {resolution.strip()}", ""]
    return "\n".join(lines)


def _sections(title: str, body: str) -> list[str]:
    """An article split at its `##` headings, each prefixed with the title: a fix usually matches
    one section of a long article, and the whole-article average would hide it."""
    parts = [p.strip() for p in re.split(r"\n(?=## )", body) if p.strip()]
    return [f"{title}. {p}"[:SECTION_CHARS] for p in parts] or [title]


@dataclass(frozen=True)
class ArticleVectors:
    """The live index's chunk vectors (one row per chunk) and the article of each row: comparing a
    draft with them needs no re-embedding of the KB."""

    article_ids: list[str]
    vectors: np.ndarray


def index_vectors(settings: Settings) -> ArticleVectors | None:
    """Chunk vectors of the current KB index, or None when there is no usable index yet."""
    from kb_index.errors import KBError
    from kb_index.store import load_index

    try:
        index = load_index(settings.kb_index_path, load_encoder(settings.kb_encoder))
    except KBError:
        return None
    return ArticleVectors([c.article_id for c in index.chunks], np.asarray(index.vectors, dtype=np.float32))


def _live_articles(session: Session) -> list[tuple[KBArticle, KBArticleVersion]]:
    rows = session.execute(
        select(KBArticle, KBArticleVersion)
        .join(
            KBArticleVersion,
            (KBArticleVersion.article_id == KBArticle.id)
            & (KBArticleVersion.version == KBArticle.current_version),
        )
        .where(KBArticle.removed_at.is_(None))
        .order_by(KBArticle.id)
    ).all()
    return [(a, v) for a, v in rows]


def closest_article(
    session: Session, encoder: Encoder, text: str, kb: ArticleVectors | None = None
) -> ArticleMatch | None:
    """The live article with the chunk/section most similar to `text` (embedding cosine), or None.

    With `kb` (the index's own chunk vectors) nothing is re-embedded; without it, each article's
    sections are embedded once per process.
    """
    rows = _live_articles(session)
    if not rows:
        return None
    titles = {a.id: a.title for a, _ in rows}
    query = encoder.encode_passages([text[:SECTION_CHARS]])[0]
    best: dict[str, float] = {}
    if kb is not None and len(kb.article_ids) and kb.vectors.shape[1] == query.shape[0]:
        for article_id, score in zip(kb.article_ids, kb.vectors @ query, strict=True):
            if article_id in titles and float(score) > best.get(article_id, -2.0):
                best[article_id] = float(score)
    else:
        for article, version in rows:
            key = (encoder.key, article.id, article.content_hash)
            if key not in _ARTICLE_VECTORS:
                _ARTICLE_VECTORS[key] = encoder.encode_passages(_sections(version.title, version.body))
            best[article.id] = float(np.max(_ARTICLE_VECTORS[key] @ query))
    if not best:
        return None
    article_id = max(best, key=lambda a: (best[a], a))
    return ArticleMatch(article_id, titles[article_id], best[article_id])


def _require_staff(user: User | None, action: str) -> None:
    if user is not None and user.role not in (Role.ENGINEER, Role.ADMIN):
        raise NotAllowed(f"only engineers and admins can {action}; {user.label} is a {user.role.value}")


def create_draft_from_ticket(
    session: Session,
    ticket: Ticket,
    *,
    author: User | None,
    encoder: Encoder | str = "minilm",
    same_topic: float = DEFAULT_SAME_TOPIC,
    audience: str = "public",
    kb: ArticleVectors | None = None,
) -> KBDraft:
    """A draft from a resolved ticket; pressing the button twice returns the same pending draft.

    Front ends with settings call `draft_from_ticket`, which passes the index's vectors as `kb`.
    """
    _require_staff(author, "write KB drafts")
    if ticket.status not in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
        raise InvalidState(f"{ticket.number} is {ticket.status.value}: resolve it before drafting an article")
    resolution = (ticket.resolution or "").strip()
    if not resolution:
        raise InvalidInput(f"{ticket.number} has no resolution text to turn into an article")
    if audience not in ("public", "internal"):
        raise InvalidInput(f"audience must be public or internal, not {audience!r}")
    original = _duplicate_of(session, ticket)
    if original is not None:  # its fix lives on the original; two drafts would be two articles
        raise InvalidState(
            f"{ticket.number} was resolved as a duplicate of {original.number}: "
            f"write the draft from {original.number}"
        )
    pending = session.scalars(
        select(KBDraft).where(KBDraft.ticket_id == ticket.id, KBDraft.status == DraftStatus.DRAFT)
    ).first()
    if pending is not None and not reopened_since(session, pending):
        return pending
    if pending is not None:  # its fix did not hold; the new draft carries the latest resolution
        pending.status = DraftStatus.REJECTED
        pending.reviewed_at = utcnow()
        pending.review_note = f"superseded: {ticket.number} was reopened after this draft was written"
    enc = load_encoder(encoder) if isinstance(encoder, str) else encoder
    names = people_on(session, ticket)
    title = scrub(" ".join(ticket.subject.split()), names) or f"Fix for {ticket.category} issue"
    question = scrub(_question_of(session, ticket), names)
    resolution = scrub(resolution, names)
    facts = {k: scrub(str(v), names) for k, v in (ticket.facts or {}).items() if v}
    body = draft_markdown(title, question, facts, resolution)
    match = closest_article(session, enc, f"{title}. {question}\n{resolution}", kb)
    same = match is not None and match.similarity >= same_topic
    draft = KBDraft(
        ticket_id=ticket.id,
        title=title,
        body=body,
        tags=[ticket.category] if ticket.category and ticket.category != "needs_triage" else [],
        audience=audience,
        proposed_article_id=_unique_article_id(session, title),
        similar_article_id=match.article_id if match else None,
        similarity=match.similarity if match else None,
        suggested_action="update" if same else "new",
        author_id=author.id if author else None,
    )
    session.add(draft)
    session.flush()
    session.add(
        TicketEvent(
            ticket_id=ticket.id,
            kind="note",
            actor_id=author.id if author else None,
            internal=True,
            text=f"KB draft #{draft.id} written from this ticket",
            data={"kb_draft": draft.id},
        )
    )
    session.flush()
    return draft


def reopened_since(session: Session, draft: KBDraft) -> bool:
    """The draft's ticket was reopened after the draft was written: the fix it holds did not last.

    Compared by event id, not time: the draft's own audit note and the reopening are rows of one
    append-only table, so their order holds even when clocks (or tests) disagree.
    """
    if draft.ticket_id is None:
        return False
    written = select(func.min(TicketEvent.id)).where(
        TicketEvent.ticket_id == draft.ticket_id, TicketEvent.data["kb_draft"].as_integer() == draft.id
    )
    reopened = session.scalar(
        select(func.count(TicketEvent.id)).where(
            TicketEvent.ticket_id == draft.ticket_id,
            TicketEvent.kind == "reopened",
            TicketEvent.id > func.coalesce(written.scalar_subquery(), 0),
        )
    )
    return bool(reopened)


def _require_fix_held(session: Session, draft: KBDraft) -> None:
    """Refuse to publish a fix that did not hold: the requester reopened the ticket after it."""
    ticket = draft.ticket
    if ticket is None:
        return
    if ticket.status not in (TicketStatus.RESOLVED, TicketStatus.CLOSED) or reopened_since(session, draft):
        raise InvalidState(
            f"{ticket.number} was reopened after draft #{draft.id} was written, so its fix did not hold; "
            f"reject the draft, and write a new one once {ticket.number} is resolved again"
        )


def draft_from_ticket(
    session: Session, settings: Settings, ticket: Ticket, *, author: User | None, audience: str = "public"
) -> KBDraft:
    """What the "Create KB draft" button and `tierline kb drafts create` call."""
    return create_draft_from_ticket(
        session,
        ticket,
        author=author,
        encoder=settings.kb_encoder,
        same_topic=settings.kb_same_topic,
        audience=audience,
        kb=index_vectors(settings),
    )


def get_draft(session: Session, draft_id: int) -> KBDraft:
    draft = session.get(KBDraft, draft_id)
    if draft is None:
        raise NotFound(f"no KB draft #{draft_id}")
    return draft


def list_drafts(session: Session, status: DraftStatus | None = DraftStatus.DRAFT) -> list[KBDraft]:
    query = select(KBDraft).order_by(KBDraft.id)
    if status is not None:
        query = query.where(KBDraft.status == status)
    return list(session.scalars(query))


def edit_draft(
    session: Session,
    draft_id: int,
    *,
    editor: User,
    title: str | None = None,
    body: str | None = None,
    audience: str | None = None,
    tags: list[str] | None = None,
) -> KBDraft:
    """Change a pending draft before approval (reviewers fix wording, hide internal details)."""
    _require_staff(editor, "edit KB drafts")
    draft = get_draft(session, draft_id)
    if draft.status is not DraftStatus.DRAFT:
        raise InvalidState(f"draft #{draft.id} is already {draft.status.value}")
    if title is not None:
        if not title.strip():
            raise InvalidInput("a KB article needs a title")
        draft.title = " ".join(title.split())[:500]
    if body is not None:
        if not body.strip():
            raise InvalidInput("the draft body is empty; reject the draft instead")
        draft.body = body.strip() + "\n"
    if audience is not None:
        if audience not in ("public", "internal"):
            raise InvalidInput(f"audience must be public or internal, not {audience!r}")
        draft.audience = audience
    if tags is not None:
        draft.tags = [t.strip() for t in tags if t.strip()]
    session.flush()
    return draft


def _front_matter(meta: dict[str, Any], body: str) -> str:
    header = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True).strip()
    return f"---\n{header}\n---\n{body.rstrip()}\n"


def _strip_front_matter(text: str) -> str:
    match = re.match(r"\A---\s*\n.*?\n---\s*(?:\n|\Z)", text, re.DOTALL)
    return text[match.end() :] if match else text


def _current_body(session: Session, article: KBArticle) -> str:
    """The article's text as the reader sees it now: its source file when readable, else the DB copy."""
    if article.source_path:
        path = Path(article.source_path)
        if path.is_file() and path.suffix.lower() in (".md", ".markdown"):
            return _strip_front_matter(path.read_text(encoding="utf-8"))
    version = session.scalars(
        select(KBArticleVersion)
        .where(KBArticleVersion.article_id == article.id)
        .order_by(KBArticleVersion.version.desc())
        .limit(1)
    ).first()
    return version.body if version else ""


def _fix_section(draft: KBDraft) -> str:
    """The draft without its H1, under a `##` heading of its own, for appending to an article
    (one section, so problem and fix stay in one chunk)."""
    body = re.sub(r"\A#\s+.*\n", "", draft.body.lstrip())
    body = re.sub(r"^#{1,6}\s+", "", body, flags=re.MULTILINE)
    return f"## {draft.title}\n\n{body.strip()}\n"


def _is_public(session: Session, article_id: str | None) -> bool:
    article = session.get(KBArticle, article_id) if article_id else None
    return article is not None and article.audience != "internal"


@dataclass(frozen=True)
class Publication:
    draft_id: int
    article_id: str
    action: Literal["new", "update"]
    path: Path
    # The file's text before this approval (None: it did not exist), to undo a failed re-index.
    previous: str | None = None

    def undo(self) -> None:
        if self.previous is None:
            self.path.unlink(missing_ok=True)
        else:
            self.path.write_text(self.previous, encoding="utf-8")


def publish_draft(
    session: Session,
    draft_id: int,
    *,
    reviewer: User,
    published_dir: Path,
    mode: ApproveMode = "suggested",
    target_article_id: str | None = None,
    note: str | None = None,
) -> Publication:
    """Approve a draft and write its article file; re-indexing is the caller's next step."""
    _require_staff(reviewer, "approve KB drafts")
    draft = get_draft(session, draft_id)
    if draft.author_id is not None and draft.author_id == reviewer.id and reviewer.role is not Role.ADMIN:
        # What goes in front of every employee gets a second pair of eyes.
        raise NotAllowed(
            f"{reviewer.label} wrote draft #{draft.id}; another engineer or an admin approves it"
        )
    if draft.status is not DraftStatus.DRAFT:
        raise InvalidState(f"draft #{draft.id} is already {draft.status.value}")
    _require_fix_held(session, draft)
    names = people_on(session, draft.ticket) if draft.ticket is not None else []
    found = personal_data_in(f"{draft.title}\n{draft.body}", names)
    if found:
        raise InvalidState(
            f"draft #{draft.id} still contains {', '.join(found)}; "
            "edit the draft to remove it before approving"
        )
    action: Literal["new", "update"]
    if target_article_id is not None:
        action = "update"
    elif mode == "suggested":
        action = "update" if draft.suggested_action == "update" else "new"
        if (
            action == "update"
            and draft.audience == "internal"
            and _is_public(session, draft.similar_article_id)
        ):
            action = "new"  # its own internal article: engineers' text never joins a public one
    else:
        action = mode
    published_dir.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any]
    if action == "update":
        article_id = target_article_id or draft.similar_article_id
        if article_id is None:
            raise InvalidInput(f"draft #{draft.id} has no similar article to update; approve it as new")
        article = session.get(KBArticle, article_id)
        if article is None or article.removed_at is not None:
            raise InvalidInput(f"no live KB article {article_id!r} to add draft #{draft.id} to")
        if draft.audience == "internal" and article.audience != "internal":
            raise InvalidState(
                f"draft #{draft.id} is internal and {article.id} is {article.audience}: "
                "approve it as a new internal article instead"
            )
        tags = list(dict.fromkeys([*(str(t) for t in article.tags), *(str(t) for t in draft.tags)]))
        meta = {"id": article.id, "title": article.title, "tags": tags, "audience": article.audience}
        if article.url:
            meta["url"] = article.url
        text = _current_body(session, article).rstrip() + "\n\n" + _fix_section(draft)
    else:
        article_id = draft.proposed_article_id
        if session.get(KBArticle, article_id) is not None:
            raise InvalidState(
                f"an article {article_id!r} already exists; approve draft #{draft.id} as an update"
            )
        meta = {"id": article_id, "title": draft.title, "tags": list(draft.tags), "audience": draft.audience}
        text = draft.body
    if draft.ticket is not None and draft.ticket.number:
        meta["source_ticket"] = draft.ticket.number
    path = published_dir / f"{article_id}.md"
    previous = path.read_text(encoding="utf-8") if path.exists() else None
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(_front_matter(meta, text), encoding="utf-8")
    tmp.replace(path)  # a reader never sees half a file
    draft.status = DraftStatus.APPROVED
    draft.reviewer_id = reviewer.id
    draft.reviewed_at = utcnow()
    draft.review_note = note
    draft.published_article_id = article_id
    draft.published_path = str(path)
    session.flush()
    return Publication(draft.id, article_id, action, path, previous)


def approve_draft(
    session: Session,
    draft_id: int,
    *,
    reviewer: User,
    published_dir: Path,
    reindex: Callable[[Session], object],
    mode: ApproveMode = "suggested",
    target_article_id: str | None = None,
    note: str | None = None,
) -> Publication:
    """Publish the draft and re-index incrementally (`reindex` is `bot.kb_service.ingest_configured`
    bound to the settings; front ends pass `reindex_with(settings)`)."""
    publication = publish_draft(
        session,
        draft_id,
        reviewer=reviewer,
        published_dir=published_dir,
        mode=mode,
        target_article_id=target_article_id,
        note=note,
    )
    try:
        report = reindex(session)
        for path, reason in getattr(report, "skipped", None) or []:
            if Path(path).resolve() == publication.path.resolve():
                raise InvalidState(f"the knowledge base did not accept {publication.path.name}: {reason}")
    except Exception:
        publication.undo()  # the caller's transaction rolls the approval back; the file follows
        raise
    return publication


def reindex_with(settings: Settings) -> Callable[[Session], object]:
    """The incremental re-index after approval: the configured sources with `kb_published` on top
    (an approved new version replaces the original article of the same id)."""

    def run(session: Session) -> object:
        from bot.kb_service import ingest_configured  # loads heavy libraries

        return ingest_configured(settings, session)

    return run


def published_dir(settings: Settings) -> Path:
    return settings.data_dir / "kb_published"


def reject_draft(session: Session, draft_id: int, *, reviewer: User, reason: str) -> KBDraft:
    _require_staff(reviewer, "reject KB drafts")
    draft = get_draft(session, draft_id)
    if draft.status is not DraftStatus.DRAFT:
        raise InvalidState(f"draft #{draft.id} is already {draft.status.value}")
    if not reason.strip():
        raise InvalidInput("say why the draft is rejected, so its author can learn from it")
    draft.status = DraftStatus.REJECTED
    draft.reviewer_id = reviewer.id
    draft.reviewed_at = utcnow()
    draft.review_note = reason.strip()
    session.flush()
    return draft


def count_pending(session: Session) -> int:
    return int(session.scalar(select(func.count(KBDraft.id)).where(KBDraft.status == DraftStatus.DRAFT)) or 0)
