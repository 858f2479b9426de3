"""Small helpers shared by command modules: settings, sessions, and explaining errors at the edge.

`ExplainedGroup` is the one place where the known kinds of failure that can reach any command (a
database that cannot be reached or read, a file that cannot be written, a refusal from the
workflow) become one sentence; commands only catch what they can say more about.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, ProgrammingError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from typer.core import TyperGroup

from bot.settings import Settings, get_settings
from bot.workflow.errors import WorkflowError
from models.db import alembic_config, make_engine, make_session_factory

console = Console()
err_console = Console(stderr=True)


def settings() -> Settings:
    """The process settings; a bad environment variable is explained in one line, not a traceback."""
    try:
        return get_settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        fail(f"invalid configuration ({problems}); see .env.example")


def configure_logging(cfg: Settings, *, libraries: bool = True) -> None:
    """Log at TIERLINE_LOG_LEVEL (validated in settings) for the long-running commands.

    With `libraries=False` only Tierline's own loggers go below WARNING: the worker loads the
    encoder on its first pass, and its INFO lines are noise on every `worker --once`."""
    level = logging.getLevelName(cfg.log_level)
    root = level if libraries else max(level, logging.WARNING)
    logging.basicConfig(level=root, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("bot").setLevel(level)


def database_engine(url: str) -> Engine:
    """An engine for DATABASE_URL; a URL that names no usable database is explained, not raised.

    `create_engine` fails before any connection for a string that is no URL, a backend whose
    driver is not installed (mysql://) or, for SQLite, a folder that cannot be created."""
    try:
        return make_engine(url)
    except ArgumentError as exc:
        fail(
            f"DATABASE_URL is not a database URL Tierline can use ({_first_line(exc)}); use "
            "sqlite:///path/to/tierline.db or postgresql+psycopg://user@host:5432/name"
        )
    except ImportError as exc:
        backend = _backend(url)
        fail(
            f"DATABASE_URL asks for a {backend} database, but its driver ({exc.name or exc}) is not "
            "installed; Tierline runs on SQLite (sqlite:///…) or PostgreSQL (postgresql+psycopg://…)"
        )
    except OSError as exc:
        fail(f"cannot create the folder of the SQLite database ({exc.strerror or exc}); check DATABASE_URL")


def session_factory(cfg: Settings | None = None) -> sessionmaker[Session]:
    cfg = cfg or settings()
    return make_session_factory(database_engine(cfg.database_url))


def schema_revision(cfg: Settings) -> str | None:
    """The database's Alembic revision (None: never upgraded); an unreachable database is explained."""
    from alembic.runtime.migration import MigrationContext

    engine = database_engine(cfg.database_url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except DBAPIError as exc:
        fail(database_problem(exc))
    finally:
        engine.dispose()


def head_revision(cfg: Settings) -> str | None:
    """The newest schema revision this code ships (what `tierline db upgrade` migrates to)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(cfg.database_url)).get_current_head()


def require_current_schema(cfg: Settings) -> None:
    """Stop with what to run when the database is empty or on an older schema.

    Commands that work through many tables over time (the chat, the worker, the Slack app) check
    this up front; otherwise an older schema shows up later as a missing column in the middle of a
    conversation or of a worker pass."""
    current, head = schema_revision(cfg), head_revision(cfg)
    if current is None:
        fail("the database has no Tierline schema yet; run `tierline db upgrade` (or `make demo`) first")
    if current != head:
        fail(f"the database schema is at revision {current}, not {head}; run `tierline db upgrade`")


@contextmanager
def unit_of_work(cfg: Settings | None = None) -> Iterator[Session]:
    """A session that commits when the command succeeds and rolls back when it fails.

    A database that is missing its schema or cannot be reached is explained in one sentence
    instead of a page of SQL and traceback."""
    factory = session_factory(cfg)
    try:
        with factory() as session, session.begin():
            yield session
    except (OperationalError, ProgrammingError) as exc:
        fail(database_problem(exc))


def database_problem(exc: DBAPIError) -> str:
    """What went wrong with the database, in words a user can act on."""
    detail = _first_line(exc.orig if exc.orig is not None else exc)
    missing_table = "no such table" in detail or getattr(exc.orig, "sqlstate", None) == "42P01"
    if missing_table:
        return f"the database has no Tierline schema yet ({detail}); run `tierline db upgrade`"
    if "unable to open database file" in detail:
        return (
            f"cannot open the SQLite database file ({detail}); "
            "check DATABASE_URL and the folder's permissions"
        )
    if "database" in detail and "does not exist" in detail:  # PostgreSQL: the server is up
        return f"the database in DATABASE_URL does not exist ({detail}); create it (createdb) or fix the URL"
    if exc.connection_invalidated or "connect" in detail.lower():
        return f"cannot reach the database ({detail}); check DATABASE_URL"
    return f"the database refused the command ({detail}); is it on the latest schema (`tierline db upgrade`)?"


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0].strip() if lines else type(exc).__name__


def _backend(url: str) -> str:
    try:
        return make_url(url).get_backend_name()
    except ArgumentError:
        return url.split("://")[0]


def explain(exc: BaseException) -> str | None:
    """One sentence for a failure any command can meet, or None for one that is a bug.

    A bug keeps its traceback: turning every exception into a sentence would hide it."""
    if isinstance(exc, WorkflowError):  # refusals and a bad routing file: written for the user
        return str(exc)
    if isinstance(exc, DBAPIError):
        return database_problem(exc)
    if isinstance(exc, ArgumentError):
        return f"DATABASE_URL is not a database URL Tierline can use ({_first_line(exc)})"
    if isinstance(exc, SQLAlchemyError):
        return (
            f"the database could not do that ({_first_line(exc)}); "
            "is it on the latest schema (`tierline db upgrade`)?"
        )
    if isinstance(exc, OSError) and exc.filename is not None:
        return (
            f"cannot use {exc.filename} ({exc.strerror or exc}); check the path and its permissions "
            "(TIERLINE_DATA_DIR and the other paths in .env)"
        )
    return None


class ExplainedGroup(TyperGroup):
    """The root command group: whatever a command lets through of the known failure kinds is
    explained in one sentence (`explain`) and exits 1, instead of printing a traceback."""

    def invoke(self, ctx: Any) -> Any:  # Typer's vendored click Context, which has no public name
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):  # usage errors, fail(): already said
            raise
        except Exception as exc:
            message = explain(exc)
            if message is None:
                raise
            fail(message)


def fail(message: str, code: int = 1) -> NoReturn:
    """Explain a failure to the user in one sentence and exit non-zero (no traceback).

    The sentence is printed as it is: never broken with hard newlines at the console width (so a
    path or a column list in it can be copied and searched for), and never read as Rich markup
    (a "[...]" in a file name or a label stays on screen)."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()
