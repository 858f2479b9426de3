"""The schema comes from Alembic and matches the models, on every backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import models
from models.db import current_revision, upgrade
from tests.conftest import TestDatabase


def test_migrations_reach_head_and_match_models(db: TestDatabase) -> None:
    assert current_revision(db.url) is not None
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), models.Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"


def test_upgrade_is_idempotent(db: TestDatabase) -> None:
    before = current_revision(db.url)
    upgrade(db.url)
    assert current_revision(db.url) == before
