"""`tierline tickets import FILE.csv` (history from any export) and `tierline tickets correct NUMBER`."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cli.apps import tickets_app
from bot.cli.common import console, emit_json, fail, settings, unit_of_work
from bot.triage import InvalidCorrectionError, TriageError, correct_ticket
from bot.workflow import operations as ops
from bot.workflow.categories import known_categories, match_category, model_categories
from bot.workflow.errors import WorkflowError
from bot.workflow.routing import load_routing
from classifier.dataset import (
    ColumnMapping,
    date_evidence,
    mapping_hints,
    read_history_csv,
    read_priority_map,
    read_tier_map,
)
from classifier.dates import DATE_ORDERS, DEFAULT_DATE_ORDER, DateOrder, OrderEvidence
from classifier.errors import ClassifierError
from classifier.export_file import encoding_hint
from classifier.history import import_history
from models import Ticket, TicketEvent, TicketStatus, User


def build_mapping(
    text_cols: str,
    category_col: str,
    priority_col: str | None = None,
    tier_col: str | None = None,
    resolution_col: str | None = None,
    created_col: str | None = None,
    resolved_col: str | None = None,
    status_col: str | None = None,
    priority_map: str | None = None,
    tier_map: str | None = None,
) -> ColumnMapping:
    """The column mapping from command-line flags; shared by import, train and evaluate."""
    cols = tuple(c.strip() for c in text_cols.split(",") if c.strip())
    if not cols:
        fail("--text-cols needs at least one column name, e.g. --text-cols subject,body")
    try:
        return ColumnMapping(
            text_cols=cols,
            category_col=category_col,
            priority_col=priority_col,
            tier_col=tier_col,
            resolution_col=resolution_col,
            created_col=created_col,
            resolved_col=resolved_col,
            status_col=status_col,
            priority_map=read_priority_map(priority_map),
            tier_map=read_tier_map(tier_map),
        )
    except ClassifierError as exc:
        fail(str(exc))


_ORDER_WORDS = {"dmy": "day first", "mdy": "month first"}


def date_order_notes(evidence: OrderEvidence, given: DateOrder | None) -> tuple[DateOrder, list[str]]:
    """The day/month order to read the file with, and what to tell the admin about it."""
    if given is not None:
        return given, []
    if evidence.contradictory:
        return DEFAULT_DATE_ORDER, [
            f"the file's dates disagree: {evidence.day_first_example!r} reads only day first, "
            f"{evidence.month_first_example!r} only month first; read {_ORDER_WORDS[DEFAULT_DATE_ORDER]} "
            "(the others are reported as unreadable): pass --date-order mdy if most are month first"
        ]
    if evidence.order is not None:
        example = evidence.day_first_example or evidence.month_first_example
        return evidence.order, [f"dates read {_ORDER_WORDS[evidence.order]}, as {example!r} shows"]
    if evidence.ambiguous_example is not None:
        return DEFAULT_DATE_ORDER, [
            f"no date in the file tells day from month (such as {evidence.ambiguous_example!r}); read "
            f"{_ORDER_WORDS[DEFAULT_DATE_ORDER]}: pass --date-order mdy if the export writes the month first"
        ]
    return DEFAULT_DATE_ORDER, []


def require_export_file(path: Path) -> None:
    """Stop with a sentence when `path` is not a file to read (shared by import, train, evaluate)."""
    if path.is_dir():
        fail(f"{path} is a folder; give the path of the CSV export inside it")
    if not path.is_file():
        fail(f"{path} does not exist")


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return max(0, sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b"")) - 1)


@tickets_app.command("import")
def import_command(
    file: Path = typer.Argument(..., help="CSV export of past tickets."),
    text_cols: str = typer.Option(
        "subject,body", help="Comma-separated text columns; the first is the subject."
    ),
    category_col: str = typer.Option("category", help="Column with the category (any label set)."),
    priority_col: str | None = typer.Option(None, help="Column with the priority (P1..P4, 1..4, words)."),
    tier_col: str | None = typer.Option(None, help="Column with the tier that handled it (L1/L2/L3, 1/2/3)."),
    resolution_col: str | None = typer.Option(None, help="Column with the resolution text."),
    created_col: str | None = typer.Option(
        None, help="Column with the creation time (ISO 8601, or as spreadsheets and ticket tools write it)."
    ),
    resolved_col: str | None = typer.Option(None, help="Column with the resolution time (same forms)."),
    status_col: str | None = typer.Option(None, help="Column with the final status (closed/resolved...)."),
    priority_map: str | None = typer.Option(
        None, help='Export values to priorities, e.g. "0=critical,1=high".'
    ),
    tier_map: str | None = typer.Option(None, help='Export values to tiers, e.g. "desk=L1,ops=L2".'),
    encoding: str = typer.Option(
        "utf-8", help="Text encoding of the file (rows with invalid bytes are skipped)."
    ),
    date_order: str | None = typer.Option(
        None,
        help="Day/month order of dates such as 03/04/2025: dmy or mdy (default: as the file's dates show).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Import ticket history; bad rows are skipped and reported, never abort the import."""
    if date_order is not None and date_order not in DATE_ORDERS:
        fail(f"--date-order takes dmy (day first) or mdy (month first), not {date_order!r}")
    cfg = settings()
    mapping = build_mapping(
        text_cols,
        category_col,
        priority_col,
        tier_col,
        resolution_col,
        created_col,
        resolved_col,
        status_col,
        priority_map,
        tier_map,
    )
    require_export_file(file)
    started = time.perf_counter()
    try:
        evidence = date_evidence(file, mapping, encoding) if date_order is None else OrderEvidence(None)
        order, date_notes = date_order_notes(evidence, date_order)
        mapping = replace(mapping, date_order=order)
        rows = read_history_csv(file, mapping, encoding=encoding)
        with (
            unit_of_work(cfg) as session,
            Progress(
                TextColumn("importing"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
                disable=as_json,
            ) as bar,
        ):
            task = bar.add_task("rows", total=_count_lines(file))
            report = import_history(
                session, rows, prefix=cfg.ticket_prefix, progress=lambda n: bar.advance(task, n)
            )
    except ClassifierError as exc:
        fail(str(exc))
    except LookupError:
        fail(f"unknown encoding {encoding!r}")
    seconds = time.perf_counter() - started
    bad_bytes = any(reason.startswith("bad encoding") for reason in report.skipped)
    hint = encoding_hint(file, encoding) if bad_bytes else None
    if report.unreadable_dates:
        at_line, value = report.unreadable_examples[0]
        date_notes.append(
            f"{report.unreadable_dates} imported rows have a date that is not a readable timestamp "
            f"(line {at_line}: {value!r}): a creation time falls back to the import time, "
            "a resolution time stays empty"
        )
    hints = [h for h in (hint, *mapping_hints(report.unmapped), *date_notes) if h]
    if as_json:
        emit_json(
            {
                **report.as_dict(),
                "date_order": order if mapping.date_cols else None,
                "seconds": round(seconds, 2),
                "hint": hint,
                "hints": hints,
            }
        )
        return
    console.print(
        f"imported [bold]{report.imported}[/] tickets, skipped [bold]{report.skipped_total}[/] "
        f"rows ({seconds:.1f} s)"
    )
    if report.skipped:
        table = Table("reason", "rows", "example lines")
        for reason, n in report.skipped.most_common():
            table.add_row(reason, str(n), ", ".join(map(str, report.examples.get(reason, []))))
        console.print(table)
    for line in hints:
        console.print(f"[yellow]hint:[/] {line}")


@tickets_app.command("correct")
def correct_command(
    number: str = typer.Argument(..., help="Ticket number, e.g. IT-1042."),
    category: str | None = typer.Option(None, help="The right category."),
    priority: str | None = typer.Option(None, help="The right priority: critical, high, medium or low."),
    actor: str = typer.Option(
        ..., "--as", help="External id of the engineer or admin making the correction."
    ),
    note: str | None = typer.Option(None, help="Why (kept in the ticket's audit trail)."),
) -> None:
    """Correct a ticket's category and/or priority; the next training learns from it."""
    with unit_of_work() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number.strip().upper())).first()
        if ticket is None:
            fail(f"no ticket {number}")
        user = session.scalars(select(User).where(User.external_id.in_([actor, f"cli:{actor}"]))).first()
        if user is None:
            fail(f"no user {actor!r}; corrections need an engineer or admin (see `tierline users`)")
        number = ticket.number or number
        if category is not None:
            category = _known_category(session, category)
        try:
            if ticket.status in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
                events = correct_ticket(
                    session, ticket, actor=user, category=category, priority=priority, note=note
                )
            else:
                events = _correct_open_ticket(session, ticket, user, category, priority, note)
        except (TriageError, WorkflowError) as exc:
            fail(str(exc))
        if not events:
            console.print(f"{number} already has those labels; nothing changed")
            return
        for event in events:
            what = event.kind.removesuffix("_changed")
            before = event.data["from"] or "not recorded"  # history imported without a priority
            console.print(f"{number}: {what} {before} → [bold]{event.data['to']}[/]")


