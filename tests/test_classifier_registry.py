"""Registry, promotion gate, hot reload in serving, and corrections feeding the next training."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.triage import NotAllowedError, TriageService, correct_ticket
from classifier.artifact import MODEL_FILE
from classifier.dataset import (
    ColumnMapping,
    HistoryRow,
    TrainingRows,
    read_history_csv,
    rows_from_history,
    training_rows_from_db,
)
from classifier.errors import RegistryError
from classifier.evaluation import corrected_rows, evaluate_rows
from classifier.history import import_history
from classifier.metrics import macro_f1, macro_f1_difference_interval
from classifier.model import CATEGORY, load_model
from classifier.registry import (
    activate,
    active_model,
    is_holdout,
    list_models,
    promote,
    rollback,
    train_and_register,
)
from classifier.training import TrainConfig
from classifier.types import NEEDS_TRIAGE
from models import ClassifierModel, Role, Ticket, TicketEvent, User
from tests.conftest import TestDatabase

FIXTURE = Path(__file__).parent / "fixtures" / "classifier" / "tickets.csv"
MAPPING = ColumnMapping(("subject", "body"), "category", priority_col="priority", tier_col="tier")
FAST = TrainConfig(cv_folds=3)


def history() -> list[HistoryRow]:
    return [r for r in read_history_csv(FIXTURE, MAPPING) if isinstance(r, HistoryRow)]


def train_fixture(
    session: Session,
    models: Path,
    rows: list[HistoryRow] | None = None,
    *,
    tolerance: float = 0.01,
    force: bool = False,
) -> str:
    outcome = train_and_register(
        session,
        rows_from_history(rows or history(), with_priority=True),
        models_dir=models,
        tolerance=tolerance,
        config=FAST,
        force=force,
    )
    session.commit()
    return outcome.status


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def service(db: TestDatabase, clock: FakeClock) -> TriageService:
    return TriageService(
        db.sessions, category_threshold=0.3, priority_threshold=0.3, reload_interval=5, clock=clock
    )


def test_without_a_model_triage_still_answers_needs_triage(db: TestDatabase) -> None:
    prediction = service(db, FakeClock()).triage("the whole office is down, nobody can work")
    assert prediction.model_version is None
    assert prediction.category.label == NEEDS_TRIAGE and prediction.category.abstained
    assert prediction.priority.label in {"high", "critical"}
    assert service(db, FakeClock()).triage("question about my font").priority.label == "medium"


def test_first_model_is_promoted_and_same_data_again_is_harmless(db: TestDatabase, tmp_path: Path) -> None:
    with db.sessions() as session:
        assert train_fixture(session, tmp_path) == "promoted"
        assert train_fixture(session, tmp_path) == "unchanged"
        rows = list_models(session)
    assert len(rows) == 1 and rows[0].active
    assert rows[0].rows == len(history()) and rows[0].metrics["cv"][CATEGORY]["macro_f1"] > 0.5


def test_a_worse_model_is_kept_but_not_activated(db: TestDatabase, tmp_path: Path) -> None:
    with db.sessions() as session:
        train_fixture(session, tmp_path)
        good = active_model(session)
        assert good is not None
        # Nearly no regularisation budget (and no C search to undo it): the model barely learns,
        # so its held-out macro-F1 drops.
        weak = TrainConfig(cv_folds=3, c=1e-5, c_grid=())
        outcome = train_and_register(
            session, rows_from_history(history(), True), models_dir=tmp_path, tolerance=0.01, config=weak
        )
        session.commit()
        assert outcome.status == "kept"
        assert "not promoted" in outcome.message and "macro-F1" in outcome.message
        # The admin also sees how far the held-out slice can be trusted: it is small here.
        assert (
            "90% of resamples" in outcome.message
            and "held-out tickets, so small differences" in outcome.message
        )
        low, high = outcome.row.metrics["gate"][CATEGORY]["difference_interval_90"]  # type: ignore[union-attr]
        gap = outcome.row.metrics["gate"][CATEGORY]  # type: ignore[union-attr]
        assert low <= gap["new_macro_f1"] - gap["active_macro_f1"] <= high and low < 0
        assert active_model(session) is not None and active_model(session).version == good.version  # type: ignore[union-attr]


def test_serving_follows_promotion_and_rollback_without_restart(db: TestDatabase, tmp_path: Path) -> None:
    clock = FakeClock()
    triage = service(db, clock)
    with db.sessions() as session:
        train_fixture(session, tmp_path)
        first = active_model(session).version  # type: ignore[union-attr]
    clock.now += 10
    prediction = triage.triage("the printer jams on every page")
    assert prediction.model_version == first
    assert prediction.category.label == "printing" and not prediction.category.abstained

    with db.sessions() as session:
        # More history (the fixture plus reworded copies): a new model that passes the gate.
        extra = [
            HistoryRow(**{**r.__dict__, "ref": r.ref + "x", "body": r.body + " again"})
            for r in history()[:40]
        ]
        # A generous tolerance: the fixture's held-out slice (~15 tickets) cannot rank two good models.
        assert train_fixture(session, tmp_path, history() + extra, tolerance=1.0) == "promoted"
        second = active_model(session).version  # type: ignore[union-attr]
    assert second != first
    assert triage.triage("printer jam").model_version == first  # not re-checked yet: cheap polling
    clock.now += 10
    assert triage.triage("printer jam").model_version == second

    with db.sessions() as session:
        now_active, retired = rollback(session)
        session.commit()
    assert (now_active.version, retired.version) == (first, second)
    clock.now += 10
    assert triage.triage("printer jam").model_version == first
    with db.sessions() as session, pytest.raises(RegistryError, match="no earlier promoted model"):
        rollback(session)


def test_a_corrupted_model_is_refused_and_serving_keeps_the_last_good_one(
    db: TestDatabase, tmp_path: Path
) -> None:
    clock = FakeClock()
    triage = service(db, clock)
    with db.sessions() as session:
        train_fixture(session, tmp_path)
        good = active_model(session).version  # type: ignore[union-attr]
    assert triage.triage("wifi drops").model_version == good

    with db.sessions() as session:
        extra = [
            HistoryRow(**{**r.__dict__, "ref": r.ref + "y", "body": r.body + " today"})
            for r in history()[:30]
        ]
        train_fixture(session, tmp_path, history() + extra, tolerance=1.0)
        bad = active_model(session)
        assert bad is not None and bad.version != good
        model_file = Path(bad.path) / MODEL_FILE
        os.chmod(model_file, 0o644)
        model_file.write_bytes(b"not a model")
        bad_version = bad.version
        # `promote` verifies the artifact first, so a broken model cannot be promoted by hand...
        from classifier.errors import ArtifactError

        with pytest.raises(ArtifactError, match="does not match the hash"):
            promote(session, bad_version)
    clock.now += 10
    # ...and one that broke after promotion is refused by serving, which keeps the last good model.
    prediction = triage.triage("wifi drops")
    assert prediction.model_version == good
    assert triage.last_error is not None and "hash" in triage.last_error


def test_corrections_change_what_the_next_training_learns(db: TestDatabase, tmp_path: Path) -> None:
    with db.sessions() as session:
        import_history(session, iter(history()), prefix="IT")
        engineer = User(external_id="cli:erin", display_name="Erin", role=Role.ENGINEER)
        requester = User(external_id="cli:rob", display_name="Rob", role=Role.REQUESTER)
        session.add_all([engineer, requester])
        session.commit()
        ticket = session.scalars(
            select(Ticket).where(Ticket.category == "printing", Ticket.priority != "critical")
        ).first()
        assert ticket is not None
        priority_before = ticket.priority
        with pytest.raises(NotAllowedError):
            correct_ticket(session, ticket, actor=requester, category="hardware")
        events = correct_ticket(
            session,
            ticket,
            actor=engineer,
            category="hardware",
            priority="critical",
            note="it was the printer's power supply",
        )
        session.commit()
        assert [(e.kind, e.data["from"], e.data["to"]) for e in events] == [
            ("category_changed", "printing", "hardware"),
            ("priority_changed", priority_before, "critical"),
        ]
        assert (ticket.category, ticket.priority) == ("hardware", "critical")
        trail = session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)).all()
        assert {e.kind for e in trail} == {"category_changed", "priority_changed"}

        rows = training_rows_from_db(session)
        assert rows.categories[rows.ticket_ids.index(ticket.id)] == "hardware"
        assert train_fixture_from_db(session, tmp_path) == "promoted"
        report = evaluate_rows(_active(session), corrected_rows(session), {CATEGORY: 0.3})
        assert report[CATEGORY]["n"] == 1


def train_fixture_from_db(session: Session, models: Path) -> str:
    outcome = train_and_register(
        session, training_rows_from_db(session), models_dir=models, tolerance=0.01, config=FAST
    )
    session.commit()
    return outcome.status


def _active(session: Session):  # type: ignore[no-untyped-def]
    from classifier.model import load_model

    row = active_model(session)
    assert row is not None
    return load_model(Path(row.path))


def test_only_one_model_is_ever_active(db: TestDatabase, tmp_path: Path) -> None:
    with db.sessions() as session:
        train_fixture(session, tmp_path)
        first = active_model(session)
        assert first is not None
        other = ClassifierModel(version="manual", path=first.path, data_hash="x", rows=1)
        session.add(other)
        session.flush()
        activate(session, other, "test")
        session.commit()
        assert [
            r.version for r in session.scalars(select(ClassifierModel).where(ClassifierModel.active))
        ] == ["manual"]


def test_the_gate_interval_narrows_with_more_held_out_tickets_and_is_zero_for_equal_models() -> None:
    rng = random.Random(7)
    labels = ["access", "email", "network", "printing"]

    def models_on(n: int) -> tuple[list[str], list[str], list[str]]:
        truth = [rng.choice(labels) for _ in range(n)]
        better = [t if rng.random() < 0.85 else rng.choice(labels) for t in truth]
        worse = [t if rng.random() < 0.75 else rng.choice(labels) for t in truth]
        return truth, better, worse

    truth, better, worse = models_on(50)
    small = macro_f1_difference_interval(truth, better, worse)
    truth, better, worse = models_on(5000)
    large = macro_f1_difference_interval(truth, better, worse)
    assert small[0] < large[0] <= large[1] < small[1]
    assert large[0] > 0  # with 5000 tickets an 8-point gap is no longer noise
    point = macro_f1(truth, better) - macro_f1(truth, worse)
    assert large[0] <= point <= large[1]
    assert macro_f1_difference_interval(truth, better, better) == (0.0, 0.0)


def _variant(suffix: str) -> list[HistoryRow]:
    """The fixture plus reworded copies: a history with a new hash that trains a similar model."""
    extra = [
        HistoryRow(**{**r.__dict__, "ref": r.ref + suffix, "body": f"{r.body} {suffix}"})
        for r in history()[:30]
    ]
    return history() + extra


def test_rollback_follows_the_activation_history_and_never_returns_to_a_rolled_back_model(
    db: TestDatabase, tmp_path: Path
) -> None:
    with db.sessions() as session:
        versions = []
        for suffix in ("", "again", "once more"):  # A, B, C, each promoted
            assert (
                train_fixture(session, tmp_path, _variant(suffix) if suffix else None, tolerance=1.0)
                == "promoted"
            )
            versions.append(active_model(session).version)  # type: ignore[union-attr]
        a, b, c = versions
        assert rollback(session)[0].version == b
        session.commit()
        assert train_fixture(session, tmp_path, _variant("later"), tolerance=1.0) == "promoted"  # D
        d = active_model(session).version  # type: ignore[union-attr]
        now_active, retired = rollback(session)
        assert (now_active.version, retired.version) == (b, d)  # not C, whose activation was undone
        assert rollback(session)[0].version == a
        session.commit()
        with pytest.raises(RegistryError, match="no earlier promoted model"):
            rollback(session)
        # Promoting a rolled-back model by hand is a new activation, which can be rolled back.
        promote(session, c)
        assert rollback(session)[0].version == a


def test_a_retrain_replaces_an_active_model_whose_manifest_is_broken(
    db: TestDatabase, tmp_path: Path
) -> None:
    with db.sessions() as session:
        train_fixture(session, tmp_path)
        broken = active_model(session)
        assert broken is not None
        manifest = Path(broken.path) / "manifest.json"
        os.chmod(manifest, 0o644)
        manifest.write_text(manifest.read_text().replace('"libraries": {', '"libraries": null, "x": {'))
        assert train_fixture(session, tmp_path, force=True) == "promoted"
        now = active_model(session)
        assert now is not None and now.version != broken.version
        assert "cannot be loaded" in (now.decision or "") and "'libraries' is a JSON null" in (
            now.decision or ""
        )


def test_the_registry_finds_a_model_trained_into_a_relative_directory_from_anywhere(
    db: TestDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    with db.sessions() as session:
        train_and_register(
            session,
            rows_from_history(history(), with_priority=True),
            models_dir=tmp_path / "models",
            tolerance=0.01,
            config=FAST,
            out_dir=Path("relmodel"),
        )
        session.commit()
    monkeypatch.chdir(tmp_path)
    with db.sessions() as session:
        row = active_model(session)
        assert row is not None and Path(row.path) == tmp_path / "work" / "relmodel"
        assert load_model(Path(row.path)).version == row.version


def test_copies_of_a_ticket_fall_on_the_same_side_of_the_held_out_slice() -> None:
    texts = [f"vpn drops every {i} minutes\nsince the update" for i in range(200)]
    sides = [is_holdout(t) for t in texts]
    assert 0 < sum(sides) < len(texts)
    reexported = [t.replace("\n", "\r\n  ").replace(" ", "  ") + " " for t in texts]
    assert [is_holdout(t) for t in reexported] == sides


def _renamed(rows: list[HistoryRow], prefix: str) -> list[HistoryRow]:
    """The same tickets under queue names the active model never saw."""
    return [HistoryRow(**{**r.__dict__, "category": f"{prefix}{r.category}"}) for r in rows]


def test_a_history_with_none_of_the_active_models_queues_is_not_promoted(
    db: TestDatabase, tmp_path: Path
) -> None:
    with db.sessions() as session:
        train_fixture(session, tmp_path)
        good = active_model(session)
        assert good is not None
        assert train_fixture(session, tmp_path, _renamed(history(), "new-")) == "kept"
        kept = next(row for row in list_models(session) if row.version != good.version)
        assert "knows none of this history's categories" in kept.decision
        assert "promote by hand" in kept.decision
        assert active_model(session).version == good.version  # type: ignore[union-attr]


def test_a_tiny_history_cannot_replace_the_active_model(db: TestDatabase, tmp_path: Path) -> None:
    with db.sessions() as session:
        train_fixture(session, tmp_path)
        good = active_model(session)
        assert good is not None
        tiny = history()[:40]  # a few tickets held out: no verdict either way
        outcome = train_and_register(
            session, rows_from_history(tiny, True), models_dir=tmp_path, tolerance=0.01, config=FAST
        )
        session.commit()
        assert outcome.status == "kept" and "too few" in outcome.message
        assert active_model(session).version == good.version  # type: ignore[union-attr]


def test_a_retrain_that_folds_queues_the_active_model_routes_is_not_promoted(
    db: TestDatabase, tmp_path: Path
) -> None:
    with db.sessions() as session:
        train_and_register(
            session, rows_from_history(history(), False), models_dir=tmp_path, tolerance=0.01, config=FAST
        )
        good = active_model(session)
        assert good is not None
        # A thinner export: network and hardware fall below the minimum and fold into "other".
        thinner, dropped = [], {"network": 0, "hardware": 0}
        for row in history():
            if row.category in dropped and dropped[row.category] < 4 and not is_holdout(row.text):
                dropped[row.category] += 1
                continue
            thinner.append(row)
        outcome = train_and_register(
            session,
            rows_from_history(thinner, False),
            models_dir=tmp_path,
            tolerance=0.01,
            config=TrainConfig(cv_folds=3, rare_label_min=33),
        )
        session.commit()
        assert "network" not in outcome.result.manifest["labels"][CATEGORY]  # type: ignore[union-attr]
        assert outcome.status == "kept" and "category macro-F1" in outcome.message, outcome.message
        assert active_model(session).version == good.version  # type: ignore[union-attr]


def test_a_retrain_without_priorities_does_not_silently_drop_the_priority_head(
    db: TestDatabase, tmp_path: Path
) -> None:
    with db.sessions() as session:
        train_fixture(session, tmp_path)
        outcome = train_and_register(
            session, rows_from_history(history(), False), models_dir=tmp_path, tolerance=0.01, config=FAST
        )
        session.commit()
        assert outcome.status == "kept" and "no priority head" in outcome.message, outcome.message


def test_rare_queues_are_judged_on_the_whole_history_not_the_training_slice(
    db: TestDatabase, tmp_path: Path
) -> None:
    rows = history()
    held = {row.category for row in rows if is_holdout(row.text)}
    assert {"access", "printing", "hardware", "network"} <= held  # each loses tickets to the slice
    with db.sessions() as session:
        outcome = train_and_register(
            session,
            rows_from_history(rows, True),
            models_dir=tmp_path,
            tolerance=0.01,
            config=TrainConfig(cv_folds=3, rare_label_min=36),  # exactly the size of each queue
        )
        session.commit()
    labels = set(outcome.result.manifest["labels"][CATEGORY])  # type: ignore[union-attr]
    assert {"access", "printing", "hardware", "network"} <= labels
    assert outcome.result.manifest["folded_labels"] == {"security": 3}  # type: ignore[union-attr]


def test_a_ticket_the_model_puts_in_other_goes_to_triage_however_sure_it_is(
    db: TestDatabase, tmp_path: Path
) -> None:
    texts, categories = [], []
    for i in range(30):
        texts += [f"printer toner jam tray paper {i}", f"vpn tunnel disconnects gateway {i}"]
        categories += ["printing", "network"]
    for queue in ("badges", "lockers", "parking", "keys", "lobby", "doors"):  # too rare to learn
        for i in range(4):
            texts.append(f"door badge reader lobby entrance {queue} {i}")
            categories.append(queue)
    with db.sessions() as session:
        train_and_register(
            session, TrainingRows(texts, categories, None), models_dir=tmp_path, tolerance=0.01, config=FAST
        )
        session.commit()
    prediction = service(db, FakeClock()).triage("the door badge reader at the lobby entrance")
    assert prediction.category.label == NEEDS_TRIAGE and prediction.category.abstained
    assert prediction.category.confidence >= 0.3  # sure it is "other", which is no queue
    assert "other" not in [label for label, _ in prediction.category.alternatives]
