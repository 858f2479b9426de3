"""The schema comes from Alembic and matches the models, on every backend."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, Table, insert, text

import models
from models.db import current_revision, make_engine, upgrade
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


def test_upgrading_to_priority_known_keeps_every_ticket_and_counts_their_priorities_as_set(
    tmp_path: Path,
) -> None:
    """A database from before migration 0007, with a ticket and its event trail, upgrades in place."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0006")
    engine = make_engine(url)
    old = MetaData()
    old.reflect(engine, only=["tickets", "ticket_events"])
    now = datetime(2026, 1, 5, tzinfo=UTC)
    values: dict[str, Any] = {"id": 1, "subject": "VPN drops", "category": "network", "priority": "high"}
    with engine.begin() as conn:
        conn.execute(insert(old.tables["tickets"]).values(**_required(old.tables["tickets"], values, now)))
        event = {"ticket_id": 1, "kind": "created"}
        conn.execute(
            insert(old.tables["ticket_events"]).values(**_required(old.tables["ticket_events"], event, now))
        )
    upgrade(url)
    with engine.connect() as conn:
        assert conn.execute(text("select priority, priority_known from tickets")).all() == [("high", 1)]
        assert conn.execute(text("select count(*) from ticket_events")).scalar() == 1
    engine.dispose()


def _required(table: Table, given: dict[str, Any], now: datetime) -> dict[str, Any]:
    """`given` plus a plain value for every NOT NULL column without a default (the old schema's)."""
    out = dict(given)
    for column in table.columns:
        if column.name in out or column.nullable or column.server_default is not None or column.primary_key:
            continue
        python_type = column.type.python_type
        out[column.name] = {str: "x", int: 0, float: 0.0, bool: False, datetime: now, dict: {}}.get(
            python_type, "x"
        )
    return out
