"""Choosing the answer threshold and storing the confidence model (no model needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kb_index.calibration import Calibration, choose_threshold, default_calibration, fit_calibration
from kb_index.errors import CalibrationError


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), target=st.sampled_from([0.8, 0.9, 0.95]))
def test_answers_above_the_threshold_reach_the_target_precision(seed: int, target: float) -> None:
    rng = np.random.default_rng(seed)
    probabilities = rng.random(300)
    correct = rng.random(300) < probabilities  # higher confidence, more often right
    threshold = choose_threshold(probabilities, correct, target)
    answered = probabilities >= threshold
    if threshold < 1.0:
        assert correct[answered].mean() >= target


def test_an_unreachable_target_means_never_answer() -> None:
    probabilities = np.linspace(0, 1, 50)
    assert choose_threshold(probabilities, np.zeros(50, dtype=bool), 0.95) == 1.0


def test_fitted_calibration_round_trips_and_orders_confidence(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    good = rng.random(200) < 0.7
    features = np.column_stack([good * 0.3 + rng.normal(0.5, 0.1, 200)] + [rng.normal(0, 0.1, 200)] * 5)
    fitted = fit_calibration(features, good, target_precision=0.9, encoder="minilm", source="test")
    fitted.save(tmp_path)
    loaded = Calibration.load(tmp_path)
    assert loaded == fitted
    names = ("fused_top1", "fused_margin", "dense_top1", "dense_margin", "lexical_top1", "lexical_agrees")
    strong = dict(zip(names, [0.9, 0, 0, 0, 0, 0], strict=True))
    weak = dict(zip(names, [0.3, 0, 0, 0, 0, 0], strict=True))
    assert loaded is not None and loaded.probability(strong) > loaded.probability(weak)


def test_calibration_without_negatives_is_refused() -> None:
    with pytest.raises(CalibrationError, match="out-of-KB"):
        fit_calibration(
            np.ones((40, 6)), np.ones(40, dtype=bool), target_precision=0.95, encoder="x", source="t"
        )


def test_an_encoder_without_a_shipped_calibration_does_not_answer_until_calibrated() -> None:
    assert default_calibration("minilm+e5").threshold == 1.0
    assert default_calibration("minilm-onnx").threshold < 1.0
    assert default_calibration("e5").threshold < 1.0
