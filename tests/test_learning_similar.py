"""Similar tickets for the engineer card, and linking duplicates."""

from __future__ import annotations

import csv
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.learning.embeddings import warm_embeddings
from bot.learning.errors import InvalidInput, NotAllowed
from bot.learning.similar import duplicates_of, link_duplicate, similar_tickets
from kb_index.encoders import load_encoder
from models import Role, TicketEvent, TicketStatus, Tier
from tests.conftest import TestDatabase, shared_path
from tests.learning import factories as make
from tests.learning.fakes import BagOfWordsEncoder

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def test_card_shows_open_and_recently_resolved_similar_tickets_with_resolutions(session: Session) -> None:
    enc = BagOfWordsEncoder()
    resolved = make.ticket(
        session,
        "Shared mailbox missing from Outlook",
        at=NOW - timedelta(days=10),
        status=TicketStatus.RESOLVED,
        resolution="Granted full access; automapping adds it within an hour.",
    )
    open_one = make.ticket(session, "Shared mailbox not showing in Outlook", at=NOW - timedelta(hours=3))
    make.ticket(
        session,
        "Shared mailbox missing in Outlook",
        at=NOW - timedelta(days=400),
        status=TicketStatus.CLOSED,
        resolution="too old to matter",
    ).closed_at = NOW - timedelta(days=399)
    make.ticket(session, "Printer jammed on floor 2", at=NOW - timedelta(hours=1))
    new = make.ticket(session, "Shared mailbox missing from my Outlook", at=NOW)

    found = similar_tickets(session, new, k=3, encoder=enc, now=NOW)

    assert [s.number for s in found] == [resolved.number, open_one.number]
    assert found[0].resolution == "Granted full access; automapping adds it within an hour."
    assert not found[0].is_open and found[1].is_open
    assert found[0].similarity >= found[1].similarity


def test_no_candidates_gives_an_empty_list(session: Session) -> None:
    new = make.ticket(session, "Anything at all", at=NOW)
    assert similar_tickets(session, new, encoder=BagOfWordsEncoder(), now=NOW) == []


def test_linking_a_duplicate_is_recorded_on_both_tickets_and_idempotent(session: Session) -> None:
    engineer = make.user(session, "U-eng", role=Role.ENGINEER, tiers=(Tier.L1,))
    original = make.ticket(session, "VPN down", at=NOW - timedelta(hours=1))
    dup = make.ticket(session, "VPN not working", at=NOW)
    first = link_duplicate(session, dup, original, actor=engineer)
    again = link_duplicate(session, dup, original, actor=engineer)
    session.commit()
    assert first.id == again.id
    assert [t.number for t in duplicates_of(session, original)] == [dup.number]
    kinds = {
        (e.ticket_id, e.kind, e.internal)
        for e in session.scalars(select(TicketEvent).where(TicketEvent.kind == "linked"))
    }
    assert kinds == {(dup.id, "linked", True), (original.id, "linked", True)}


def test_linking_refuses_self_and_reverse_cycles(session: Session) -> None:
    a = make.ticket(session, "A", at=NOW)
    b = make.ticket(session, "B", at=NOW)
    with pytest.raises(InvalidInput, match="itself"):
        link_duplicate(session, a, a, actor=None)
    link_duplicate(session, a, b, actor=None)
    with pytest.raises(InvalidInput, match="already marked"):
        link_duplicate(session, b, a, actor=None)


@pytest.mark.slow
def test_real_model_ranks_the_paraphrase_above_same_category_noise(session: Session) -> None:
    fix = make.ticket(
        session,
        "Outlook keeps asking for my password",
        at=NOW - timedelta(days=3),
        category="email",
        status=TicketStatus.RESOLVED,
        resolution="Removed stale credentials from Credential Manager.",
    )
    make.ticket(
        session,
        "Need a new distribution list for the sales team",
        at=NOW - timedelta(days=1),
        category="email",
    )
    make.ticket(session, "Calendar invites arrive an hour late", at=NOW - timedelta(days=2), category="email")
    new = make.ticket(session, "Outlook password prompt pops up again and again", at=NOW, category="email")
    found = similar_tickets(session, new, k=3, encoder="minilm", now=NOW)
    assert found and found[0].number == fix.number


def test_a_cold_cache_costs_the_card_a_bounded_number_of_encodings(session: Session) -> None:
    enc = BagOfWordsEncoder()
    for i in range(10):
        make.ticket(session, f"Shared mailbox missing case {i}", at=NOW - timedelta(hours=i + 1))
    new = make.ticket(session, "Shared mailbox missing", at=NOW)
    first = similar_tickets(session, new, k=10, encoder=enc, now=NOW, max_fresh=3)
    assert len(first) == 3
    assert enc.texts_encoded == 1 + 3  # the new ticket and three candidates
    assert warm_embeddings(session, enc, limit=100) == 7  # the worker fills in the rest
    assert len(similar_tickets(session, new, k=10, encoder=enc, now=NOW, max_fresh=0)) == 10


@pytest.mark.slow
@pytest.mark.shared
def test_similar_tickets_on_real_helpdesk_mail_share_the_category_far_above_chance(
    db: TestDatabase, session: Session
) -> None:
    """200 real (anonymised) helpdesk e-mails: the most similar ticket shares the category much
    more often than two random tickets do (measured on the same sample, not a number typed in)."""
    if db.backend != "sqlite":
        pytest.skip("the real-model quality check runs once; both backends run the plumbing tests")
    path = shared_path("data", "tickets", "endava_topics.csv")
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    random.Random(3).shuffle(rows)
    tickets = [
        make.ticket(
            session, r["text"][:120], body=r["text"], category=r["category"], at=NOW - timedelta(hours=i)
        )
        for i, r in enumerate(rows[:200])
    ]
    warm_embeddings(session, load_encoder("minilm"), limit=len(tickets))  # as the worker would have
    agree = 0
    for ticket in tickets:
        top = similar_tickets(session, ticket, k=1, encoder="minilm", now=NOW, min_similarity=-1.0)
        agree += int(top[0].category == ticket.category)
    share = Counter(t.category for t in tickets)
    chance = sum((n / len(tickets)) ** 2 for n in share.values())
    assert agree / len(tickets) > 2 * chance


def test_only_staff_mark_duplicates_and_a_duplicate_has_one_original(session: Session) -> None:
    engineer = make.user(session, "U-eng-d", role=Role.ENGINEER, tiers=(Tier.L1,))
    requester = make.user(session, "U-req-d")
    original = make.ticket(session, "VPN down", at=NOW - timedelta(hours=2))
    dup = make.ticket(session, "VPN not working", at=NOW - timedelta(hours=1))
    third = make.ticket(session, "VPN broken", at=NOW)
    with pytest.raises(NotAllowed, match="only engineers and admins"):
        link_duplicate(session, dup, original, actor=requester)
    link_duplicate(session, dup, original, actor=engineer)
    # A duplicate of a duplicate would hide where the work happens: name the original instead.
    with pytest.raises(InvalidInput, match=f"itself a duplicate of {original.number}"):
        link_duplicate(session, third, dup, actor=engineer)
    with pytest.raises(InvalidInput, match=f"already marked as a duplicate of {original.number}"):
        link_duplicate(session, dup, third, actor=engineer)
    link_duplicate(session, third, original, actor=engineer)
    assert [t.number for t in duplicates_of(session, original)] == [dup.number, third.number]
    assert duplicates_of(session, dup) == [] and duplicates_of(session, third) == []
