"""Triage at serving time, and the store API for an engineer's corrections.

`TriageService` wraps the active classifier model: category and priority with calibrated
confidence, abstention below per-head thresholds ("needs triage" goes to L1), ITIL priority when
impact and urgency are known, and outage wording raising a guess otherwise. It polls the registry
cheaply and swaps in a newly promoted model without a restart; a model that fails verification is
refused (logged once) and serving continues on the last good one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.settings import Settings
from classifier.errors import ArtifactError
from classifier.facts import extract_facts as _extract_facts
from classifier.facts import merge_facts
from classifier.labels import OTHER
from classifier.model import CATEGORY, PRIORITY, TriageModel, load_model
from classifier.priority import DEFAULT_MATRIX, PriorityMatrix, decide_priority
from classifier.types import NEEDS_TRIAGE, Facts, HeadPrediction, TriagePrediction
from models import ClassifierModel, Priority, Role, Ticket, TicketEvent, User

log = logging.getLogger(__name__)

DEFAULT_PRIORITY = Priority.MEDIUM.value
ALTERNATIVES = 3


class TriageError(Exception):
    """Base class of triage errors shown to people (bad correction, not allowed)."""


class NotAllowedError(TriageError):
    """Only engineers and admins may correct a ticket's triage."""


class InvalidCorrectionError(TriageError):
    """The corrected label is not acceptable (unknown priority, empty category, nothing to change)."""


def extract_facts(text: str) -> Facts:
    """Device, software version, error text, impact and urgency stated in `text` (None when not)."""
    return _extract_facts(text)


class TriageService:
    """Category and priority for a handoff, from whichever model the registry marks active."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        category_threshold: float,
        priority_threshold: float,
        matrix: PriorityMatrix = DEFAULT_MATRIX,
        reload_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self.category_threshold = category_threshold
        self.priority_threshold = priority_threshold
        self.matrix = matrix
        self.reload_interval = reload_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._model: TriageModel | None = None
        self._checked_at: float | None = None
        self._refused: set[tuple[str, str]] = set()
        self.last_error: str | None = None

    @property
    def model(self) -> TriageModel | None:
        """The model in use after the latest registry check (None: no usable model yet)."""
        self.refresh()
        return self._model

    def refresh(self, force: bool = False) -> None:
        """Load the registry's active model if it changed; at most once per `reload_interval`."""
        now = self._clock()
        if not force and self._checked_at is not None and now - self._checked_at < self.reload_interval:
            return
        with self._lock:
            if not force and self._checked_at is not None and now - self._checked_at < self.reload_interval:
                return
            self._checked_at = now
            try:
                with self._sessions() as session:
                    row = session.execute(
                        select(ClassifierModel.version, ClassifierModel.path).where(
                            ClassifierModel.active.is_(True)
                        )
                    ).first()
            except SQLAlchemyError as exc:  # the registry is unreachable: keep serving what we have
                log.warning("cannot check the classifier registry (%s); keeping the current model", exc)
                return
            if row is None:
                self._model = None
                return
            version, path = row
            if self._model is not None and self._model.version == version:
                return
            if (version, path) in self._refused:
                return
            try:
                model = load_model(Path(path))
                if model.version != version:
                    raise ArtifactError(
                        f"{path} holds model {model.version}, but the registry expects {version}"
                    )
            except ArtifactError as exc:
                self._refused.add((version, path))
                self.last_error = str(exc)
                kept = self._model.version if self._model else "none (rules only)"
                log.error("refusing classifier model %s: %s; still serving %s", version, exc, kept)
                return
            self._model = model
            self.last_error = None
            log.info("classifier model %s loaded from %s", version, path)

    def extract_facts(self, text: str) -> Facts:
        return extract_facts(text)

    def triage(self, text: str, facts: Facts | None = None) -> TriagePrediction:
        """Category and priority for `text`; answers in `facts` (e.g. impact, urgency) take precedence."""
        known = merge_facts(facts, extract_facts(text))
        model = self.model
        ranked = model.rank(text) if model is not None else {}

        if CATEGORY in ranked:
            (label, confidence), *rest = ranked[CATEGORY]
            # "other" holds the queues too rare to learn: it is no queue to route to, however
            # sure the model is, so the ticket goes to triage like an abstention.
            abstained = confidence < self.category_threshold or label == OTHER
            queues = [r for r in ranked[CATEGORY] if r[0] != OTHER]
            alternatives = tuple(queues[: ALTERNATIVES + 1]) if abstained else tuple(rest[:ALTERNATIVES])
            category = HeadPrediction(
                label=NEEDS_TRIAGE if abstained else label,
                confidence=confidence,
                abstained=abstained,
                alternatives=alternatives,
            )
        else:
            category = HeadPrediction(label=NEEDS_TRIAGE, confidence=0.0, abstained=True)

        if PRIORITY in ranked:
            (model_priority, p_conf), *p_rest = ranked[PRIORITY]
            p_abstained = p_conf < self.priority_threshold
            base = DEFAULT_PRIORITY if p_abstained else model_priority
            basis = f"model unsure ({model_priority} at {p_conf:.2f}), default" if p_abstained else "model"
        else:
            p_conf, p_rest, p_abstained, base = 0.0, [], True, DEFAULT_PRIORITY
            basis = "no priority model, default"
        final, reason, by_matrix = decide_priority(
            base, text, known.impact, known.urgency, self.matrix, basis
        )
        priority = HeadPrediction(
            label=final,
            confidence=1.0 if by_matrix else p_conf,
            abstained=p_abstained and not by_matrix,
            alternatives=tuple(p_rest[:ALTERNATIVES]),
        )
        return TriagePrediction(
            category=category,
            priority=priority,
            model_version=model.version if model is not None else None,
            priority_reason=reason,
        )


