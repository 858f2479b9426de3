"""KB drafts never publish personal data or internal text: scrubbed when written, refused at approval."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy.orm import Session

from bot.learning.drafts import create_draft_from_ticket, edit_draft, publish_draft
from bot.learning.errors import InvalidState
from bot.learning.privacy import personal_data_in, scrub
from bot.learning.similar import link_duplicate
from models import KBArticle, KBArticleVersion, Role, Ticket, TicketStatus, Tier
from tests.learning import factories as make
from tests.learning.fakes import BagOfWordsEncoder

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def _front_matter(path: Path) -> tuple[dict[str, object], str]:
    _, header, body = path.read_text(encoding="utf-8").split("---\n", 2)
    return yaml.safe_load(header), body


def _chatty_ticket(session: Session) -> Ticket:
    requester = make.user(session, "U0JOHN")
    requester.display_name = "John Smith"
    engineer = make.user(session, "U0PRIYA", role=Role.ENGINEER, tiers=(Tier.L1,))
    engineer.display_name = "Priya Patel"
    ticket = make.ticket(
        session,
        "Hi I am John Smith john.smith@acme.com",
        at=NOW,
        requester=requester,
        status=TicketStatus.RESOLVED,
        body=(
            "VPN drops every few minutes, call me on +44 20 7946 0958 or ping <@U024BE7LH> in "
            "<#C024BE7LH|it-help>. Client 16.0.17029.20140, since 2026-11-20 10:00, IP 10.0.0.12."
        ),
        resolution="Priya Patel reset the VPN profile; John should then reinstall client 5.2.1.",
        facts={"error_text": "Contact jsmith@acme.com (error 0x80070005)"},
    )
    ticket.assignee_id = engineer.id
    session.flush()
    return ticket


def test_draft_from_a_chatty_ticket_holds_no_personal_data(session: Session, tmp_path: Path) -> None:
    ticket = _chatty_ticket(session)
    draft = create_draft_from_ticket(session, ticket, author=None, encoder=BagOfWordsEncoder())
    text = f"{draft.title}\n{draft.body}\n{draft.proposed_article_id}"
    for personal in ("John", "Smith", "john", "acme", "7946", "U024BE7LH", "it-help", "Priya", "Patel"):
        assert personal not in text, personal
    assert draft.title == "Hi I am [name] [email address]"
    assert draft.proposed_article_id == "hi-i-am"
    # What the fix needs survives: versions, dates, addresses of machines, error codes.
    for kept in ("16.0.17029.20140", "2026-11-20 10:00", "10.0.0.12", "0x80070005", "5.2.1"):
        assert kept in draft.body, kept
    assert "[name] should then reinstall" in draft.body

    reviewer = make.user(session, "U-admin", role=Role.ADMIN)
    pub = publish_draft(session, draft.id, reviewer=reviewer, published_dir=tmp_path / "pub", mode="new")
    meta, body = _front_matter(pub.path)
    assert pub.path.name == "hi-i-am.md" and meta["title"] == draft.title
    assert "acme" not in body and "Smith" not in body


def test_approval_refuses_personal_data_put_back_by_an_edit(session: Session, tmp_path: Path) -> None:
    ticket = _chatty_ticket(session)
    reviewer = make.user(session, "U-admin", role=Role.ADMIN)
    draft = create_draft_from_ticket(session, ticket, author=None, encoder=BagOfWordsEncoder())
    edit_draft(session, draft.id, editor=reviewer, body=draft.body + "\nAsk John Smith on 020 7946 0958.")
    with pytest.raises(InvalidState, match="still contains a phone number, the name of a person"):
        publish_draft(session, draft.id, reviewer=reviewer, published_dir=tmp_path / "pub", mode="new")
    assert not (tmp_path / "pub").exists() or not any((tmp_path / "pub").iterdir())  # nothing published
    edit_draft(session, draft.id, editor=reviewer, body=draft.body.replace("Ask John Smith", "Ask IT"))
    with pytest.raises(InvalidState, match="still contains a phone number;"):
        publish_draft(session, draft.id, reviewer=reviewer, published_dir=tmp_path / "pub", mode="new")


def test_scrubbing_leaves_ordinary_words_that_look_like_parts_of_a_name() -> None:
    assert scrub("Will restart, then mark it done", ["Will Mark"]) == "[name] restart, then mark it done"
    assert scrub("Mail <@U1ABC|bob> or bob@x.org", []) == "Mail [user] or [email address]"
    # a shared mailbox is where an article sends everyone, not anyone's personal data
    assert scrub("write to ServiceDesk@acme.com or it-support@acme.com", []) == (
        "write to ServiceDesk@acme.com or it-support@acme.com"
    )
    assert personal_data_in("write to helpdesk@acme.com") == []
    assert personal_data_in("IT-1042 since 2026-11-20 10:00 on 192.168.1.20") == []


def _public_article(session: Session) -> None:
    body = "# Outlook keeps asking for password\n\nOutlook asking for my password again: sign out and in.\n"
    article = KBArticle(
        id="outlook-password-prompts", title="Outlook keeps asking for password", content_hash="h", tags=[]
    )
    article.versions = [KBArticleVersion(version=1, content_hash="h", title=article.title, body=body)]
    session.add(article)
    session.flush()


def test_internal_draft_never_joins_a_public_article(session: Session, tmp_path: Path) -> None:
    _public_article(session)
    reviewer = make.user(session, "U-admin", role=Role.ADMIN)
    ticket = make.ticket(
        session,
        "Outlook keeps asking for my password",
        at=NOW,
        status=TicketStatus.RESOLVED,
        resolution="Internal: reset the user's token in the Entra admin portal.",
    )
    draft = create_draft_from_ticket(
        session, ticket, author=None, encoder=BagOfWordsEncoder(), same_topic=0.5, audience="internal"
    )
    assert draft.suggested_action == "update"
    with pytest.raises(InvalidState, match="internal and outlook-password-prompts is public"):
        publish_draft(
            session,
            draft.id,
            reviewer=reviewer,
            published_dir=tmp_path / "pub",
            target_article_id="outlook-password-prompts",
        )
    pub = publish_draft(session, draft.id, reviewer=reviewer, published_dir=tmp_path / "pub")
    meta, body = _front_matter(pub.path)
    assert pub.action == "new" and pub.article_id != "outlook-password-prompts"
    assert meta["audience"] == "internal" and "Entra admin portal" in body
    assert [p.name for p in (tmp_path / "pub").iterdir()] == [f"{pub.article_id}.md"]


def test_a_ticket_resolved_as_a_duplicate_makes_no_draft(session: Session) -> None:
    original = make.ticket(session, "VPN down", at=NOW, status=TicketStatus.RESOLVED, resolution="Fixed.")
    dup = make.ticket(session, "VPN down again", at=NOW, status=TicketStatus.RESOLVED, resolution="Dup.")
    link_duplicate(session, dup, original, actor=None)
    with pytest.raises(InvalidState, match=f"duplicate of {original.number}"):
        create_draft_from_ticket(session, dup, author=None, encoder=BagOfWordsEncoder())
    assert create_draft_from_ticket(session, original, author=None, encoder=BagOfWordsEncoder()).id


def test_names_shown_with_a_tier_or_role_are_scrubbed_too(session: Session, tmp_path: Path) -> None:
    # Display names as the demo and many directories write them: "Alice (L1)", "O'Brien, Sean".
    engineer = make.user(session, "cli:alice", role=Role.ENGINEER, tiers=(Tier.L1,))
    engineer.display_name = "Alice (L1)"
    requester = make.user(session, "U0SEAN")
    requester.display_name = "O'Brien, Sean"
    ticket = make.ticket(
        session,
        "Label printer prints blank labels",
        at=NOW,
        requester=requester,
        status=TicketStatus.RESOLVED,
        resolution="Hold FEED to recalibrate. Alice did it remotely; Sean O'Brien can call Alice again.",
    )
    ticket.assignee_id = engineer.id
    session.flush()
    draft = create_draft_from_ticket(session, ticket, author=None, encoder=BagOfWordsEncoder())
    for personal in ("Alice", "Sean", "O'Brien"):
        assert personal not in draft.body, personal
    assert "Hold FEED to recalibrate." in draft.body
    reviewer = make.user(session, "U-admin", role=Role.ADMIN)
    edit_draft(session, draft.id, editor=reviewer, body=draft.body + "\nAsk Alice.")
    with pytest.raises(InvalidState, match="the name of a person on the ticket"):
        publish_draft(session, draft.id, reviewer=reviewer, published_dir=tmp_path / "pub", mode="new")
