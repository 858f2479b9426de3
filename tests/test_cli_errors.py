"""Whatever goes wrong around a command (the database, the schema, the routing file, a folder
that cannot be written, a bad option), the user reads one sentence saying what to fix."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner, Result

from bot.cli.main import app
from bot.settings import get_settings
from models.db import upgrade
from tests.conftest import EXAMPLES, TestDatabase

# Commands that touch the database, each as a user would type it.
DATABASE_COMMANDS = [
    ["db", "current"],
    ["db", "upgrade"],
    ["worker", "--once"],
    ["chat", "--json"],
    ["tickets", "list", "--as", "cli:alice"],
    ["users", "list"],
    ["report"],
]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.setenv("TIERLINE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("TIERLINE_ROUTING", str(EXAMPLES / "routing.yml"))
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def invoke(env: pytest.MonkeyPatch, args: list[str], **variables: str) -> Result:
    for name, value in variables.items():
        env.setenv(name, value)
    get_settings.cache_clear()
    return CliRunner().invoke(app, args, input="my printer is jammed\n")


def one_sentence(result: Result, expected: str) -> None:
    """Exit 1 with exactly one line, `error: …` holding `expected`, and no traceback."""
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert expected in lines[0], lines[0]


@pytest.mark.parametrize("args", DATABASE_COMMANDS, ids=" ".join)
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("notaurl", "DATABASE_URL is not a database URL Tierline can use"),
        ("mysql://tier@127.0.0.1/line", "its driver (MySQLdb) is not installed"),
        ("postgresql+psycopg://postgres@127.0.0.1:1/tierline", "cannot reach the database"),
        ("sqlite:///{file}/tierline.db", "cannot create the folder of the SQLite database"),
    ],
    ids=["not-a-url", "mysql", "unreachable", "sqlite-under-a-file"],
)
def test_a_database_url_that_cannot_work_is_one_sentence(
    env: pytest.MonkeyPatch, tmp_path: Path, args: list[str], url: str, expected: str
) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    result = invoke(env, args, DATABASE_URL=url.format(file=a_file))
    one_sentence(result, expected)
    assert "check DATABASE_URL" in result.output or "sqlite:///" in result.output


def test_a_missing_postgresql_database_is_one_sentence(env: pytest.MonkeyPatch) -> None:
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        pytest.skip("PostgreSQL leg: TEST_DATABASE_URL is not set")
    url = make_url(base).set(database=f"tierline_missing_{uuid.uuid4().hex[:8]}")
    for args in DATABASE_COMMANDS:
        result = invoke(env, args, DATABASE_URL=url.render_as_string(hide_password=False))
        one_sentence(result, "the database in DATABASE_URL does not exist")


@pytest.fixture(params=["sqlite", "postgresql"])
def stale_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database on an older schema (revision 0006), as after upgrading the code but not the DB."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
        upgrade(url, "0006")
        yield url
        return
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        pytest.skip("PostgreSQL leg: TEST_DATABASE_URL is not set")
    name = f"tierline_old_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url, "0006")
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.parametrize("args", [["worker", "--once"], ["chat", "--json"]], ids=" ".join)
def test_worker_and_chat_on_an_older_schema_say_to_upgrade(
    env: pytest.MonkeyPatch, stale_url: str, args: list[str]
) -> None:
    one_sentence(invoke(env, args, DATABASE_URL=stale_url), "is at revision 0006")
    assert "run `tierline db upgrade`" in invoke(env, args, DATABASE_URL=stale_url).output


@pytest.mark.parametrize("args", [["worker", "--once"], ["chat", "--json"], ["report"]], ids=" ".join)
def test_a_database_never_upgraded_says_to_upgrade(
    env: pytest.MonkeyPatch, tmp_path: Path, args: list[str]
) -> None:
    result = invoke(env, args, DATABASE_URL=f"sqlite:///{tmp_path / 'new.db'}")
    one_sentence(result, "no Tierline schema yet")
    assert "tierline db upgrade" in result.output and "could not compute" not in result.output


def test_chat_with_a_bad_routing_file_names_the_key(
    env: pytest.MonkeyPatch, db: TestDatabase, tmp_path: Path
) -> None:
    bad = tmp_path / "routing.yml"
    bad.write_text((EXAMPLES / "routing.yml").read_text().replace("network: L2", "network: L5"))
    result = invoke(env, ["chat", "--json"], DATABASE_URL=db.url, TIERLINE_ROUTING=str(bad))
    one_sentence(result, "categories.network")


def test_kb_ingest_into_a_data_folder_that_cannot_be_made_is_one_sentence(
    env: pytest.MonkeyPatch, db: TestDatabase, tmp_path: Path
) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    result = invoke(
        env,
        ["kb", "ingest", str(EXAMPLES / "kb")],
        DATABASE_URL=db.url,
        TIERLINE_DATA_DIR=str(a_file / "var"),
    )
    assert result.exit_code == 1, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("error: cannot use ") and str(a_file) in last and "TIERLINE_DATA_DIR" in last


@pytest.mark.parametrize("interval", ["-5", "0"])
def test_a_worker_interval_that_would_spin_is_refused(
    env: pytest.MonkeyPatch, db: TestDatabase, interval: str
) -> None:
    result = invoke(env, ["worker", "--interval", interval], DATABASE_URL=db.url)
    one_sentence(result, "--interval must be more than 0 seconds")


@pytest.mark.parametrize("limit", ["0", "-1"])
def test_a_list_limit_below_one_is_a_usage_error(
    env: pytest.MonkeyPatch, db: TestDatabase, limit: str
) -> None:
    result = invoke(env, ["tickets", "list", "--as", "cli:alice", "--limit", limit], DATABASE_URL=db.url)
    assert result.exit_code == 2 and "--limit" in result.output and "Traceback" not in result.output
