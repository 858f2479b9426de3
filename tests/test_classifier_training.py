"""Training writes an immutable, verified model; loading refuses anything corrupted or mismatched."""

from __future__ import annotations

import json
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from classifier.artifact import MANIFEST, MODEL_FILE
from classifier.dataset import ColumnMapping, HistoryRow, TrainingRows, read_history_csv, rows_from_history
from classifier.errors import ArtifactError, TrainingDataError
from classifier.evaluation import evaluate_rows
from classifier.features import WordCharNgrams
from classifier.model import CATEGORY, PRIORITY, load_model
from classifier.recipe import abstention_at
from classifier.training import OTHER, TrainConfig, TrainResult, grouped_folds, text_groups, train

FIXTURE = Path(__file__).parent / "fixtures" / "classifier" / "tickets.csv"
MAPPING = ColumnMapping(("subject", "body"), "category", priority_col="priority")


def fixture_rows() -> list[HistoryRow]:
    return [r for r in read_history_csv(FIXTURE, MAPPING) if isinstance(r, HistoryRow)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    rows = rows_from_history(fixture_rows(), with_priority=True)
    out = tmp_path_factory.mktemp("models") / "m1"
    return train(rows.texts, rows.categories, rows.priorities, out_dir=out, config=TrainConfig(cv_folds=3))


def _writable(path: Path) -> None:
    for p in [path, *path.iterdir()]:
        os.chmod(p, 0o755 if p.is_dir() else 0o644)


def test_model_learns_the_history_and_outputs_only_trained_labels(trained: TrainResult) -> None:
    model = load_model(trained.path)
    rows = fixture_rows()
    trained_labels = set(model.labels(CATEGORY))
    assert trained_labels == {r.category for r in rows if r.category != "security"} | {OTHER}
    predictions = model.predict(["the printer on floor two jams", "wifi keeps dropping in the office"])
    assert predictions[CATEGORY] == ["printing", "network"]
    # An unseen kind of request still gets one of the known labels, never an invented one.
    ranked = model.rank("please order me a standing desk")
    assert {label for label, _ in ranked[CATEGORY]} == trained_labels
    assert abs(sum(p for _, p in ranked[CATEGORY]) - 1.0) < 1e-6
    assert set(model.labels(PRIORITY)) <= {"critical", "high", "medium", "low"}


def test_rare_labels_are_folded_into_other_with_a_warning(trained: TrainResult) -> None:
    assert any("security (3)" in w and OTHER in w for w in trained.warnings)
    assert trained.manifest["folded_labels"] == {"security": 3}


def test_manifest_records_what_a_model_was_made_of(trained: TrainResult) -> None:
    manifest = json.loads((trained.path / MANIFEST).read_text())
    assert manifest["version"] == trained.version
    assert manifest["data"]["rows"] == len(fixture_rows())
    assert len(manifest["data"]["hash"]) == 64
    assert {"scikit-learn", "numpy", "python"} <= set(manifest["libraries"])
    assert manifest["labels"][CATEGORY] == list(load_model(trained.path).labels(CATEGORY))
    cv = manifest["metrics"]["cv"][CATEGORY]
    assert 0.0 <= cv["ece"] <= 1.0 and 0.0 <= cv["macro_f1"] <= 1.0
    assert manifest["created_at"]


def test_a_model_directory_is_never_overwritten(trained: TrainResult) -> None:
    rows = rows_from_history(fixture_rows(), with_priority=False)
    with pytest.raises(ArtifactError, match="immutable"):
        train(rows.texts, rows.categories, None, out_dir=trained.path)
    assert not os.access(trained.path / MODEL_FILE, os.W_OK) or os.geteuid() == 0


def _copy(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    _writable(dst)
    return dst


def test_corrupted_artifacts_are_refused_with_a_clear_message(trained: TrainResult, tmp_path: Path) -> None:
    flipped = _copy(trained.path, tmp_path / "flipped")
    data = bytearray((flipped / MODEL_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (flipped / MODEL_FILE).write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="does not match the hash"):
        load_model(flipped)

    missing = _copy(trained.path, tmp_path / "missing")
    (missing / MODEL_FILE).unlink()
    with pytest.raises(ArtifactError, match=r"missing model\.pkl"):
        load_model(missing)

    with pytest.raises(ArtifactError, match="does not exist"):
        load_model(tmp_path / "nowhere")


def test_a_model_built_with_other_library_versions_is_refused(trained: TrainResult, tmp_path: Path) -> None:
    other = _copy(trained.path, tmp_path / "other")
    manifest = json.loads((other / MANIFEST).read_text())
    manifest["libraries"]["scikit-learn"] = "0.24.2"
    (other / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match=r"scikit-learn 0\.24\.2"):
        load_model(other)


def test_labels_spelled_with_other_case_or_spacing_are_one_queue(tmp_path: Path) -> None:
    rows = rows_from_history(fixture_rows(), with_priority=False)
    # A hand-typed export: some printing tickets say "Printing " and a few "PRINTING"; "Other" is
    # the export's own catch-all.
    retyped = [
        ("Printing " if i % 3 == 0 else "PRINTING" if i % 3 == 1 else c) if c == "printing" else c
        for i, c in enumerate(rows.categories)
    ]
    retyped = ["Other" if c == "security" else c for c in retyped]
    result = train(rows.texts, retyped, None, out_dir=tmp_path / "m", config=TrainConfig(cv_folds=2))
    model = load_model(result.path)
    printing = [label for label in model.labels(CATEGORY) if label.strip().lower() == "printing"]
    assert len(printing) == 1 and printing[0] in {"Printing", "PRINTING", "printing"}
    assert [label for label in model.labels(CATEGORY) if label.lower() == OTHER] == [OTHER]
    assert model.predict(["the printer on floor two jams"])[CATEGORY] == printing
    assert set(result.manifest["merged_labels"].values()) == {printing[0], OTHER}
    assert any("differ only in case or spacing" in w for w in result.warnings)
    # Evaluating on the export as it is scores those tickets against the merged label.
    report = evaluate_rows(model, TrainingRows(rows.texts, retyped, None), {CATEGORY: 0.0})[CATEGORY]
    assert report["unknown_labels"] == 0 and report["accuracy"] > 0.8


def test_training_needs_two_learnable_categories(tmp_path: Path) -> None:
    with pytest.raises(TrainingDataError, match="at least two categories"):
        train(["a b c"] * 20, ["only"] * 20, None, out_dir=tmp_path / "m")


def test_no_priority_labels_means_no_priority_head(tmp_path: Path) -> None:
    rows = rows_from_history(fixture_rows(), with_priority=False)
    result = train(rows.texts, rows.categories, None, out_dir=tmp_path / "m", config=TrainConfig(cv_folds=2))
    assert PRIORITY not in load_model(result.path).heads
    assert any("priority will come from rules" in w for w in result.warnings)


def test_char_ngrams_match_scikit_learn_char_wb_including_unseen_words() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = [r.text for r in fixture_rows()]
    ours = WordCharNgrams((2, 5), min_df=2)
    theirs = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True, strip_accents="unicode"
    )
    a = ours.fit_transform(texts)
    b = theirs.fit_transform(texts)
    assert set(ours.vocabulary_) == set(theirs.vocabulary_)
    order = [ours.vocabulary_[g] for g in sorted(theirs.vocabulary_, key=theirs.vocabulary_.__getitem__)]
    assert abs(a[:, order] - b).max() < 1e-9
    unseen = ["the prnter jamms again Ünïcode"]
    assert abs(ours.transform(unseen)[:, order] - theirs.transform(unseen)).max() < 1e-9


def test_single_ticket_fast_path_gives_the_same_probabilities_as_batches(trained: TrainResult) -> None:
    model = load_model(trained.path)
    texts = ["the printer jams", "wifi drops in the Büro", "zzz unseen words only", ""]
    batch = model.proba(texts)
    for i, text in enumerate(texts):
        ranked = model.rank(text)
        for head, probs in batch.items():
            expected = dict(zip(model.labels(head), probs[i].tolist(), strict=True))
            assert all(abs(expected[label] - p) < 1e-6 for label, p in ranked[head])


def test_calibration_changes_confidence_never_the_predicted_label() -> None:
    from classifier.model import top_label_calibrate

    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(6) * 0.7, size=500)
    # A harsh curve: every top probability is pulled far down, below some alternatives' share.
    calibrated = top_label_calibrate(probs, (0.0, 1.0), (0.05, 0.3))
    assert (calibrated.argmax(axis=1) == probs.argmax(axis=1)).all()
    assert np.allclose(calibrated.sum(axis=1), 1.0)


def test_each_head_picks_its_regularisation_on_small_histories_and_says_which(trained: TrainResult) -> None:
    grid = TrainConfig().c_grid
    for head in (CATEGORY, PRIORITY):
        cv = trained.manifest["metrics"]["cv"][head]
        assert cv["c"] in grid and cv["c_candidates"] == len(grid)


def test_large_histories_skip_the_search_and_use_the_configured_c(tmp_path: Path) -> None:
    rows = rows_from_history(fixture_rows(), with_priority=False)
    config = TrainConfig(cv_folds=3, c=0.3, c_grid_max_rows=len(rows) - 1)
    result = train(rows.texts, rows.categories, None, out_dir=tmp_path / "m", config=config)
    assert result.cv_metrics[CATEGORY]["c"] == 0.3
    assert result.cv_metrics[CATEGORY]["c_candidates"] == 1


def test_class_weights_run_from_unweighted_to_balanced() -> None:
    from sklearn.utils.class_weight import compute_class_weight

    from classifier.training import sample_weights

    labels = np.array(["access"] * 90 + ["printing"] * 9 + ["7"] * 1)
    balanced = dict(
        zip(
            np.unique(labels),
            compute_class_weight("balanced", classes=np.unique(labels), y=labels),
            strict=True,
        )
    )
    assert np.allclose(sample_weights(labels, 1.0), [balanced[label] for label in labels])
    assert np.allclose(sample_weights(labels, 0.0), 1.0)
    # The default square root: a queue ten times smaller weighs about three times more per ticket.
    half = sample_weights(labels, TrainConfig().class_weight_power)
    assert half[90] / half[0] == pytest.approx(10**0.5)


def test_the_manifest_says_how_classes_were_weighted(trained: TrainResult) -> None:
    assert trained.manifest["config"]["class_weight_power"] == TrainConfig().class_weight_power


def test_many_classes_fitted_in_parallel_groups_predict_as_one_fit_does() -> None:
    from classifier.training import _fit_fold, build_features, class_groups

    rng = np.random.default_rng(0)
    queues = [f"queue-{i:02d}" for i in range(40)]
    vocab = {q: [f"{q.replace('-', '')}w{j}" for j in range(12)] for q in queues}
    filler = [f"common{j}" for j in range(200)]
    labels = [queues[int(i)] for i in rng.integers(0, len(queues), 1200)]
    texts = [
        " ".join([*rng.choice(vocab[q], 2), *rng.choice(filler, 8), *rng.choice(vocab[queues[0]], 1)])
        for q in labels
    ]
    y = np.array(labels)
    matrix = build_features(TrainConfig()).fit_transform(texts)
    classes = tuple(sorted(set(labels)))
    train_idx, test_idx = np.arange(900), np.arange(900, 1200)
    one = TrainConfig(min_classes_per_group=1000, n_jobs=2)
    grouped = TrainConfig(min_classes_per_group=8, n_jobs=2)
    assert len(class_groups(len(classes), one)) == 1 and len(class_groups(len(classes), grouped)) == 2

    def predict(config: TrainConfig) -> np.ndarray:
        coef, intercept = _fit_fold(matrix, y, classes, train_idx, config, 0.5)
        return np.array(classes)[(matrix[test_idx] @ coef.T + intercept).argmax(axis=1)]

    single, parallel = predict(one), predict(grouped)
    assert (single == parallel).mean() >= 0.98
    assert (parallel == y[test_idx]).mean() >= 0.9


def test_training_prints_no_library_warnings_and_leaves_warning_filters_as_they_were(tmp_path: Path) -> None:
    rows = rows_from_history(fixture_rows(), with_priority=True)
    before = list(warnings.filters)
    for attempt in range(3):  # the heads and folds run on threads: a race shows up only sometimes
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            train(
                rows.texts,
                rows.categories,
                rows.priorities,
                out_dir=tmp_path / f"m{attempt}",
                # 'other' has 3 tickets for 5 folds, and 5 iterations cannot converge: both make
                # scikit-learn warn, and neither is news to an admin reading the CV figures.
                config=TrainConfig(cv_folds=5, max_iter=5),
            )
        assert [str(w.message) for w in caught] == []
    assert warnings.filters == before


def test_training_tells_each_phase_as_it_starts(tmp_path: Path) -> None:
    rows = rows_from_history(fixture_rows(), with_priority=True)
    phases: list[str] = []
    train(
        rows.texts,
        rows.categories,
        rows.priorities,
        out_dir=tmp_path / "m",
        config=TrainConfig(cv_folds=2),
        progress=phases.append,
    )
    assert len(phases) == 3
    assert f"features of {len(rows)} tickets" in phases[0]
    assert "category and priority heads" in phases[1]
    assert "writing" in phases[2]


def test_training_reports_what_each_abstention_threshold_would_do(trained: TrainResult) -> None:
    for head in (CATEGORY, PRIORITY):
        curve = trained.abstention[head]
        thresholds = [t for t, _, _ in curve]
        coverage = [c for _, c, _ in curve]
        assert thresholds == sorted(thresholds) and 0.45 in thresholds
        assert coverage == sorted(coverage, reverse=True)  # a higher bar answers fewer tickets
        assert all(0 <= a <= 1 for _, _, a in curve)
    # Confident answers are the more accurate ones: the lowest bar answers everything, less well.
    low, high = trained.abstention[CATEGORY][0], abstention_at(trained.abstention[CATEGORY], 0.6)
    assert low[1] == 1.0 and high is not None and high[2] >= low[2]
    stored = json.loads((trained.path / MANIFEST).read_text())["metrics"]["abstention"]
    assert stored[CATEGORY][0] == list(low)


def test_copies_of_a_ticket_never_sit_on_both_sides_of_a_cv_split() -> None:
    texts = [f"ticket number {i}" for i in range(30)]
    copies = texts * 3 + [t.replace(" ", "  ") + "\r\n" for t in texts]  # re-exported, whitespace aside
    labels = [("a", "b")[i % 2] for i in range(30)] * 4
    groups = text_groups(copies)
    for folds in (5, 2):
        splits = grouped_folds(labels, groups, folds, seed=0)
        assert len(splits) == folds
        for train_idx, test_idx in splits:
            assert not set(groups[train_idx].tolist()) & set(groups[test_idx].tolist())
            assert {labels[i] for i in test_idx} == {"a", "b"}  # still stratified


def test_a_history_imported_three_times_does_not_inflate_cross_validation(tmp_path: Path) -> None:
    # Labels that no text predicts: an honest CV scores them near chance, however often each
    # ticket was imported; copies split across folds would be "recognised" and score near 1.
    rng = np.random.default_rng(0)
    texts = [f"request {i} about {' '.join(rng.choice(list('abcdefghij'), 4))}" for i in range(80)]
    labels = [str(rng.choice(["access", "printing"])) for _ in texts]
    result = train(texts * 3, labels * 3, None, out_dir=tmp_path / "m", config=TrainConfig(cv_folds=5))
    assert result.cv_metrics[CATEGORY]["macro_f1"] < 0.75


def test_one_text_under_every_label_cannot_be_cross_validated(tmp_path: Path) -> None:
    with pytest.raises(TrainingDataError, match="at least two different ticket texts"):
        train(["same text"] * 20, ["a", "b"] * 10, None, out_dir=tmp_path / "m")


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (lambda m: {**m, "libraries": None}, "'libraries' is a JSON null"),
        (lambda m: {**m, "labels": ["access"]}, "'labels' is a JSON array"),
        (lambda m: {**m, "labels": {"category": "access"}}, "list of labels"),
        (lambda m: [m], "holds a JSON array, not a model manifest"),
        (lambda m: {k: v for k, v in m.items() if k != "version"}, "has no 'version'"),
    ],
)
def test_a_manifest_of_the_wrong_shape_is_refused_with_a_sentence(
    trained: TrainResult, tmp_path: Path, edit: Any, says: str
) -> None:
    broken = _copy(trained.path, tmp_path / "broken")
    (broken / MANIFEST).write_text(json.dumps(edit(json.loads((broken / MANIFEST).read_text()))))
    with pytest.raises(ArtifactError, match=re.escape(says)):
        load_model(broken)


