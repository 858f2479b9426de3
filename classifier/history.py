"""Importing a ticket-history export into the tickets table, fast and idempotently.

Each parsed row becomes a closed or resolved Ticket with source="import" and external_ref set to
the hash of what is stored of it, so importing the same export twice, or the same tickets
exported again in another shape, adds nothing. Rows go in with bulk
INSERT ... RETURNING in chunks (tens of thousands of rows in seconds on SQLite and PostgreSQL).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from classifier.dataset import HistoryRow, SkippedRow
from models import Ticket, TicketStatus, Tier, utcnow

CHUNK = 2000
NUMBER_OFFSET = 1000


@dataclass
class ImportReport:
    imported: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    # Priority or tier values nobody mapped, by kind (see `classifier.dataset.mapping_hints`).
    unmapped: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    # Imported rows whose created/resolved value is not a readable timestamp, and a few
    # (line, value) examples: they are dated at import time, which reports should not hide.
    unreadable_dates: int = 0
    unreadable_examples: list[tuple[int, str]] = field(default_factory=list)

    def skip(self, line: int, reason: str, unmapped: tuple[str, str] | None = None) -> None:
        self.skipped[reason] += 1
        if len(self.examples[reason]) < 5:
            self.examples[reason].append(line)
        if unmapped is not None:
            self.unmapped[unmapped[0]].add(unmapped[1])

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "imported": self.imported,
            "skipped": self.skipped_total,
            "reasons": {
                reason: {"rows": n, "example_lines": self.examples.get(reason, [])}
                for reason, n in self.skipped.most_common()
            },
            "unreadable_dates": {
                "rows": self.unreadable_dates,
                "examples": [{"line": line, "value": value} for line, value in self.unreadable_examples],
            },
        }


def ticket_number(prefix: str, ticket_id: int) -> str:
    return f"{prefix}-{ticket_id + NUMBER_OFFSET}"


def _values(row: HistoryRow) -> dict[str, Any]:
    now = utcnow()
    created = row.created_at or now  # a history row without a readable date is dated today
    resolved_at = row.resolved_at
    status = row.status or (TicketStatus.RESOLVED if (resolved_at or row.resolution) else TicketStatus.CLOSED)
    return {
        "subject": row.subject,
        "body": row.body,
        "category": row.category,
        "priority": row.priority or "medium",
        "priority_known": row.priority is not None,
        "tier": Tier(row.tier) if row.tier else Tier.L1,
        "status": status,
        "source": "import",
        "external_ref": row.ref,
        "resolution": row.resolution,
        "created_at": created,
        "updated_at": now,
        "resolved_at": resolved_at,
        "closed_at": (resolved_at or created) if status == TicketStatus.CLOSED else None,
        "needs_triage": False,
        "facts": {},
        "sla_paused_seconds": 0.0,
    }


def import_history(
    session: Session,
    rows: Iterable[HistoryRow | SkippedRow],
    *,
    prefix: str,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Insert every good row that is not already in the database; never stops at a bad row."""
    report = ImportReport()
    seen: set[str] = set()
    pending: list[HistoryRow] = []

    def flush() -> None:
        if not pending:
            return
        refs = [r.ref for r in pending] + [r.legacy_ref for r in pending if r.legacy_ref]
        existing = set(session.scalars(select(Ticket.external_ref).where(Ticket.external_ref.in_(refs))))
        fresh = []
        for row in pending:
            if row.ref in existing or row.legacy_ref in existing:
                report.skip(row.line, "already imported")
            else:
                fresh.append(_values(row))
                if row.unreadable_date is not None:
                    report.unreadable_dates += 1
                    if len(report.unreadable_examples) < 3:
                        report.unreadable_examples.append((row.line, row.unreadable_date))
        if fresh:
            ids = list(
                session.scalars(insert(Ticket).returning(Ticket.id, sort_by_parameter_order=True), fresh)
            )
            session.execute(update(Ticket), [{"id": i, "number": ticket_number(prefix, i)} for i in ids])
            report.imported += len(ids)
        if progress is not None:
            progress(len(pending))
        pending.clear()

    for row in rows:
        if isinstance(row, SkippedRow):
            report.skip(row.line, row.reason, row.unmapped)
            if progress is not None:
                progress(1)
            continue
        if row.ref in seen:
            report.skip(row.line, "duplicate of an earlier row in the file")
            if progress is not None:
                progress(1)
            continue
        seen.add(row.ref)
        pending.append(row)
        if len(pending) >= CHUNK:
            flush()
    flush()
    session.flush()
    return report
