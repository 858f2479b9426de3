"""The learning loop as the Slack app uses it, with the thresholds from Settings.

One object built at start-up (`LearningHooks.from_settings`) holds the encoder and the settings, so
listeners and the notifier call `similar`, `draft`, `approve`, `declare` and `dashboard_lines`
without knowing a threshold. Similar tickets and the dashboard are extras on a card or a view: when
they fail, the failure is logged and the card still goes out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from bot.learning import dashboard, drafts, incidents, similar
from bot.learning.drafts import ArticleVectors, Publication
from bot.learning.errors import InvalidState
from bot.learning.similar import SimilarTicket
from bot.settings import Settings
from bot.slack.text import escape
from kb_index.encoders import Encoder
from models import KBDraft, MajorIncident, Ticket, User

log = logging.getLogger(__name__)

SIMILAR_ON_CARD = 3
DEFAULT_INCIDENT_MESSAGE = (
    "We know about this problem and are working on it. You don't need to report it again; "
    "we will post updates here."
)


@dataclass
class LearningHooks:
    settings: Settings
    # A name ("minilm") loads the shared encoder on first use; tests pass a small fake.
    encoder: Encoder | str
    # The live index's chunk vectors for comparing a draft with the KB (None: embed the articles).
    kb_vectors: Callable[[], ArticleVectors | None] = lambda: None
    reindex: Callable[[Session], object] | None = None
    published_dir: Path | None = None

    @classmethod
    def from_settings(cls, settings: Settings, encoder: Encoder | None = None) -> LearningHooks:
        return cls(
            settings=settings,
            encoder=encoder or settings.kb_encoder,
            kb_vectors=lambda: drafts.index_vectors(settings),
            reindex=drafts.reindex_with(settings),
            published_dir=drafts.published_dir(settings),
        )

    # ------------------------------------------------------------------ engineer card
    def similar(self, session: Session, ticket: Ticket) -> list[SimilarTicket]:
        """Up to 3 similar open or recently resolved tickets; [] (logged) when anything fails."""
        try:
            with session.begin_nested():  # a failed embedding write must not spoil the card's transaction
                return similar.similar_tickets(
                    session,
                    ticket,
                    k=SIMILAR_ON_CARD,
                    encoder=self.encoder,
                    min_similarity=self.settings.similar_min,
                    resolved_within=timedelta(days=self.settings.similar_resolved_days),
                )
        except Exception:
            log.exception("similar tickets for %s failed; the card goes out without them", ticket.number)
            return []

    # ------------------------------------------------------------------ KB drafts
    def draft(self, session: Session, ticket: Ticket, author: User) -> KBDraft:
        return drafts.create_draft_from_ticket(
            session,
            ticket,
            author=author,
            encoder=self.encoder,
            same_topic=self.settings.kb_same_topic,
            kb=self.kb_vectors(),
        )

    def approve(self, session: Session, draft_id: int, reviewer: User) -> Publication:
        if self.reindex is None or self.published_dir is None:
            raise InvalidState("publishing is not configured here; use `tierline kb drafts approve`")
        return drafts.approve_draft(
            session, draft_id, reviewer=reviewer, published_dir=self.published_dir, reindex=self.reindex
        )

    # ------------------------------------------------------------------ major incidents
    def declare(
        self, session: Session, alert_id: int, actor: User, *, title: str = "", message: str = ""
    ) -> MajorIncident:
        return incidents.declare_incident(
            session,
            actor=actor,
            title=title,
            message=message or DEFAULT_INCIDENT_MESSAGE,
            alert_id=alert_id,
        )

    # ------------------------------------------------------------------ App Home
    def dashboard_lines(self, session: Session) -> list[str]:
        """The learning loop's figures (alerts, incidents, drafts waiting); [] (logged) on failure.
        Escaped: alert summaries and KB gaps are people's own words, which must not become
        links or @channel pings in an admin's view."""
        try:
            with session.begin_nested():
                return [escape(line) for line in dashboard.dashboard_lines(session)]
        except Exception:
            log.exception("learning dashboard failed; the home view goes out without it")
            return []
