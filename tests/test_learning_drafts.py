"""KB drafts from resolved tickets: nothing is published without approval; approval publishes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy.orm import Session

from bot.learning.drafts import create_draft_from_ticket, edit_draft, list_drafts, publish_draft, reject_draft
from bot.learning.errors import InvalidInput, InvalidState
from bot.workflow.operations import claim, reopen, resolve
from bot.workflow.routing import load_routing
from models import DraftStatus, KBArticle, KBArticleVersion, Role, Ticket, TicketStatus, Tier
from tests.conftest import EXAMPLES
from tests.learning import factories as make
from tests.learning.fakes import BagOfWordsEncoder

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
RESOLUTION = "Open Credential Manager, remove every entry starting with MicrosoftOffice, restart Outlook."


def _front_matter(path: Path) -> tuple[dict[str, object], str]:
    text = path.read_text(encoding="utf-8")
    _, header, body = text.split("---\n", 2)
    return yaml.safe_load(header), body


def _article(
    session: Session, article_id: str, title: str, body: str, source: Path | None = None
) -> KBArticle:
    article = KBArticle(
        id=article_id,
        title=title,
        tags=["email"],
        content_hash=f"h-{article_id}",
        source_path=str(source) if source else None,
    )
    article.versions = [KBArticleVersion(version=1, content_hash=f"h-{article_id}", title=title, body=body)]
    session.add(article)
    session.flush()
    return article


def _resolved(session: Session, subject: str = "Outlook keeps asking for my password") -> Ticket:
    return make.ticket(
        session,
        subject,
        at=NOW,
        category="email",
        status=TicketStatus.RESOLVED,
        resolution=RESOLUTION,
        facts={"device": "Windows laptop", "error_text": "Need password"},
    )


def test_draft_is_written_from_the_ticket_and_pending_until_reviewed(
    session: Session, tmp_path: Path
) -> None:
    engineer = make.user(session, "U-eng", role=Role.ENGINEER, tiers=(Tier.L1,))
    ticket = _resolved(session)
    draft = create_draft_from_ticket(session, ticket, author=engineer, encoder=BagOfWordsEncoder())
    again = create_draft_from_ticket(session, ticket, author=engineer, encoder=BagOfWordsEncoder())
    assert again.id == draft.id
    assert draft.status is DraftStatus.DRAFT
    assert draft.suggested_action == "new" and draft.similar_article_id is None
    assert "**Problem.**" in draft.body and f"**Fix.** {RESOLUTION}" in draft.body
    assert "Windows laptop" in draft.body and "Need password" in draft.body
    assert draft.proposed_article_id == "outlook-keeps-asking-for-my-password"
    assert [d.id for d in list_drafts(session)] == [draft.id]
    assert not (tmp_path / "kb_published").exists()  # nothing is published before approval


def test_only_resolved_tickets_with_a_resolution_become_drafts(session: Session) -> None:
    open_ticket = make.ticket(session, "Printer jammed", at=NOW)
    with pytest.raises(InvalidState, match="resolve it"):
        create_draft_from_ticket(session, open_ticket, author=None, encoder=BagOfWordsEncoder())
    silent = make.ticket(session, "Printer jammed", at=NOW, status=TicketStatus.RESOLVED, resolution="  ")
    with pytest.raises(InvalidInput, match="no resolution"):
        create_draft_from_ticket(session, silent, author=None, encoder=BagOfWordsEncoder())


def test_same_topic_becomes_a_new_version_of_the_existing_article(session: Session, tmp_path: Path) -> None:
    source = tmp_path / "kb" / "outlook-password-prompts.md"
    source.parent.mkdir()
    original = (
        "# Outlook keeps asking for password\n\nOutlook asking for my password again: sign out and in.\n"
    )
    source.write_text(
        "---\nid: outlook-password-prompts\ntitle: Outlook keeps asking for password\n---\n" + original
    )
    _article(session, "outlook-password-prompts", "Outlook keeps asking for password", original, source)
    _article(session, "printer-jam", "Clear a paper jam", "Open tray 2 and remove the paper.")
    reviewer = make.user(session, "U-admin", role=Role.ADMIN)
    draft = create_draft_from_ticket(
        session, _resolved(session), author=None, encoder=BagOfWordsEncoder(), same_topic=0.5
    )
    assert draft.suggested_action == "update"
    assert draft.similar_article_id == "outlook-password-prompts"
    assert draft.similarity is not None and draft.similarity >= 0.5

    published = tmp_path / "kb_published"
    pub = publish_draft(session, draft.id, reviewer=reviewer, published_dir=published)
    assert pub.action == "update" and pub.article_id == "outlook-password-prompts"
    meta, body = _front_matter(pub.path)
    assert meta["id"] == "outlook-password-prompts"
    assert meta["source_ticket"] == draft.ticket.number
    assert "sign out and in" in body  # the article keeps what it said
    assert RESOLUTION in body  # and gains the fix
    assert draft.status is DraftStatus.APPROVED and draft.reviewer_id == reviewer.id
    with pytest.raises(InvalidState, match="already approved"):
        publish_draft(session, draft.id, reviewer=reviewer, published_dir=published)


def test_reviewer_can_publish_as_new_and_rejection_needs_a_reason(session: Session, tmp_path: Path) -> None:
    reviewer = make.user(session, "U-admin2", role=Role.ADMIN)
    first = create_draft_from_ticket(session, _resolved(session), author=None, encoder=BagOfWordsEncoder())
    published = tmp_path / "kb_published"
    pub = publish_draft(session, first.id, reviewer=reviewer, published_dir=published, mode="new")
    meta, _ = _front_matter(pub.path)
    assert meta == {
        "id": first.proposed_article_id,
        "title": "Outlook keeps asking for my password",
        "tags": ["email"],
        "audience": "public",
        "source_ticket": first.ticket.number,
    }
    second = create_draft_from_ticket(
        session, _resolved(session, "Teams camera black"), author=None, encoder=BagOfWordsEncoder()
    )
    with pytest.raises(InvalidInput, match="why"):
        reject_draft(session, second.id, reviewer=reviewer, reason=" ")
    reject_draft(session, second.id, reviewer=reviewer, reason="duplicate of the Teams article")
    assert second.status is DraftStatus.REJECTED
    with pytest.raises(InvalidState, match="rejected"):
        publish_draft(session, second.id, reviewer=reviewer, published_dir=published)
    assert sorted(p.name for p in published.iterdir()) == [f"{first.proposed_article_id}.md"]


def test_reviewer_edits_reach_the_published_file_and_bad_edits_are_refused(
    session: Session, tmp_path: Path
) -> None:
    reviewer = make.user(session, "U-admin3", role=Role.ADMIN)
    draft = create_draft_from_ticket(session, _resolved(session), author=None, encoder=BagOfWordsEncoder())
    with pytest.raises(InvalidInput, match="title"):
        edit_draft(session, draft.id, editor=reviewer, title="  ")
    with pytest.raises(InvalidInput, match="public or internal"):
        edit_draft(session, draft.id, editor=reviewer, audience="everyone")
    edit_draft(
        session,
        draft.id,
        editor=reviewer,
        title="Outlook asks for your password again and again",
        body="# Outlook password prompts\n\n**Fix.** Clear saved Office credentials.",
        audience="internal",
        tags=["email", "outlook"],
    )
    pub = publish_draft(session, draft.id, reviewer=reviewer, published_dir=tmp_path / "pub", mode="new")
    meta, body = _front_matter(pub.path)
    assert meta["title"] == "Outlook asks for your password again and again"
    assert meta["audience"] == "internal" and meta["tags"] == ["email", "outlook"]
    assert "Clear saved Office credentials." in body and RESOLUTION not in body
    with pytest.raises(InvalidState, match="approved"):
        edit_draft(session, draft.id, editor=reviewer, title="late")


def test_a_draft_whose_ticket_was_reopened_is_not_published_and_a_new_one_carries_the_new_fix(
    session: Session, tmp_path: Path
) -> None:
    routing = load_routing(EXAMPLES / "routing.yml")
    engineer = make.user(session, "U-eng-r", role=Role.ENGINEER, tiers=(Tier.L1,))
    reviewer = make.user(session, "U-admin-r", role=Role.ADMIN)
    ticket = _resolved(session)
    ticket.assignee_id = engineer.id
    stale = create_draft_from_ticket(session, ticket, author=engineer, encoder=BagOfWordsEncoder())
    reopen(session, ticket, actor=engineer, routing=routing, reason="Outlook asks again", now=NOW)
    published = tmp_path / "kb_published"
    with pytest.raises(InvalidState, match=r"reopened.*did not hold"):
        publish_draft(session, stale.id, reviewer=reviewer, published_dir=published)
    assert not published.exists()

    claim(session, ticket, actor=engineer, now=NOW)
    resolve(
        session, ticket, actor=engineer, resolution="Re-create the Outlook profile.", routing=routing, now=NOW
    )
    with pytest.raises(InvalidState, match="reopened"):  # resolved again, but this draft has the old fix
        publish_draft(session, stale.id, reviewer=reviewer, published_dir=published)
    fresh = create_draft_from_ticket(session, ticket, author=engineer, encoder=BagOfWordsEncoder())
    assert fresh.id != stale.id and "Re-create the Outlook profile." in fresh.body
    assert stale.status is DraftStatus.REJECTED and "reopened" in (stale.review_note or "")
    assert [d.id for d in list_drafts(session)] == [fresh.id]
    pub = publish_draft(session, fresh.id, reviewer=reviewer, published_dir=published)
    assert "Re-create the Outlook profile." in pub.path.read_text(encoding="utf-8")
