"""An approved draft becomes searchable through the real KB pipeline (kb_service + kb_index),
on a tiny KB in tmp_path; a draft on a known topic becomes a new version of that article."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from bot.kb_service import ingest_configured, open_searcher
from bot.learning.drafts import (
    approve_draft,
    create_draft_from_ticket,
    draft_from_ticket,
    published_dir,
    reindex_with,
)
from bot.learning.errors import NotAllowed
from bot.settings import Settings
from models import KBArticle, Role, TicketStatus, utcnow
from tests.conftest import EXAMPLES, TestDatabase
from tests.learning import factories as make

pytestmark = pytest.mark.slow
ARTICLES = ("password-reset.md", "printer-add.md", "vpn-install.md", "office-wifi.md")


@pytest.fixture
def tiny_kb(db: TestDatabase, session: Session, tmp_path: Path) -> Settings:
    sources = tmp_path / "kb"
    sources.mkdir()
    for name in ARTICLES:
        shutil.copy(EXAMPLES / "kb" / name, sources / name)
    settings = Settings(
        database_url=db.url, data_dir=tmp_path / "var", kb_sources=str(sources), kb_encoder="minilm"
    )
    ingest_configured(settings, session)
    session.commit()
    return settings


def test_approved_draft_becomes_searchable(tiny_kb: Settings, session: Session) -> None:
    engineer = make.user(session, "U-eng", role=Role.ENGINEER)
    ticket = make.ticket(
        session,
        "Conference room TV does not show my laptop screen",
        at=utcnow(),
        category="hardware",
        status=TicketStatus.RESOLVED,
        resolution="Press Input on the remote and choose HDMI 2; the USB-C adapter is in the drawer.",
    )
    draft = create_draft_from_ticket(session, ticket, author=engineer, encoder="minilm")
    assert draft.suggested_action == "new"
    query = "meeting room TV won't show my laptop"
    before = open_searcher(tiny_kb).search(query, k=3)
    assert all(h.article_id != draft.proposed_article_id for h in before.hits)

    pub = approve_draft(
        session,
        draft.id,
        reviewer=make.user(session, "U-reviewer", role=Role.ENGINEER),  # not the draft's author
        published_dir=published_dir(tiny_kb),
        reindex=reindex_with(tiny_kb),
    )
    session.commit()
    after = open_searcher(tiny_kb).search(query, k=3)
    assert after.hits[0].article_id == pub.article_id == draft.proposed_article_id
    assert "HDMI 2" in after.hits[0].best.text  # the passage the assistant shows carries the fix
    assert session.get(KBArticle, pub.article_id) is not None


def test_same_topic_draft_adds_a_version_to_the_existing_article(tiny_kb: Settings, session: Session) -> None:
    engineer = make.user(session, "U-eng2", role=Role.ENGINEER)
    ticket = make.ticket(
        session,
        "Password reset page says my phone number is not registered",
        at=utcnow(),
        category="access",
        status=TicketStatus.RESOLVED,
        resolution="Registered the new mobile number for self-service password reset, then the reset worked.",
        body="I tried to reset my password but the page says my phone number is not registered.",
    )
    draft = draft_from_ticket(session, tiny_kb, ticket, author=engineer)  # compares with the index's vectors
    assert draft.similar_article_id == "password-reset"
    assert draft.suggested_action == "update", f"similarity {draft.similarity}"
    before = session.get(KBArticle, "password-reset")
    assert before is not None and before.current_version == 1
    approve_draft(
        session,
        draft.id,
        reviewer=make.user(session, "U-reviewer2", role=Role.ENGINEER),
        published_dir=published_dir(tiny_kb),
        reindex=reindex_with(tiny_kb),
    )
    session.commit()
    session.refresh(before)
    assert before.current_version == 2
    hit = open_searcher(tiny_kb).search("phone number is not registered for password reset", k=1).hits[0]
    assert hit.article_id == "password-reset"
    assert "Registered the new mobile number" in hit.best.text


def test_an_engineer_cannot_publish_their_own_draft(tiny_kb: Settings, session: Session) -> None:
    engineer = make.user(session, "U-eng3", role=Role.ENGINEER)
    ticket = make.ticket(
        session,
        "Docking station does not charge my laptop",
        at=utcnow(),
        category="hardware",
        status=TicketStatus.RESOLVED,
        resolution="Use the 90 W dock; the 65 W one cannot charge this model.",
    )
    draft = create_draft_from_ticket(session, ticket, author=engineer, encoder="minilm")
    with pytest.raises(NotAllowed, match="another engineer or an admin"):
        approve_draft(
            session,
            draft.id,
            reviewer=engineer,
            published_dir=published_dir(tiny_kb),
            reindex=reindex_with(tiny_kb),
        )
    admin = make.user(session, "U-adm", role=Role.ADMIN)
    approve_draft(
        session, draft.id, reviewer=admin, published_dir=published_dir(tiny_kb), reindex=reindex_with(tiny_kb)
    )