def _known_category(session: Session, category: str) -> str:
    """The category as the routing file or the active model spells it; anything else (a typo
    would become a new label the next training learns) is refused with the ones to pick from."""
    known = known_categories(load_routing(settings().routing_file), model_categories(session))
    match = match_category(category, known)
    if match is None:
        fail(f"{category!r} is not a known category; use one of {', '.join(known)}")
    return match


def _correct_open_ticket(
    session: Session, ticket: Ticket, user: User, category: str | None, priority: str | None, note: str | None
) -> list[TicketEvent]:
    """A ticket still being worked is corrected the way the Slack card's menus do it: the change
    is checked against the engineer's tier, re-routes the ticket and re-times its SLA, and the
    queue is told. (History that is resolved or closed only has its labels corrected.)"""
    if category is None and priority is None:
        raise InvalidCorrectionError("give a category, a priority, or both")
    before = len(ticket.events)
    routing = load_routing(settings().routing_file)
    reason = note or "corrected with `tierline tickets correct`"
    if category is not None:
        ops.change_category(session, ticket, actor=user, category=category, routing=routing, reason=reason)
    if priority is not None:
        ops.change_priority(session, ticket, actor=user, priority=priority, routing=routing, reason=reason)
    session.flush()
    return [e for e in ticket.events[before:] if e.kind in {"category_changed", "priority_changed"}]
