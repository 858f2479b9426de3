"""The training recipe's settings and the identity of a training set: light enough to import anywhere.

The registry and the CLI need these to compare a history with the active model's (hash, config)
without importing scikit-learn, which `classifier.training` needs for the fitting itself.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class TrainConfig:
    """Knobs of the recipe; stored in the manifest so a model says how it was made."""

    rare_label_min: int = 10
    cv_folds: int = 5
    # Up to `c_grid_max_rows` tickets each head fits its folds once per C in `c_grid` and keeps
    # the C with the best out-of-fold macro-F1: the right amount of regularisation differs between
    # a clean category head, a noisy priority head and histories of different sizes, and on small
    # histories the extra fits cost seconds. Larger histories (or an empty grid) use `c`.
    c: float = 0.5
    c_grid: tuple[float, ...] = (0.25, 0.5, 1.0)
    c_grid_max_rows: int = 5_000
    word_ngrams: tuple[int, int] = (1, 2)
    word_min_df: int = 2
    # char_wb 3–5-grams: against 2–5 the same 5-fold CV macro-F1 on real tickets (Endava topics
    # 0.842 vs 0.843, its raw export's sub-category codes 0.386 vs 0.386, business services 0.504
    # vs 0.503; bench/classifier_bench.py) with a fifth fewer non-zeros per ticket, which makes
    # the features and every linear fit 20-30% cheaper. Padded words keep short tokens ("pc") as
    # " pc"/"pc " 3-grams, so 2-grams added little but cost.
    char_ngrams: tuple[int, int] = (3, 5)
    max_char_features: int = 300_000
    max_iter: int = 2000
    # liblinear's dual-gap tolerance: 0.05 gives the same CV macro-F1 and ECE as 0.01 on real
    # tickets (bench/classifier_bench.py) and stops 15-20% sooner on large histories.
    tol: float = 5e-2
    random_state: int = 0
    # Above `large_rows` tickets only the first `large_fold_fits` of the k folds is fitted: a fifth
    # of 20k+ tickets is plenty to calibrate and measure on, and it keeps a 50k retrain within 30 s.
    large_rows: int = 20_000
    large_fold_fits: int = 1
    # The same above `large_work` rows × classes: a fit costs about rows × classes × non-zeros,
    # so a long tail of queues makes even a mid-sized history expensive. 13.6k real tickets in
    # 300 queues: one fold fit 32 s of CPU against 157 s for five, at an outer-split macro-F1 of
    # 0.899 against 0.915 (accuracy 0.884 vs 0.905). Below it (Endava's 8 topics, its 37
    # business services) every fold is fitted.
    large_work: int = 1_000_000
    # Class weights are (rows / (classes × count)) ** power: 1.0 is scikit-learn's "balanced",
    # 0 is unweighted. Full balancing lets a long tail of small queues pull tickets away from
    # the big ones; the square root keeps most of the small queues' recall without that cost.
    # 5-fold CV, 0.5 against 1.0, macro-F1 (accuracy): Endava topics 0.843 vs 0.839 (0.840 vs
    # 0.838); its raw export's sub-category codes 0.385 vs 0.373 (0.646 vs 0.592) and business
    # services 0.504 vs 0.495 (0.644 vs 0.630); the synthetic tickets' 10 queues 0.247 vs 0.254
    # (0.370 vs 0.342), the one set where macro-F1 dropped.
    class_weight_power: float = 0.5
    # With at least this many classes per core, a fold's one-vs-rest problems are split into
    # groups fitted in parallel (`_fit_fold`); fewer, and one fit does them all.
    min_classes_per_group: int = 16
    n_jobs: int = -1


# (confidence threshold, share of tickets at or above it, accuracy on those tickets)
AbstentionPoint = tuple[float, float, float]


@dataclass(frozen=True)
class TrainResult:
    path: Path
    version: str
    manifest: dict[str, Any]
    warnings: tuple[str, ...] = ()
    seconds: float = 0.0
    cv_metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    # Per head, out of fold: (threshold, coverage, selective accuracy) on `ABSTENTION_GRID`.
    abstention: dict[str, list[AbstentionPoint]] = field(default_factory=dict)


# Confidence thresholds at which training reports coverage and accuracy, so an admin can see what
# a threshold setting will do before choosing it.
ABSTENTION_GRID = tuple(round(0.05 * i, 2) for i in range(1, 20))


def abstention_at(curve: list[AbstentionPoint], threshold: float) -> AbstentionPoint | None:
    """The grid point nearest to `threshold` (the grid is every 0.05)."""
    return min(curve, key=lambda point: abs(point[0] - threshold), default=None)


def config_dict(config: TrainConfig) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}


def data_hash(
    texts: Sequence[str], categories: Sequence[str], priorities: Sequence[str | None] | None
) -> str:
    """Order-independent hash of the training rows: the same history in any order hashes the same."""
    prios = priorities if priorities is not None else [None] * len(texts)
    row_hashes = sorted(
        hashlib.sha256(f"{t}\x1f{c}\x1f{p or ''}".encode("utf-8", "surrogateescape")).hexdigest()
        for t, c, p in zip(texts, categories, prios, strict=True)
    )
    digest = hashlib.sha256()
    for h in row_hashes:
        digest.update(h.encode())
    return digest.hexdigest()


def normalise_text(text: str) -> str:
    """A ticket text with its whitespace made regular (line endings, runs of spaces, blank lines):
    what tells two copies of one ticket from two tickets. A clean text is its own normal form."""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def new_version(hash_: str) -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{hash_[:8]}-{secrets.token_hex(2)}"
