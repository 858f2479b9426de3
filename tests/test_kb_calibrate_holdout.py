"""Calibrating on the questions an admin has: all of them answerable.

Such a set has nothing to learn abstaining from; `kb calibrate` then holds articles out (as
`--beir` holds documents out) so off-topic questions are still refused afterwards.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kb_index.calibration import default_calibration
from kb_index.encoders import Encoder, load_encoder
from kb_index.errors import CalibrationError
from kb_index.evaluation import Query, QueryOutcome, calibrate_on_index, calibrate_outcomes, hold_out_articles
from kb_index.ingest import ingest_paths
from kb_index.searcher import LiveSearcher
from tests.conftest import shared_path

OFF_TOPIC = (
    "my vpn disconnects every few minutes",
    "how do I reset my windows password",
    "translate hello to spanish",
    "how do I get admin rights on my mac",
    "password",
    "what's the weather tomorrow",
)


def test_articles_are_held_out_only_when_every_question_has_an_answer() -> None:
    queries = [Query(f"q{i}", f"question {i}") for i in range(20)]
    qrels = {f"q{i}": {f"a{i % 10}"} for i in range(20)}
    present = {f"a{i}" for i in range(10)}
    held = hold_out_articles(queries, qrels, present)
    assert len(held) == 2 and held <= present
    assert hold_out_articles(queries, qrels, present) == held  # the same split every run
    with_negative = {k: v for k, v in qrels.items() if k != "q0"}
    assert hold_out_articles(queries, with_negative, present) == frozenset()


def test_a_set_without_out_of_kb_questions_is_not_calibrated_on() -> None:
    rng = np.random.default_rng(0)
    outcomes = [
        QueryOutcome(
            Query(f"q{i}", "x"),
            {"a"},
            ["a" if i % 4 else "b"],
            {"fused_top1": float(rng.random()), "dense_top1": float(rng.random())},
            {"a"},
        )
        for i in range(600)
    ]
    with pytest.raises(CalibrationError, match="cannot answer"):
        calibrate_outcomes(
            outcomes,
            target_precision=0.95,
            encoder_key="minilm",
            source="t",
            base=default_calibration("minilm"),
        )


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return load_encoder("minilm")


@pytest.mark.slow
@pytest.mark.shared
def test_calibrating_on_answerable_questions_still_refuses_off_topic_ones(
    tmp_path: Path, encoder: Encoder
) -> None:
    stackfaq = shared_path("data", "retrieval", "stackfaq")
    root = tmp_path / "index"
    ingest_paths(root, [stackfaq / "corpus.jsonl"], encoder)
    calibration = calibrate_on_index(
        root,
        encoder,
        stackfaq / "queries.jsonl",  # 604 questions, every one answered by the corpus
        stackfaq / "qrels" / "test.tsv",
        target_precision=0.95,
        base=default_calibration("minilm"),
    )
    assert calibration.metrics["held_out_articles"] == 25
    assert calibration.metrics["out_of_kb_queries"] > 0
    assert calibration.metrics["refitted"] == 1.0  # ≥ 500 questions, now with negatives to learn from
    searcher = LiveSearcher(root, encoder)
    answered = [q for q in OFF_TOPIC if searcher.search(q).answerable()]
    assert answered == []
    in_kb = searcher.search("How do I delete my Facebook account?")
    assert in_kb.answerable()