def test_out_pointing_at_a_file_is_refused_in_words(tmp_path: Path) -> None:
    rows = rows_from_history(fixture_rows(), with_priority=False)
    (tmp_path / "taken").write_text("notes")
    with pytest.raises(ArtifactError, match="is a file; give a new directory"):
        train(rows.texts, rows.categories, None, out_dir=tmp_path / "taken", config=TrainConfig(cv_folds=3))
    assert (tmp_path / "taken").read_text() == "notes"


def test_labels_the_model_never_saw_are_misses_and_folded_ones_are_other(trained: TrainResult) -> None:
    model = load_model(trained.path)
    folded = next(iter(trained.manifest["folded_labels"]))
    text = "the printer jams on every page"
    rows = TrainingRows([text, text, text], ["a brand new queue", "another new one", folded], None)
    report = evaluate_rows(model, rows, {})[CATEGORY]
    assert (report["unknown_labels"], report["folded_labels"]) == (2, 1)
    assert report["accuracy"] <= 1 / 3 and report["macro_f1"] < 0.5
    assert "a brand new queue" in report["per_class"]  # shown, with its recall of 0


def test_a_long_tail_of_queues_fits_one_fold_like_a_large_history(tmp_path: Path) -> None:
    rows = rows_from_history(fixture_rows(), with_priority=False)
    every = train(rows.texts, rows.categories, None, out_dir=tmp_path / "a", config=TrainConfig(cv_folds=3))
    assert every.cv_metrics[CATEGORY]["fold_fits"] == 3
    work = len(rows.texts) * len(set(rows.categories))  # rows × classes, the cost of a fit
    one = train(
        rows.texts,
        rows.categories,
        None,
        out_dir=tmp_path / "b",
        config=TrainConfig(cv_folds=3, large_work=work // 2),
    )
    assert one.cv_metrics[CATEGORY]["fold_fits"] == 1
    assert load_model(one.path).predict(["the printer jams"])[CATEGORY][0] in one.manifest["labels"][CATEGORY]
