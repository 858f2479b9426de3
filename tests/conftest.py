"""Shared fixtures. Every database test runs on SQLite and, when TEST_DATABASE_URL is set, on
PostgreSQL too; the run ends with a line saying how many database tests ran on each backend."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import shutil
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

import models
from models.db import make_engine, make_session_factory, upgrade

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
EXAMPLES = ROOT / "examples"

_BACKEND_RESULTS: Counter[tuple[str, str]] = Counter()


@dataclass
class TestDatabase:
    """A migrated, empty database for one test."""

    __test__ = False

    backend: str
    url: str
    engine: Engine
    sessions: sessionmaker[Session]


def shared_path(*parts: str) -> Path:
    """A path under ../shared, skipping the test with a reason when it is absent (a user's clone)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"../shared is not beside this checkout ({path} missing); CI has it")
    return path


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def _postgres_url() -> Iterator[str | None]:
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        yield None
        return
    # A database of our own per test session, so parallel runs on one server never collide.
    name = f"tierline_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _truncate_all(engine: Engine) -> None:
    tables = ", ".join(f'"{t.name}"' for t in models.Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def db(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    _sqlite_template: Path,
    _postgres_url: str | None,
) -> Iterator[TestDatabase]:
    """A freshly migrated database; parametrised over SQLite and (when configured) PostgreSQL."""
    backend: str = request.param
    if backend == "sqlite":
        path = tmp_path / "tierline.db"
        shutil.copy(_sqlite_template, path)
        url = f"sqlite:///{path}"
        engine = make_engine(url)
    else:
        if _postgres_url is None:
            pytest.skip("PostgreSQL leg: TEST_DATABASE_URL is not set")
        url = _postgres_url
        engine = make_engine(url)
        _truncate_all(engine)
    request.node.user_properties.append(("db_backend", backend))
    try:
        yield TestDatabase(backend, url, engine, make_session_factory(engine))
    finally:
        engine.dispose()


@pytest.fixture
def session(db: TestDatabase) -> Iterator[Session]:
    """A session on the test database; the test decides when to commit (the caller owns it)."""
    with db.sessions() as s:
        yield s


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call" and not (report.when == "setup" and report.skipped):
        return
    backend = dict(report.user_properties).get("db_backend")
    if backend is None and report.skipped and "PostgreSQL leg" in str(report.longrepr):
        backend = "postgresql"
    if backend:
        _BACKEND_RESULTS[(str(backend), report.outcome)] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _BACKEND_RESULTS:
        return
    terminalreporter.section("database backends")
    for backend in ("sqlite", "postgresql"):
        counts = {o: n for (b, o), n in _BACKEND_RESULTS.items() if b == backend}
        if counts:
            parts = ", ".join(f"{n} {o}" for o, n in sorted(counts.items()))
            terminalreporter.write_line(f"{backend}: {parts}")
