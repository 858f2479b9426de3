"""`tierline db upgrade|current`: Alembic migrations for the configured DATABASE_URL."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from bot.cli.apps import db_app
from bot.cli.common import console, database_engine, database_problem, fail, schema_revision, settings
from models.db import upgrade


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Migrate the database to the latest schema (creates a SQLite file if needed)."""
    cfg = settings()
    url = cfg.database_url
    database_engine(url).dispose()  # a URL that names no usable database is explained first
    try:
        upgrade(url, revision)
    except DBAPIError as exc:  # unreachable, refused: the driver's first line, not SQLAlchemy's page
        fail(database_problem(exc))
    except Exception as exc:  # shown to the user at the edge, with the URL's backend
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        fail(f"could not migrate {url.split('://')[0]} database: {detail}")
    console.print(f"database at revision [bold]{schema_revision(cfg)}[/]")


@db_app.command("current")
def db_current() -> None:
    """Print the schema revision of the configured database."""
    console.print(schema_revision(settings()) or "empty (run `tierline db upgrade`)")
