"""Small helpers shared by command modules: settings, sessions, and explaining errors at the edge."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from bot.settings import Settings, get_settings
from models.db import make_engine, make_session_factory

console = Console()
err_console = Console(stderr=True)


def settings() -> Settings:
    """The process settings; a bad environment variable is explained in one line, not a traceback."""
    try:
        return get_settings()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        fail(f"invalid configuration ({problems}); see .env.example")


def session_factory(cfg: Settings | None = None) -> sessionmaker[Session]:
    cfg = cfg or settings()
    return make_session_factory(make_engine(cfg.database_url))


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
    detail = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
    missing_table = "no such table" in detail or getattr(exc.orig, "sqlstate", None) == "42P01"
    if missing_table:
        return f"the database has no Tierline schema yet ({detail}); run `tierline db upgrade`"
    if exc.connection_invalidated or "connect" in detail.lower():
        return f"cannot reach the database ({detail}); check DATABASE_URL"
    return f"the database refused the command ({detail}); is it on the latest schema (`tierline db upgrade`)?"


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
