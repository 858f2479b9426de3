"""Evaluation figures shared by training (cross-validation), the promotion gate and `evaluate`.

scikit-learn's metrics are imported where they are used: importing them costs most of a second,
and every CLI command imports this module through the registry.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray


def expected_calibration_error(
    confidence: NDArray[np.float64], correct: NDArray[np.bool_], bins: int = 15
) -> float:
    """Weighted gap between confidence and accuracy over equal-width confidence bins."""
    if len(confidence) == 0:
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            total += mask.mean() * abs(float(correct[mask].mean()) - float(confidence[mask].mean()))
    return float(total)


def macro_f1(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    """Macro-F1 over the labels that occur in the truth, so a model is not rewarded for labels nobody used."""
    from sklearn.metrics import f1_score

    labels = sorted(set(y_true))
    if not labels:
        return 0.0
    return float(f1_score(list(y_true), list(y_pred), labels=labels, average="macro", zero_division=0))


def macro_f1_difference_interval(
    y_true: Sequence[str],
    pred_new: Sequence[str],
    pred_old: Sequence[str],
    *,
    resamples: int = 1000,
    level: float = 0.9,
    seed: int = 0,
) -> tuple[float, float]:
    """Where `macro_f1(new) - macro_f1(old)` falls on `level` of bootstrap resamples of the tickets.

    Both models are scored on the same resampled tickets (a paired bootstrap), so the interval
    shows how much of a gap between two models the held-out slice can tell from noise: on 50
    tickets, a few points either way mean nothing. Each resample averages F1 over the labels
    present in its truth, as `macro_f1` does.
    """
    truth = list(y_true)
    if not truth:
        return (0.0, 0.0)
    labels = sorted(set(truth) | set(pred_new) | set(pred_old))
    index = {label: i for i, label in enumerate(labels)}
    t = np.array([index[v] for v in truth])
    rng = np.random.default_rng(seed)
    # counts[b, i]: how often ticket i is drawn in resample b (a multinomial draw of n tickets).
    counts = rng.multinomial(len(truth), np.full(len(truth), 1.0 / len(truth)), size=resamples)
    onehot_true = np.eye(len(labels))[t]  # n x K
    support = counts @ onehot_true  # B x K
    diffs = np.zeros(resamples)
    for sign, pred in ((1.0, pred_new), (-1.0, pred_old)):
        p = np.array([index[v] for v in pred])
        onehot_pred = np.eye(len(labels))[p]
        tp = counts @ (onehot_true * onehot_pred)
        predicted = counts @ onehot_pred
        denominator = support + predicted  # F1 = 2 tp / (2 tp + fp + fn) = 2 tp / (support + predicted)
        f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
        present = support > 0
        diffs += sign * (f1 * present).sum(axis=1) / np.maximum(present.sum(axis=1), 1)
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(diffs, [tail, 100 - tail])
    return (float(low), float(high))


def head_report(
    y_true: Sequence[str],
    classes: Sequence[str],
    proba: NDArray[np.float64],
    threshold: float,
) -> dict[str, Any]:
    """What `evaluate` prints for one head: accuracy, macro-F1, ECE, abstention, per class, confusion."""
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    truth = list(y_true)
    pred_index = proba.argmax(axis=1)
    pred = [classes[i] for i in pred_index]
    confidence = proba.max(axis=1)
    correct = np.array([p == t for p, t in zip(pred, truth, strict=True)], dtype=bool)
    answered = confidence >= threshold
    labels = sorted(set(truth) | set(pred))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="A single label was found", category=UserWarning)
        precision, recall, f1, support = precision_recall_fscore_support(
            truth, pred, labels=labels, zero_division=0
        )
        confusion = confusion_matrix(truth, pred, labels=labels).tolist()
    return {
        "n": len(truth),
        "accuracy": float(accuracy_score(truth, pred)) if truth else 0.0,
        "macro_f1": macro_f1(truth, pred),
        "ece": expected_calibration_error(confidence, correct),
        "threshold": threshold,
        "coverage": float(answered.mean()) if truth else 0.0,
        "selective_accuracy": float(correct[answered].mean()) if answered.any() else 0.0,
        "per_class": {
            label: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, label in enumerate(labels)
        },
        "labels": labels,
        "confusion": confusion,
    }