def load_triage(settings: Settings, sessions: sessionmaker[Session]) -> TriageService:
    """The serving triage for this process: thresholds from settings, model from the registry."""
    service = TriageService(
        sessions,
        category_threshold=settings.category_threshold,
        priority_threshold=settings.priority_threshold,
    )
    service.refresh(force=True)
    return service


def correct_ticket(
    session: Session,
    ticket: Ticket,
    *,
    actor: User,
    category: str | None = None,
    priority: str | None = None,
    note: str | None = None,
) -> list[TicketEvent]:
    """Set an engineer's category and/or priority on `ticket` and record each change in its trail.

    The next training reads tickets' current labels, so this is how a correction teaches the
    model. Returns the events appended (none when the values were already those).
    """
    if actor.role not in (Role.ENGINEER, Role.ADMIN):
        raise NotAllowedError(
            f"{actor.label} is a {actor.role.value}; only engineers and admins correct triage"
        )
    if category is None and priority is None:
        raise InvalidCorrectionError("give a category, a priority, or both")
    events: list[TicketEvent] = []
    if category is not None:
        category = category.strip()
        if not category or category == NEEDS_TRIAGE or len(category) > 100:
            raise InvalidCorrectionError(f"{category!r} is not a category a ticket can be filed under")
        if category != ticket.category or ticket.needs_triage:
            events.append(
                TicketEvent(
                    kind="category_changed",
                    actor_id=actor.id,
                    text=note,
                    data={"from": ticket.category, "to": category, "model_version": ticket.model_version},
                )
            )
            ticket.category = category
            ticket.needs_triage = False
    if priority is not None:
        value = priority.strip().lower()
        if value not in {p.value for p in Priority}:
            raise InvalidCorrectionError(
                f"{priority!r} is not a priority; use one of {', '.join(p.value for p in Priority)}"
            )
        if value != ticket.recorded_priority:
            events.append(
                TicketEvent(
                    kind="priority_changed",
                    actor_id=actor.id,
                    text=note,
                    data={
                        "from": ticket.recorded_priority,
                        "to": value,
                        "model_version": ticket.model_version,
                    },
                )
            )
            ticket.set_priority(value)
    for event in events:
        ticket.events.append(event)
    session.flush()
    return events
