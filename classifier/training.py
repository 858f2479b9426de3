"""Training: shared TF-IDF features, one calibrated linear head per label kind, honest CV metrics.

Pure (no database): callers hand in texts and labels and get a model directory back. The recipe:
word 1–2-gram and char_wb 3–5-gram TF-IDF (sublinear tf) feed a class-weighted LinearSVC per head
(on small histories each head picks its C from a small grid by out-of-fold macro-F1).
Stratified k-fold models (all copies of a text in one fold) give out-of-fold decision scores,
which yield both the cross-validated metrics in the manifest and the data to fit a softmax
temperature (calibration), so confidence means the same thing on unseen tickets. The served
head averages the fold models.
"""

from __future__ import annotations

import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from joblib import Parallel, cpu_count, delayed
from numpy.typing import NDArray
from scipy.optimize import minimize_scalar
from sklearn.exceptions import ConvergenceWarning
from sklearn.isotonic import IsotonicRegression
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.svm import LinearSVC

from classifier.artifact import write_artifact
from classifier.errors import TrainingDataError
from classifier.features import TicketFeatures
from classifier.labels import OTHER, fold_rare_labels, merge_label_spellings
from classifier.metrics import expected_calibration_error, macro_f1
from classifier.model import CATEGORY, PRIORITY, Head, softmax_rows, top_label_calibrate
from classifier.priority import PRIORITIES
from classifier.recipe import (
    ABSTENTION_GRID,
    TrainConfig,
    TrainResult,
    config_dict,
    data_hash,
    new_version,
    normalise_text,
)

__all__ = ["OTHER", "TrainConfig", "TrainResult", "train"]


def build_features(config: TrainConfig) -> TicketFeatures:
    return TicketFeatures(
        word_ngrams=config.word_ngrams,
        char_ngrams=config.char_ngrams,
        max_char_features=config.max_char_features,
        word_min_df=config.word_min_df,
    )


def sample_weights(labels: NDArray[Any], power: float) -> NDArray[np.float64]:
    """Each row weighs (rows / (classes × count of its label)) ** power: class weighting as
    per-row weights, which liblinear takes for any label type."""
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    return np.asarray((len(labels) / (len(counts) * counts[inverse])) ** power, dtype=np.float64)


