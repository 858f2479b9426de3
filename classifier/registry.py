"""The model registry: which trained models exist, which one serves, and the promotion gate.

Artifacts are immutable directories; the database (`ClassifierModel` rows) records every version
and marks at most one active. A retrain must never make production worse: a new model is compared
with the active one on the same held-out slice of the history (rows chosen by a stable hash of their
text, so neither model trained on them) and activated only if its macro-F1 is no worse than the
active model's minus a tolerance. Functions take the caller's Session and never commit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from classifier.dataset import TrainingRows
from classifier.errors import ArtifactError, RegistryError
from classifier.labels import OTHER, fold_like_model
from classifier.metrics import macro_f1, macro_f1_difference_interval
from classifier.model import CATEGORY, PRIORITY, TriageModel, load_model
from classifier.recipe import TrainConfig, TrainResult, config_dict, data_hash, new_version, normalise_text
from models import ClassifierModel, utcnow

HOLDOUT_BUCKETS = 10  # one bucket in ten is held out: 10% of the history


def is_holdout(text: str) -> bool:
    """Stable across runs and machines, so every model is judged on rows none of them trained on.

    Decided by the text alone (whitespace made regular), so all copies of a ticket fall on the
    same side. A clean text is its own normal form: the slice is the one earlier versions held out.
    """
    key = normalise_text(text).encode("utf-8", "surrogateescape")
    return int(hashlib.sha256(key).hexdigest()[:8], 16) % HOLDOUT_BUCKETS == 0


def split_holdout(rows: TrainingRows) -> tuple[TrainingRows, TrainingRows]:
    train_idx: list[int] = []
    hold_idx: list[int] = []
    for i, text in enumerate(rows.texts):
        (hold_idx if is_holdout(text) else train_idx).append(i)

    def pick(idx: list[int]) -> TrainingRows:
        return TrainingRows(
            texts=[rows.texts[i] for i in idx],
            categories=[rows.categories[i] for i in idx],
            priorities=[rows.priorities[i] for i in idx] if rows.priorities is not None else None,
            ticket_ids=[rows.ticket_ids[i] for i in idx] if rows.ticket_ids else [],
        )

    return pick(train_idx), pick(hold_idx)


def active_model(session: Session) -> ClassifierModel | None:
    return session.scalars(select(ClassifierModel).where(ClassifierModel.active.is_(True))).first()


def list_models(session: Session) -> list[ClassifierModel]:
    return list(
        session.scalars(select(ClassifierModel).order_by(ClassifierModel.created_at, ClassifierModel.id))
    )


def get_model(session: Session, version: str) -> ClassifierModel:
    row = session.scalars(select(ClassifierModel).where(ClassifierModel.version == version)).first()
    if row is None:
        known = ", ".join(r.version for r in list_models(session)[-5:]) or "none yet"
        raise RegistryError(f"no model version {version!r} (latest: {known})")
    return row


def activate(session: Session, row: ClassifierModel, decision: str, *, mark_promoted: bool = True) -> None:
    """Make `row` the one active model. The caller verified the artifact loads.

    A promotion (not a rollback) records which model was active before, as the row's
    "activated_after", and clears an earlier "rolled_back" mark: rollback walks that history.
    """
    previous = active_model(session)
    for other in session.scalars(select(ClassifierModel).where(ClassifierModel.active.is_(True))):
        if other.id != row.id:
            other.active = False
    session.flush()  # never two active rows, even for a moment inside the transaction
    row.active = True
    row.decision = decision
    if mark_promoted and (previous is None or previous.id != row.id):
        history = {"activated_after": previous.version if previous is not None else None}
        row.metrics = {k: v for k, v in {**row.metrics, **history}.items() if k != "rolled_back"}
    if mark_promoted or row.promoted_at is None:
        row.promoted_at = utcnow()
    session.flush()


def promote(session: Session, version: str, reason: str = "promoted by hand") -> ClassifierModel:
    """Activate `version` after checking its artifact loads; raises ArtifactError if it does not."""
    row = get_model(session, version)
    load_model(Path(row.path))
    activate(session, row, reason)
    return row


def _active_before(session: Session, row: ClassifierModel) -> ClassifierModel | None:
    """The model that was active when `row` was promoted."""
    if "activated_after" in row.metrics:
        before = row.metrics["activated_after"]
        return session.scalars(select(ClassifierModel).where(ClassifierModel.version == before)).first()
    if row.promoted_at is None:
        return None
    # Promoted before activations were recorded: the model promoted just before it.
    return session.scalars(
        select(ClassifierModel)
        .where(
            ClassifierModel.promoted_at.is_not(None),
            ClassifierModel.promoted_at < row.promoted_at,
            ClassifierModel.id != row.id,
        )
        .order_by(ClassifierModel.promoted_at.desc())
    ).first()


def _was_rolled_back(row: ClassifierModel) -> bool:
    return bool(row.metrics.get("rolled_back")) or (row.decision or "").startswith("rolled back (")


def rollback(session: Session) -> tuple[ClassifierModel, ClassifierModel]:
    """Re-activate the model that was active before the current one; returns (now active, retired).

    Walks back the activation history, past models whose artifact no longer loads and models
    whose own activation was rolled back: after A, B, C, a rollback to B and a new D, rolling
    back D means B again, never C.
    """
    current = active_model(session)
    if current is None or current.promoted_at is None:
        raise RegistryError("no active model to roll back from")
    seen = {current.id}
    candidate = _active_before(session, current)
    while candidate is not None and candidate.id not in seen:
        seen.add(candidate.id)
        if not _was_rolled_back(candidate) and _loads(candidate):
            activate(session, candidate, f"rolled back to from {current.version}", mark_promoted=False)
            current.decision = f"rolled back (replaced by {candidate.version})"
            current.metrics = {**current.metrics, "rolled_back": True}
            session.flush()
            return candidate, current
        candidate = _active_before(session, candidate)
    raise RegistryError(
        f"no earlier promoted model with a loadable artifact to roll back to from {current.version}"
    )


def _loads(row: ClassifierModel) -> bool:
    try:
        load_model(Path(row.path))
    except ArtifactError:
        return False  # a broken earlier model is no place to roll back to
    return True


def head_predictions(model: TriageModel, head: str, texts: list[str]) -> list[str] | None:
    if head not in model.heads or not texts:
        return None
    return list(model.predict(texts)[head])


def fold_for_both(new: TriageModel, current: TriageModel, head: str, truth: list[str]) -> list[str]:
    """The held-out truth both models are scored on: a label either model serves as its own
    queue stays that label, and only labels both leave to "other" (folded by one, unknown or
    folded to the other) count as "other"; a label neither ever saw stays, a miss for both.

    Folding by the new model alone would turn the active model's right answers for queues the
    new model dropped into misses: a retrain that folds seven of eight queues into "other" would
    score 0.93 against 0.45 and replace a model that routes all eight."""
    served = (set(new.labels(head)) | set(current.labels(head))) - {OTHER}
    folded = set(new.folded_labels(head)) | set(current.folded_labels(head))
    return fold_like_model(truth, [*sorted(served), OTHER], folded)[0]


# Below this many held-out tickets per head, the gate's verdict is mostly noise and says so.
FEW_HELDOUT = 200
# Below this many, there is no verdict at all: two models that get 0 of 3 tickets right are "no
# worse" than each other, and a 30-row test file must not replace a model trained on thousands.
MIN_HELDOUT = 10


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str
    scores: dict[str, Any] = field(default_factory=dict)


def gate(
    new: TriageModel, current: TriageModel | None, holdout: TrainingRows, tolerance: float
) -> GateDecision:
    """Promote only if no head's held-out macro-F1 is worse than the active model's beyond `tolerance`."""
    if current is None:
        return GateDecision(True, "first model: nothing active to compare with")
    if len(holdout) < MIN_HELDOUT:
        return GateDecision(
            False,
            f"not promoted: only {len(holdout)} held-out tickets, too few to show the new model is no "
            f"worse than the active one (at least {MIN_HELDOUT} are needed); promote by hand if wanted",
        )
    known = set(current.labels(CATEGORY)) | set(current.folded_labels(CATEGORY))
    if not known & set(holdout.categories):
        return GateDecision(
            False,
            "not promoted: the active model knows none of this history's categories, so the two "
            "cannot be compared; if this history really replaces the old queues, promote by hand",
        )
    scores: dict[str, Any] = {"holdout_rows": len(holdout)}
    worse: list[str] = []
    compared: list[str] = []
    heads: list[tuple[str, list[str]]] = [(CATEGORY, holdout.categories)]
    if holdout.priorities is not None:
        idx = [i for i, p in enumerate(holdout.priorities) if p is not None]
        heads.append((PRIORITY, [str(holdout.priorities[i]) for i in idx]))
    for head, truth in heads:
        texts = (
            holdout.texts
            if head == CATEGORY
            else [holdout.texts[i] for i, p in enumerate(holdout.priorities or []) if p is not None]
        )
        new_pred = head_predictions(new, head, texts)
        old_pred = head_predictions(current, head, texts)
        if new_pred is None:
            continue
        if old_pred is None:
            scores[head] = {"new_macro_f1": macro_f1(truth, new_pred), "active_macro_f1": None}
            continue
        folded = fold_for_both(new, current, head, truth)
        new_f1 = macro_f1(folded, new_pred)
        old_f1 = macro_f1(folded, old_pred)
        scores[head] = {"new_macro_f1": new_f1, "active_macro_f1": old_f1}
        low, high = macro_f1_difference_interval(folded, new_pred, old_pred)
        scores[head]["difference_interval_90"] = [low, high]
        spread = f"difference {new_f1 - old_f1:+.3f}, 90% of resamples {low:+.3f} to {high:+.3f}"
        if len(texts) < FEW_HELDOUT:
            spread += f"; only {len(texts)} held-out tickets, so small differences are noise"
        compared.append(f"{head} macro-F1 {new_f1:.3f} vs active {old_f1:.3f} ({spread})")
        if new_f1 < old_f1 - tolerance:
            worse.append(
                f"{head} macro-F1 {new_f1:.3f} is below the active model's {old_f1:.3f} "
                f"by more than the tolerance {tolerance:.3f} ({spread})"
            )
    for head in (CATEGORY, PRIORITY):
        if head in current.heads and head not in new.heads:
            worse.append(
                f"the new model has no {head} head (its history gave it none to learn: no "
                f"{head} column, or fewer than two levels) while the active model has one"
            )
    if worse:
        return GateDecision(
            False, "not promoted: " + "; ".join(worse) + f" (on {len(holdout)} held-out tickets)", scores
        )
    return GateDecision(
        True, "promoted: " + "; ".join(compared) + f" on {len(holdout)} held-out tickets", scores
    )


@dataclass(frozen=True)
class TrainOutcome:
    status: str  # "unchanged" | "promoted" | "kept"
    message: str
    row: ClassifierModel | None
    result: TrainResult | None = None


def train_and_register(
    session: Session,
    rows: TrainingRows,
    *,
    models_dir: Path,
    tolerance: float,
    config: TrainConfig | None = None,
    out_dir: Path | None = None,
    source: str = "database",
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> TrainOutcome:
    """Train on the history minus the held-out slice, register the model, and let the gate decide."""
    config = config or TrainConfig()
    history_hash = data_hash(rows.texts, rows.categories, rows.priorities)
    current_row = active_model(session)
    if (
        not force
        and current_row is not None
        and current_row.data_hash == history_hash
        and current_row.metrics.get("config") == config_dict(config)
    ):
        return TrainOutcome(
            "unchanged",
            f"training data unchanged since {current_row.version} (hash {history_hash[:12]});"
            " active model kept",
            current_row,
        )
    train_rows, holdout = split_holdout(rows)
    if len(train_rows) == 0:
        train_rows, holdout = rows, TrainingRows([], [], None)
    from classifier.training import train  # scikit-learn, only when a model is actually trained

    version = new_version(history_hash)
    result = train(
        train_rows.texts,
        train_rows.categories,
        train_rows.priorities,
        out_dir=out_dir or Path(models_dir) / version,
        config=config,
        version=version,
        source=source,
        progress=progress,
        history_categories=rows.categories,
    )
    if progress is not None:
        progress(f"promotion gate: macro-F1 on {len(holdout)} held-out tickets")
    new_model = load_model(result.path)
    current_model: TriageModel | None = None
    broken: str | None = None
    if current_row is not None:
        try:
            current_model = load_model(Path(current_row.path))
        except ArtifactError as exc:
            broken = str(exc)
    if broken is not None:
        decision = GateDecision(True, f"promoted: the active model cannot be loaded ({broken})")
    else:
        decision = gate(new_model, current_model, holdout, tolerance)
    row = ClassifierModel(
        version=version,
        path=str(Path(result.path).resolve()),  # read back from any working directory
        data_hash=history_hash,
        rows=len(rows),
        metrics={
            "cv": result.cv_metrics,
            "abstention": result.abstention,
            "gate": decision.scores,
            "config": config_dict(config),
            "trained_rows": len(train_rows),
            "holdout_rows": len(holdout),
            "warnings": list(result.warnings),
        },
        active=False,
        decision=decision.reason,
    )
    session.add(row)
    session.flush()
    if decision.promote:
        activate(session, row, decision.reason)
        return TrainOutcome("promoted", decision.reason, row, result)
    return TrainOutcome("kept", decision.reason + "; the model is kept but not active", row, result)
