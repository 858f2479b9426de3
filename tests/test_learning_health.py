"""KB health: weak articles rank first by the documented score; unanswered questions become gaps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from bot.learning.health import article_health, health_score, kb_gaps
from models import KBArticle, KBArticleVersion
from tests.learning import factories as make
from tests.learning.fakes import BagOfWordsEncoder
from tests.learning.seed import add_conversation

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
SINCE = NOW - timedelta(days=30)


def _articles(session: Session, *ids: str, updated: datetime = NOW) -> None:
    for article_id in ids:
        article = KBArticle(id=article_id, title=article_id.replace("-", " "), content_hash=article_id)
        article.versions = [
            KBArticleVersion(
                version=1, content_hash=article_id, title=article_id, body="b", created_at=updated
            )
        ]
        session.add(article)
    session.flush()


def test_articles_are_ranked_weakest_first_with_their_outcomes(session: Session) -> None:
    _articles(session, "vpn-install", "printer-add", "unused-article")
    _articles(session, "old-article", updated=NOW - timedelta(days=400))
    person = make.user(session, "U-h")
    plan = [  # (article, feedback, handoff) as the engine records them
        *[("vpn-install", "solved", False)] * 4,
        ("vpn-install", None, False),  # shown, never rated
        *[("printer-add", "not_solved", True)] * 3,  # Not solved opens a ticket
        ("printer-add", "human", True),  # "talk to a person"
        ("printer-add", "solved", False),
        ("old-article", "solved", False),
    ]
    for i, (article, feedback, handoff) in enumerate(plan):
        add_conversation(
            session,
            person,
            key=f"h{i}",
            question=f"q{i}",
            at=NOW - timedelta(days=1, minutes=i),
            answer_article=article,
            feedback=feedback,
            handoff=handoff,
        )
    rows = {r.article_id: r for r in article_health(session, since=SINCE, until=NOW)}
    ranked = [r.article_id for r in article_health(session, since=SINCE, until=NOW)]

    printer, vpn = rows["printer-add"], rows["vpn-install"]
    assert (printer.shown, printer.solved, printer.not_solved, printer.handoffs) == (5, 1, 3, 4)
    assert (vpn.shown, vpn.solved, vpn.not_solved, vpn.handoffs) == (5, 4, 0, 0)
    assert printer.score == health_score(solved=1, failed=4)
    assert ranked[0] == "printer-add"
    assert ranked.index("printer-add") < ranked.index("old-article") < ranked.index("vpn-install")
    assert ranked[-1] == "unused-article" and rows["unused-article"].shown == 0
    assert rows["old-article"].stale and not vpn.stale


def test_score_is_neutral_without_evidence_and_moves_with_it() -> None:
    assert health_score(0, 0) == 0.5
    assert health_score(0, 3) < health_score(1, 3) < health_score(3, 1) < health_score(9, 1)


def test_unanswered_questions_are_clustered_into_gaps_by_count(session: Session) -> None:
    person = make.user(session, "U-g")
    questions = [
        ("How do I book a meeting room display", None),
        ("book meeting room display how", None),
        ("meeting room display booking", None),
        ("Parking badge stopped working", None),
        ("VPN install steps", "vpn-install"),  # answered: not a gap
    ]
    for i, (question, article) in enumerate(questions):
        add_conversation(
            session,
            person,
            key=f"g{i}",
            question=question,
            at=NOW - timedelta(hours=i + 1),
            answer_article=article,
            feedback=None,
            handoff=article is None,
        )
    gaps = kb_gaps(session, since=SINCE, until=NOW, encoder=BagOfWordsEncoder(), similarity=0.5)
    assert [g.count for g in gaps] == [3, 1]
    assert "meeting room display" in gaps[0].representative.lower()
    assert gaps[1].representative == "Parking badge stopped working"
    assert all("VPN" not in g.representative for g in gaps)


def test_kb_gaps_quote_questions_without_the_requesters_address_or_number(session: Session) -> None:
    person = make.user(session, "U-g2")
    for i, question in enumerate(
        [
            "Parking badge stopped working, mail me at ann.lee@acme.com",
            "parking badge stopped working +44 20 7946 0958",
        ]
    ):
        add_conversation(
            session,
            person,
            key=f"p{i}",
            question=question,
            at=NOW - timedelta(hours=i + 1),
            answer_article=None,
            feedback=None,
            handoff=True,
        )
    [gap] = kb_gaps(session, since=SINCE, until=NOW, encoder=BagOfWordsEncoder(), similarity=0.3)
    quoted = " ".join([gap.representative, *gap.examples])
    assert gap.count == 2 and "Parking badge stopped working" in quoted
    assert "acme" not in quoted and "7946" not in quoted
    assert "[email address]" in quoted and "[phone number]" in quoted
