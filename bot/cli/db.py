"""`tierline db upgrade|current`: Alembic migrations for the configured DATABASE_URL."""

from __future__ import annotations

from bot.cli.apps import db_app
from bot.cli.common import console, fail, settings
from models.db import current_revision, upgrade


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Migrate the database to the latest schema (creates a SQLite file if needed)."""
    url = settings().database_url
    try:
        upgrade(url, revision)
    except Exception as exc:  # shown to the user at the edge, with the URL's backend
        fail(f"could not migrate {url.split('://')[0]} database: {exc}")
    console.print(f"database at revision [bold]{current_revision(url)}[/]")


@db_app.command("current")
def db_current() -> None:
    """Print the schema revision of the configured database."""
    console.print(current_revision(settings().database_url) or "empty (run `tierline db upgrade`)")
