"""Confidence that the top hit answers the question, and the threshold below which we abstain.

A small logistic model over retrieval features turns raw scores into a probability. It is fitted
on questions with known answers plus out-of-KB questions (negatives), and the threshold is the
lowest probability at which the answers given still reach the target precision. The result is a
JSON file beside the index manifest, tied to the encoder it was fitted with.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from kb_index.errors import CalibrationError

FEATURES = ("fused_top1", "fused_margin", "dense_top1", "dense_margin", "lexical_top1", "lexical_agrees")
CALIBRATION_FILE = "calibration.json"
SAFETY_Z = 0.5


@dataclass(frozen=True)
class Calibration:
    coefficients: tuple[float, ...]
    intercept: float
    threshold: float
    target_precision: float
    encoder: str
    source: str  # where it came from: "default (…)" or the calibration set
    metrics: dict[str, float] = field(default_factory=dict)
    created_at: str = ""

    def probability(self, features: dict[str, float]) -> float:
        z = self.intercept + sum(
            c * features.get(f, 0.0) for c, f in zip(self.coefficients, FEATURES, strict=True)
        )
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def save(self, root: Path) -> Path:
        root.mkdir(parents=True, exist_ok=True)
        path = root / CALIBRATION_FILE
        tmp = root / f"{CALIBRATION_FILE}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps({**asdict(self), "features": list(FEATURES)}, indent=1), "utf-8")
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, root: Path) -> Calibration | None:
        path = root / CALIBRATION_FILE
        try:
            raw: dict[str, Any] = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            return None
        except json.JSONDecodeError as exc:
            raise CalibrationError(f"{path} is not valid JSON; re-run `tierline kb calibrate`") from exc
        if raw.pop("features", list(FEATURES)) != list(FEATURES):
            raise CalibrationError(f"{path} was written for other features; re-run `tierline kb calibrate`")
        raw["coefficients"] = tuple(raw["coefficients"])
        return cls(**raw)


# Fitted by `tierline kb calibrate --beir ../shared/data/retrieval/stackfaq` (20% of documents held
# out as out-of-KB, target precision 0.95) for all-MiniLM-L6-v2: the starting point until
# `tierline kb calibrate` runs on the organisation's own questions. Cosine scales differ between
# models, so each encoder needs its own.
_DEFAULTS: dict[str, tuple[tuple[float, ...], float, float]] = {
    "minilm": ((4.005, 3.690, 3.973, 3.417, 0.651, 0.137), -5.735, 0.705),
    # multilingual-e5-small answers fewer English questions at this precision (0.42 of in-KB on
    # StackFAQ): its top-1 is right less often there (R@1 ≈ 0.88), so it abstains more.
    "e5": ((3.009, 2.604, 2.979, 2.443, 0.612, 0.864), -5.807, 0.807),
}


def default_calibration(encoder_key: str) -> Calibration:
    """The shipped calibration for this encoder; an encoder without one never answers until
    `tierline kb calibrate` runs (its cosine scale differs, so borrowed numbers would mislead)."""
    key = encoder_key.replace("-onnx", "")
    if key in _DEFAULTS:
        coefficients, intercept, threshold = _DEFAULTS[key]
        return Calibration(coefficients, intercept, threshold, 0.95, encoder_key, f"default ({encoder_key})")
    coefficients, intercept, _ = _DEFAULTS["minilm"]
    return Calibration(
        coefficients,
        intercept,
        1.0,
        0.95,
        encoder_key,
        f"uncalibrated ({encoder_key}): run `tierline kb calibrate`",
    )


def choose_threshold(
    probabilities: np.ndarray, correct: np.ndarray, target_precision: float, safety: float = SAFETY_Z
) -> float:
    """The lowest threshold whose answered set (p ≥ t) keeps precision ≥ target, with a margin.

    Answering more is better as long as precision holds. A threshold picked where precision just
    touches the target on the calibration set falls short on new questions about half the time,
    so the answered precision must clear the target by `safety` standard errors (0.5 lifted
    StackFAQ held-out precision from 0.947-0.959 to 0.955-0.961 across three splits, costing
    about 1 point of answer rate). If no threshold qualifies, return 1.0 (never answer).
    """
    order = np.argsort(-probabilities, kind="stable")
    p = probabilities[order]
    answered = np.arange(1, len(p) + 1)
    precision = np.cumsum(correct[order].astype(float)) / answered
    margin = safety * np.sqrt(target_precision * (1 - target_precision) / answered)
    best = 1.0
    for i in range(len(p)):
        if i + 1 < len(p) and p[i + 1] == p[i]:
            continue  # only cut between distinct probabilities
        if precision[i] - margin[i] >= target_precision:
            best = float(p[i])
    return best


def check_calibration_data(correct: np.ndarray) -> None:
    """Refuse sets too small or one-sided to choose a threshold from."""
    if len(correct) < 20:
        raise CalibrationError(f"calibration needs at least 20 queries, got {len(correct)}")
    if int(correct.sum()) < 5 or int((~correct).sum()) < 5:
        raise CalibrationError(
            "calibration needs at least 5 right and 5 wrong or unanswerable top hits, got "
            f"{int(correct.sum())} and {int((~correct).sum())} "
            "(add out-of-KB questions: queries without a qrels line)"
        )


def fit_calibration(
    features: np.ndarray,
    correct: np.ndarray,
    *,
    target_precision: float,
    encoder: str,
    source: str,
    groups: np.ndarray | None = None,
    in_kb: np.ndarray | None = None,
    seed: int = 0,
) -> Calibration:
    """Fit the logistic model and pick the threshold from cross-validated probabilities.

    Cross-validation (grouped by relevant document when given: paraphrases of one question must
    not sit on both sides) keeps the threshold honest: probabilities on training rows are too sure.
    """
    from sklearn.linear_model import LogisticRegression

    check_calibration_data(correct)
    held_out = cross_validated_probabilities(features, correct, groups=groups, seed=seed)
    threshold = choose_threshold(held_out, correct, target_precision)
    model = LogisticRegression(C=1.0, max_iter=1000).fit(features, correct.astype(int))
    answered = held_out >= threshold
    answerable = in_kb if in_kb is not None else np.ones(len(correct), dtype=bool)
    metrics = {
        "queries": float(len(correct)),
        "answer_rate": float(answered[answerable].mean()) if answerable.any() else 0.0,
        "answered_precision": float(correct[answered].mean()) if answered.any() else 0.0,
    }
    if (~answerable).any():
        metrics["abstain_rate"] = float((~answered[~answerable]).mean())
    return Calibration(
        coefficients=tuple(float(c) for c in model.coef_[0]),
        intercept=float(model.intercept_[0]),
        threshold=threshold,
        target_precision=target_precision,
        encoder=encoder,
        source=source,
        metrics=metrics,
        created_at=datetime.now(UTC).isoformat(),
    )


def cross_validated_probabilities(
    features: np.ndarray,
    correct: np.ndarray,
    *,
    groups: np.ndarray | None = None,
    folds: int = 5,
    seed: int = 0,
) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, StratifiedKFold

    labels = correct.astype(int)
    out = np.zeros(len(labels), dtype=float)
    if groups is not None and len(set(groups.tolist())) >= folds:
        splits = GroupKFold(n_splits=folds, shuffle=True, random_state=seed).split(features, labels, groups)
    else:
        k = max(2, min(folds, int(labels.sum()), int((1 - labels).sum())))
        splits = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(features, labels)
    for train, test in splits:
        if len(set(labels[train].tolist())) < 2:
            out[test] = labels[train].mean()
            continue
        model = LogisticRegression(C=1.0, max_iter=1000).fit(features[train], labels[train])
        out[test] = model.predict_proba(features[test])[:, 1]
    return out
