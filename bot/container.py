"""Composition root: builds every long-lived service once from the one Settings object.

Front ends (terminal chat, Slack app, worker, CLI) ask the container for what they need; nothing
below `bot/` reads the environment. Services that are expensive to build (the embedding model,
the classifier) are built on first use, so `tierline tickets list` stays quick.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import Engine as SAEngine
from sqlalchemy.orm import Session, sessionmaker

from bot.desk import WorkflowDesk
from bot.engine import Engine, KnowledgeSearcher
from bot.learning.incidents import IncidentMatcher
from bot.settings import Settings
from bot.triage import TriageService, load_triage
from bot.workflow.routing import Routing, load_routing
from kb_index.errors import KBError
from models.db import make_engine, make_session_factory

log = logging.getLogger(__name__)


@dataclass
class Container:
    settings: Settings
    warnings: list[str] = field(default_factory=list)

    @cached_property
    def db_engine(self) -> SAEngine:
        return make_engine(self.settings.database_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return make_session_factory(self.db_engine)

    @cached_property
    def routing(self) -> Routing:
        return load_routing(self.settings.routing_file)

    @cached_property
    def searcher(self) -> KnowledgeSearcher | None:
        """The KB searcher, or None (with a warning) when no index has been built yet."""
        from bot.kb_service import open_searcher

        try:
            return open_searcher(self.settings)
        except KBError as exc:
            self.warnings.append(str(exc))
            log.warning("knowledge base unavailable: %s", exc)
            return None

    @cached_property
    def triage(self) -> TriageService:
        return load_triage(self.settings, self.sessions)

    @cached_property
    def desk(self) -> WorkflowDesk:
        return WorkflowDesk(self.routing, ticket_prefix=self.settings.ticket_prefix)

    @cached_property
    def engine(self) -> Engine:
        return Engine(
            searcher=self.searcher,
            triage=self.triage,
            desk=self.desk,
            answer_threshold=self.settings.kb_answer_threshold,
            top_k=self.settings.kb_top_k,
            known_issues=self.known_issues,
        )

    @cached_property
    def known_issues(self) -> IncidentMatcher:
        """Links new tickets to active major incidents; loads the encoder only once one is active."""
        return IncidentMatcher(self.settings.kb_encoder, self.settings.incident_join_similarity)

    def close(self) -> None:
        if "db_engine" in self.__dict__:
            self.db_engine.dispose()


def build_container(settings: Settings) -> Container:
    return Container(settings)
