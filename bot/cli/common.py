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
    """A session that commits when the command succeeds and rolls back when it fails."""
    factory = session_factory(cfg)
    with factory() as session, session.begin():
        yield session


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
