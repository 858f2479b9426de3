"""`tierline report --since 30d --out DIR`: the service report as index.html + PNG charts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from bot.cli.apps import app
from bot.cli.common import console, emit_json, fail, settings, unit_of_work
from bot.learning.report import build_report, headline, write_report
from bot.workflow.durations import parse_duration
from models import utcnow


def parse_until(value: str | None) -> datetime:
    if not value:
        return utcnow()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--until {value!r} is not a date such as 2026-11-01 or 2026-11-01T09:00")
    # In UTC whatever offset was given: days are bucketed, and the period printed, in UTC.
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@app.command("report")
def report(
    since: str = typer.Option("30d", help="How far back from --until: '7d', '30d', '12w'."),
    until: str | None = typer.Option(None, help="End of the period (ISO date/time, UTC); default now."),
    out: Path = typer.Option(Path("report"), help="Folder for index.html, the PNG charts and figures.json."),
    gaps: int = typer.Option(10, min=0, help="How many KB gap clusters to show."),
    as_json: bool = typer.Option(False, "--json", help="Also print the figures as JSON."),
) -> None:
    """Write an HTML report: volume by category and tier, first-response and resolution times,
    SLA attainment, CSAT, deflection, weakest KB articles and top KB gaps."""
    end = parse_until(until)
    try:
        start = end - parse_duration(since)
    except ValueError as exc:
        fail(f"--since: {exc}")
    except OverflowError:  # more days than a timedelta holds, or a start before year 1
        fail(f"--since: {since!r} is too long a period")
    cfg = settings()
    try:
        with unit_of_work(cfg) as session:
            built = build_report(
                session,
                since=start,
                until=end,
                encoder=cfg.kb_encoder,
                gap_limit=gaps,
                stale_days=cfg.kb_stale_days,
                gap_similarity=cfg.kb_gap_similarity,
            )
    except typer.Exit:  # unit_of_work has already said what is wrong with the database
        raise
    except Exception as exc:  # explained at the edge: a broken DB URL or a missing model
        fail(f"could not compute the report: {exc}")
    try:
        index = write_report(built, out)
    except OSError as exc:
        fail(f"could not write the report into {out}: {exc.strerror or exc}")
    if as_json:
        emit_json(built.to_json())
        return
    for label, value in headline(built.figures):
        console.print(f"{label:>24}: [bold]{value}[/]")
    console.print(f"report written to [bold]{index}[/]")
