"""`/tierline retrain`'s job: train on the ticket history and say what the promotion gate decided."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from bot.container import build_container
from bot.settings import Settings
from bot.slack.runtime import retrainer
from classifier.dataset import ColumnMapping, read_history_csv
from classifier.history import import_history
from models import ClassifierModel
from models.db import transaction
from tests.conftest import ROOT, TestDatabase

HISTORY = ROOT / "tests" / "fixtures" / "classifier" / "tickets.csv"
MAPPING = ColumnMapping(("subject", "body"), "category", priority_col="priority", tier_col="tier")


def test_retrain_reports_metrics_and_the_promotion_decision(db: TestDatabase, tmp_path: Path) -> None:
    with transaction(db.sessions) as session:
        import_history(session, read_history_csv(HISTORY, MAPPING), prefix="IT")
    settings = Settings(
        DATABASE_URL=db.url, TIERLINE_DATA_DIR=tmp_path, TIERLINE_MODELS_DIR=tmp_path / "models"
    )
    container = build_container(settings)
    try:
        first = retrainer(container)()
        again = retrainer(container)()
    finally:
        container.close()
    assert "promoted" in first and "Cross-validation" in first, first
    assert "not retrained" in again  # same data: the active model is kept, and the message says why
    with transaction(db.sessions) as session:
        active = session.scalars(select(ClassifierModel).where(ClassifierModel.active.is_(True))).one()
        assert active.version in first