@contextmanager
def quiet_fitting() -> Iterator[None]:
    """Silence what scikit-learn says about expected situations while a training runs: a class too
    small for every fold (tiny classes just appear in fewer folds) and liblinear stopping at
    `max_iter` on noisy labels (the model is still usable and its CV figures say how good).

    Entered once, on the calling thread, around all the parallel fitting: warning filters are
    process-wide, and `catch_warnings` entered and left by several threads at once restores them
    out of order, which leaked these warnings and could leave them silenced for good.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def _new_estimator(config: TrainConfig, c: float) -> LinearSVC:
    return LinearSVC(
        C=c,
        tol=config.tol,
        max_iter=config.max_iter,
        random_state=config.random_state,
    )


def fit_temperature(scores: NDArray[np.float64], y_index: NDArray[np.int64]) -> float:
    """The softmax temperature that minimises log loss of out-of-fold scores."""

    def nll(t: float) -> float:
        p = softmax_rows(scores / t)
        return float(-np.log(p[np.arange(len(y_index)), y_index] + 1e-12).mean())

    result = minimize_scalar(nll, bounds=(1e-3, 20.0), method="bounded")
    return float(result.x)


MIN_ISOTONIC_ROWS = 200


def fit_calibration(
    scores: NDArray[np.float64], y_index: NDArray[np.int64]
) -> tuple[float, tuple[float, ...], tuple[float, ...]]:
    """Temperature, then (with enough rows) an isotonic map of the top probability to accuracy."""
    temperature = fit_temperature(scores, y_index)
    if len(y_index) < MIN_ISOTONIC_ROWS:
        return temperature, (), ()
    probs = softmax_rows(scores / temperature)
    correct = (probs.argmax(axis=1) == y_index).astype(np.float64)
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(probs.max(axis=1), correct)
    return temperature, tuple(map(float, iso.X_thresholds_)), tuple(map(float, iso.y_thresholds_))


def cross_fitted_confidence(
    scores: NDArray[np.float64], y_index: NDArray[np.int64], seed: int
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Calibrated top-label confidence and correctness of each out-of-fold row, with the
    calibration fitted on the other half of the rows: fitting and scoring calibration on the same
    rows would flatter both the ECE and the coverage figures."""
    order = np.random.default_rng(seed).permutation(len(y_index))
    halves = (order[: len(order) // 2], order[len(order) // 2 :])
    confidence = np.zeros(len(y_index))
    correct = np.zeros(len(y_index), dtype=bool)
    for fit_idx, test_idx in (halves, halves[::-1]):
        if len(fit_idx) == 0 or len(test_idx) == 0:
            continue
        t, xs, ys = fit_calibration(scores[fit_idx], y_index[fit_idx])
        probs = top_label_calibrate(softmax_rows(scores[test_idx] / t), xs, ys)
        confidence[test_idx] = probs.max(axis=1)
        correct[test_idx] = probs.argmax(axis=1) == y_index[test_idx]
    return confidence, correct


def abstention_curve(
    confidence: NDArray[np.float64], correct: NDArray[np.bool_]
) -> list[tuple[float, float, float]]:
    """(threshold, share of tickets at or above it, accuracy on those) for each grid threshold."""
    curve = []
    for threshold in ABSTENTION_GRID:
        answered = confidence >= threshold
        coverage = float(answered.mean()) if len(answered) else 0.0
        accuracy = float(correct[answered].mean()) if answered.any() else 0.0
        curve.append((threshold, coverage, accuracy))
    return curve


# Stands for "every class outside this group" when a fold's classes are fitted in groups; NUL
# never occurs in an imported label (the import strips it), so it cannot collide with one.
_REST = "\x00rest"


def class_groups(n_classes: int, config: TrainConfig) -> list[NDArray[np.int64]]:
    """Class indices split into groups fitted side by side (see `_fit_fold`); one group unless
    there are at least `min_classes_per_group` classes per core."""
    threads = cpu_count() if config.n_jobs == -1 else max(1, config.n_jobs)
    groups = max(1, min(threads, n_classes // config.min_classes_per_group))
    return [np.asarray(g, dtype=np.int64) for g in np.array_split(np.arange(n_classes), groups)]


def _fit_group(
    x: Any,
    y: NDArray[Any],
    weights: NDArray[np.float64],
    members: Sequence[str],
    config: TrainConfig,
    c: float,
) -> dict[str, tuple[NDArray[np.float64], float]]:
    """One-vs-rest models of `members`, each against every other row: (coef, intercept) by label."""
    labels = np.where(np.isin(y, members), y, _REST)  # all classes in one group: no row is rest
    estimator = _new_estimator(config, c).fit(x, labels, sample_weight=weights)
    coef = np.asarray(estimator.coef_, dtype=np.float64)
    intercept = np.asarray(estimator.intercept_, dtype=np.float64)
    if len(estimator.classes_) == 2 and coef.shape[0] == 1:  # binary: one row scores classes_[1]
        coef = np.vstack([-coef[0], coef[0]])
        intercept = np.array([-intercept[0], intercept[0]])
    return {
        str(label): (coef[i], float(intercept[i]))
        for i, label in enumerate(estimator.classes_)
        if label != _REST
    }


def _fit_fold(
    features: Any,
    y: NDArray[Any],
    classes: tuple[str, ...],
    train_idx: NDArray[np.int64],
    config: TrainConfig,
    c: float,
) -> tuple[NDArray[np.float32], NDArray[np.float64]]:
    """One fold's linear model as (coef, intercept) over all `classes` (absent ones never win).

    liblinear fits one-vs-rest problems one after another on one core, so with many classes a
    single large fold would leave the other core idle; the classes are then split into groups,
    each fitted (against a shared "rest" label for the others) on its own thread — liblinear
    releases the GIL. Rows keep their own class weight in every group, so the models are the
    ones a single fit would give, up to the solver's tolerance.

    The coefficients are float32, as served: with many classes and k folds alive at once this
    halves the memory of a retrain at no cost in accuracy."""
    x, y_train = features[train_idx], y[train_idx]
    weights = sample_weights(y_train, config.class_weight_power)
    seen = set(y_train.tolist())
    present = [label for label in classes if label in seen]
    groups = [[present[i] for i in g] for g in class_groups(len(present), config)]
    if len(groups) == 1:
        fitted = [_fit_group(x, y_train, weights, groups[0], config, c)]
    else:
        # A plain thread pool: joblib runs a Parallel nested in another's worker sequentially.
        with ThreadPoolExecutor(max_workers=len(groups)) as pool:
            fitted = list(pool.map(lambda group: _fit_group(x, y_train, weights, group, config, c), groups))
    full_coef = np.zeros((len(classes), features.shape[1]), dtype=np.float32)
    full_intercept = np.full(len(classes), -10.0)
    index = {label: i for i, label in enumerate(classes)}
    for models in fitted:
        for label, (coef, intercept) in models.items():
            full_coef[index[label]] = coef
            full_intercept[index[label]] = intercept
    return full_coef, full_intercept


def c_candidates(rows: int, config: TrainConfig) -> tuple[float, ...]:
    """The C values a head tries: the grid on small histories, the single default on large ones."""
    if rows <= config.c_grid_max_rows and config.c_grid:
        return tuple(sorted(set(config.c_grid)))
    return (config.c,)


def text_groups(texts: Sequence[str]) -> NDArray[np.int64]:
    """One group number per text; copies of one text (whitespace aside) share it."""
    ids: dict[str, int] = {}
    return np.array([ids.setdefault(normalise_text(t), len(ids)) for t in texts], dtype=np.int64)


def folds_for(labels: Sequence[str], groups: Sequence[int], config: TrainConfig) -> int:
    """How many folds: stratified folds need each fold to see most classes (tiny classes just
    appear in fewer folds), counted in distinct texts, since copies of a text share a fold."""
    distinct = len(set(groups))
    if distinct < 2:
        raise TrainingDataError(
            f"cross-validation needs at least two different ticket texts; these {len(labels)} rows have one"
        )
    per_label = Counter(label for label, _ in set(zip(labels, groups, strict=True)))
    return min(distinct, max(2, min(config.cv_folds, max(per_label.values()))))


def grouped_folds(
    labels: Sequence[str], groups: NDArray[np.int64], folds: int, seed: int
) -> list[tuple[NDArray[np.int64], NDArray[np.int64]]]:
    """(train, test) row indices of stratified k folds in which all copies of a text share a fold.

    A ticket exported twice, or a template everyone sends unchanged, would otherwise sit on both
    sides of a split, and the model would be scored on tickets it trained on. The folds are cut
    over distinct texts (each with the label of its first row), then mapped back to rows.
    """
    y = np.asarray(labels)
    unique, first = np.unique(groups, return_index=True)
    group_labels = y[first]
    if max(Counter(group_labels.tolist()).values()) >= folds:
        splitter: StratifiedKFold | KFold = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    else:  # every label has fewer distinct texts than folds: stratifying cannot work
        splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    position = np.searchsorted(unique, groups)
    out = []
    for _, test_groups in splitter.split(np.zeros(len(unique)), group_labels):
        in_test = np.isin(position, test_groups)
        out.append((np.flatnonzero(~in_test), np.flatnonzero(in_test)))
    return out


def fit_head(
    name: str, features: Any, labels: Sequence[str], groups: NDArray[np.int64], config: TrainConfig
) -> tuple[Head, dict[str, float], list[tuple[float, float, float]]]:
    """A calibrated head, its cross-validated accuracy, macro-F1 and ECE, and its abstention curve.

    k stratified folds (copies of a text, by `groups`, never on both sides) are fitted in parallel
    (liblinear releases the GIL, so threads suffice). Their out-of-fold scores give the CV metrics
    and the calibration temperature; the served head is the average of the fold models (a bagged
    linear model), so no extra full-data fit is needed — the whole head costs about k-1 fits on all
    rows instead of k+1. On small histories this is repeated per C of the grid and the C with the
    best out-of-fold macro-F1 is kept (its CV figures are then slightly optimistic;
    bench/classifier_bench.py measures on outer folds).
    """
    classes = tuple(sorted(set(labels)))
    y = np.array(labels)
    y_index = np.searchsorted(np.array(classes), y)
    folds = folds_for(labels, groups.tolist(), config)
    splits = grouped_folds(labels, groups, folds, config.random_state)
    if len(labels) >= config.large_rows or len(labels) * len(classes) > config.large_work:
        splits = splits[: config.large_fold_fits]
    candidates = c_candidates(len(labels), config)
    covered = np.concatenate([test_idx for _, test_idx in splits])
    best: tuple[float, float, list[tuple[NDArray[np.float32], NDArray[np.float64]]], NDArray[np.float64]]
    best = (-1.0, config.c, [], np.zeros(0))
    for c in candidates:  # one C at a time: only the best C's fold models are kept in memory
        fitted = Parallel(n_jobs=config.n_jobs, prefer="threads")(
            delayed(_fit_fold)(features, y, classes, train_idx, config, c) for train_idx, _ in splits
        )
        scores = np.zeros((len(covered), len(classes)))
        at = 0
        for (coef, intercept), (_, test_idx) in zip(fitted, splits, strict=True):
            scores[at : at + len(test_idx)] = np.asarray(features[test_idx] @ coef.T) + intercept
            at += len(test_idx)
        f1 = macro_f1(list(y[covered]), [classes[i] for i in scores.argmax(axis=1)])
        if f1 > best[0] + 1e-9:  # on a tie the smaller, more regularised C stays
            best = (f1, c, fitted, scores)
    _, chosen_c, fitted, oof = best
    y_seen = y[covered]
    y_index = y_index[covered]
    temperature, iso_x, iso_y = fit_calibration(oof, y_index)
    coef = np.mean([c for c, _ in fitted], axis=0, dtype=np.float64)
    intercept = np.mean([i for _, i in fitted], axis=0)
    head = Head(
        name=name,
        classes=classes,
        coef=coef.astype(np.float32),
        intercept=intercept,
        temperature=temperature,
        iso_x=iso_x,
        iso_y=iso_y,
    )
    proba = head.calibrate(oof)
    pred = [classes[i] for i in proba.argmax(axis=1)]
    confidence, cross_correct = cross_fitted_confidence(oof, y_index, config.random_state)
    correct = proba.argmax(axis=1) == y_index
    metrics = {
        "folds": float(folds),
        "fold_fits": float(len(splits)),
        "rows_scored": float(len(covered)),
        "accuracy": float(correct.mean()),
        "macro_f1": macro_f1(list(y_seen), pred),
        "ece": expected_calibration_error(confidence, cross_correct),
        "temperature": temperature,
        "c": chosen_c,
        "c_candidates": float(len(candidates)),
    }
    return head, metrics, abstention_curve(confidence, cross_correct)


def train(
    texts: Sequence[str],
    categories: Sequence[str],
    priorities: Sequence[str | None] | None,
    *,
    out_dir: Path,
    config: TrainConfig | None = None,
    version: str | None = None,
    source: str = "",
    progress: Callable[[str], None] | None = None,
    history_categories: Sequence[str] | None = None,
) -> TrainResult:
    """Fit both heads and write an immutable model directory at `out_dir` (new or empty).

    Categories below `config.rare_label_min` examples are folded into "other" (with a warning).
    Priorities must already be normalised to critical/high/medium/low (None = unknown); levels
    below the minimum are left out of the priority head, which then never outputs them. With fewer
    than two usable priority levels there is no priority head and serving falls back to rules.
    `progress` hears the name of each phase as it starts (a retrain of a large history takes a
    while, and an admin should see it is moving). `history_categories`: the categories of the
    whole history when these rows are a slice of it, to judge rare labels on (see
    `fold_rare_labels`).
    """
    say = progress or (lambda _phase: None)
    config = config or TrainConfig()
    started = time.perf_counter()
    if len(texts) != len(categories) or (priorities is not None and len(priorities) != len(texts)):
        raise TrainingDataError("texts, categories and priorities must have the same length")
    notes: list[str] = []
    rows = [(t, c.strip()) for t, c in zip(texts, categories, strict=True)]
    usable = [i for i, (t, c) in enumerate(rows) if t.strip() and c]
    if len(usable) < len(rows):
        notes.append(f"{len(rows) - len(usable)} rows without text or category were left out")
    texts_u = [rows[i][0] for i in usable]
    cats_u = [rows[i][1] for i in usable]
    prios_u = [priorities[i] for i in usable] if priorities is not None else None
    hash_ = data_hash(texts_u, cats_u, prios_u)

    cats_u, merged = merge_label_spellings(cats_u)
    if merged:
        listed = ", ".join(f"{variant!r} → {kept!r}" for variant, kept in sorted(merged.items()))
        notes.append(f"category spellings that differ only in case or spacing were merged: {listed}")
    history = [c.strip() for c in history_categories if c.strip()] if history_categories else None
    folded, rare = fold_rare_labels(cats_u, config.rare_label_min, history)
    if rare:
        listed = ", ".join(f"{label} ({n})" for label, n in sorted(rare.items(), key=lambda kv: -kv[1]))
        notes.append(
            f"{len(rare)} categories with fewer than {config.rare_label_min} examples folded into "
            f"'{OTHER}': {listed}"
        )
    if Counter(folded).get(OTHER, 0) == 1:  # a single folded row cannot be cross-validated
        drop = folded.index(OTHER)
        notes.append("the only 'other' row was left out (one example cannot be learned)")
        del texts_u[drop], folded[drop]
        if prios_u is not None:
            del prios_u[drop]
    if len(set(folded)) < 2:
        raise TrainingDataError(
            f"training needs at least two categories with {config.rare_label_min}+ examples each; "
            f"got {len(texts_u)} usable rows in {len(set(cats_u))} categories"
        )

    say(f"word and character features of {len(texts_u)} tickets")
    features = build_features(config)
    matrix = features.fit_transform(texts_u)
    groups = text_groups(texts_u)
    jobs: list[tuple[str, Any, list[str], NDArray[np.int64]]] = [(CATEGORY, matrix, folded, groups)]
    if prios_u is not None:
        known = [i for i, p in enumerate(prios_u) if p in PRIORITIES]
        prio_counts = Counter(prios_u[i] for i in known)
        kept = {p for p, n in prio_counts.items() if n >= max(2, config.rare_label_min)}
        left_out = sorted(set(prio_counts) - kept, key=lambda p: PRIORITIES.index(str(p)))
        if left_out:
            notes.append(
                f"priority levels with fewer than {config.rare_label_min} examples are not learned: "
                + ", ".join(f"{p} ({prio_counts[p]})" for p in left_out)
            )
        idx = [i for i in known if prios_u[i] in kept]
        if len(kept) >= 2 and len(set(groups[idx].tolist())) >= 2:
            jobs.append((PRIORITY, matrix[idx], [str(prios_u[i]) for i in idx], groups[idx]))
        elif len(kept) >= 2:
            notes.append("all tickets with a priority have one text: priority will come from rules")
        else:
            notes.append("fewer than two priority levels to learn from: priority will come from rules")
    else:
        notes.append("no priority labels: priority will come from rules")
    say(" and ".join(name for name, *_ in jobs) + " heads: cross-validation and calibration")
    # The heads are independent and liblinear releases the GIL: fit them side by side.
    with quiet_fitting():
        fitted = Parallel(n_jobs=min(len(jobs), 2) if config.n_jobs != 1 else 1, prefer="threads")(
            delayed(fit_head)(name, head_matrix, head_labels, head_groups, config)
            for name, head_matrix, head_labels, head_groups in jobs
        )
    heads: dict[str, Head] = {}
    cv: dict[str, dict[str, float]] = {}
    abstention: dict[str, list[tuple[float, float, float]]] = {}
    for (name, *_), (head, metrics, curve) in zip(jobs, fitted, strict=True):
        heads[name], cv[name], abstention[name] = head, metrics, curve

    version = version or new_version(hash_)
    manifest = {
        "version": version,
        "created_at": datetime.now(UTC).isoformat(),
        "data": {"hash": hash_, "rows": len(texts_u), "source": source},
        "labels": {name: list(head.classes) for name, head in heads.items()},
        "folded_labels": rare,
        "merged_labels": merged,
        "metrics": {"cv": cv, "abstention": abstention},
        "config": config_dict(config),
        "warnings": notes,
    }
    say("writing the model directory")
    path = write_artifact(Path(out_dir), {"features": features, "heads": heads}, manifest)
    return TrainResult(
        path=path,
        version=version,
        manifest=manifest,
        warnings=tuple(notes),
        seconds=time.perf_counter() - started,
        cv_metrics=cv,
        abstention=abstention,
    )
