"""Ticket history as training rows: from any CSV export (with a column mapping) or from the database.

Both paths compose the text the same way (`compose_text`), so a model trained on a CSV and one
trained on the imported tickets see identical inputs. Reading a CSV never stops at a bad row: each
row is either a `HistoryRow` or a `SkippedRow` with the reason in words.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from classifier.dates import DEFAULT_DATE_ORDER, DateOrder, OrderEvidence, TimestampReader, infer_date_order
from classifier.errors import TrainingDataError
from classifier.export_file import ExportRows, column_values, has_bad_bytes, open_csv
from classifier.priority import PRIORITIES
from classifier.recipe import normalise_text
from classifier.types import NEEDS_TRIAGE
from models import Ticket, TicketEvent, TicketStatus

# Common spellings of the four ITIL priorities in exports (P1..P4, 1..4, words).
PRIORITY_ALIASES: dict[str, str] = {
    **{p: p for p in PRIORITIES},
    "p1": "critical",
    "p2": "high",
    "p3": "medium",
    "p4": "low",
    "p5": "low",
    "1": "critical",
    "2": "high",
    "3": "medium",
    "4": "low",
    "5": "low",
    "urgent": "critical",
    "highest": "critical",
    "blocker": "critical",
    "emergency": "critical",
    "crit": "critical",
    "sev1": "critical",
    "sev 1": "critical",
    "severity 1": "critical",
    "major": "high",
    "sev2": "high",
    "sev 2": "high",
    "severity 2": "high",
    "normal": "medium",
    "moderate": "medium",
    "med": "medium",
    "standard": "medium",
    "sev3": "medium",
    "sev 3": "medium",
    "severity 3": "medium",
    "minor": "low",
    "lowest": "low",
    "trivial": "low",
    "planning": "low",
    "sev4": "low",
    "sev 4": "low",
    "severity 4": "low",
}
# A code with a label after it: "P2 - High", "p2 high", "2 - High", "0: Critical".
_CODED_PRIORITY = re.compile(r"^(p\d)\b\s*[-–:]?\s*(.+)$|^(\d)\s*[-–:]\s*(.+)$")
# A bare code: "2", "p2". Its meaning depends on where the export's scale starts.
_PRIORITY_CODE = re.compile(r"^p?\d$")
# Spellings that are names, not codes: a name says what it means whatever the export's scale.
_NAMED_PRIORITIES = {k: v for k, v in PRIORITY_ALIASES.items() if not _PRIORITY_CODE.match(k)}

TIER_ALIASES: dict[str, str] = {
    "l1": "L1",
    "l2": "L2",
    "l3": "L3",
    "1": "L1",
    "2": "L2",
    "3": "L3",
    "tier 1": "L1",
    "tier 2": "L2",
    "tier 3": "L3",
    "tier1": "L1",
    "tier2": "L2",
    "tier3": "L3",
    "level 1": "L1",
    "level 2": "L2",
    "level 3": "L3",
    "first line": "L1",
    "second line": "L2",
    "third line": "L3",
    "service desk": "L1",
}

STATUS_ALIASES: dict[str, TicketStatus] = {
    "closed": TicketStatus.CLOSED,
    "done": TicketStatus.CLOSED,
    "complete": TicketStatus.CLOSED,
    "completed": TicketStatus.CLOSED,
    "cancelled": TicketStatus.CLOSED,
    "canceled": TicketStatus.CLOSED,
    "resolved": TicketStatus.RESOLVED,
    "fixed": TicketStatus.RESOLVED,
    "solved": TicketStatus.RESOLVED,
}


def parse_mapping(spec: str | None) -> dict[str, str]:
    """ "0=critical,1=high" → {"0": "critical", "1": "high"}: a per-export value mapping."""
    out: dict[str, str] = {}
    if not spec:
        return out
    for part in spec.split(","):
        if "=" not in part:
            raise TrainingDataError(f"mapping entry {part!r} must look like VALUE=LABEL")
        key, value = part.split("=", 1)
        out[key.strip().lower()] = value.strip()
    return out


def _read_map(
    spec: str | None, flag: str, normalise: Callable[[str], str | None], what: str, spellings: str
) -> dict[str, str]:
    """A value map read and checked: each target spelled any way the import itself reads it,
    resolved now, so that a target nobody can read is refused before the file is touched instead
    of skipping every row it was meant for."""
    out: dict[str, str] = {}
    for key, target in parse_mapping(spec).items():
        resolved = normalise(target)
        if resolved is None:
            raise TrainingDataError(f"{flag} {key}={target}: {target!r} is not {what} ({spellings})")
        out[key] = resolved
    return out


def read_priority_map(spec: str | None) -> dict[str, str]:
    """--priority-map ("0=urgent", "p1=P1") resolved to critical/high/medium/low."""
    spellings = "use critical, high, medium or low, or a spelling such as P1-P4, urgent or sev2"
    return _read_map(spec, "--priority-map", normalise_priority, "a priority", spellings)


def read_tier_map(spec: str | None) -> dict[str, str]:
    """--tier-map ("desk=1", "ops=tier 2") resolved to L1/L2/L3."""
    spellings = "use L1, L2 or L3, or a spelling such as 1-3, tier 2 or service desk"
    return _read_map(spec, "--tier-map", normalise_tier, "a tier", spellings)


def _named_priority(text: str, *, any_name: bool = False) -> str | None:
    """The priority a name stands for ("urgent", "Sev-2", "severity: 2"), or a priority word
    inside ("Low (SLA 5d)"). With `any_name` (the label after a code, "P3 (Moderate)") every
    one-word name counts too; on its own a value such as "not urgent" must not read as urgent."""
    spaced = " ".join(re.split(r"[\s\-_:]+", text)).strip()
    for spelling in (text, spaced):
        if spelling in _NAMED_PRIORITIES:
            return _NAMED_PRIORITIES[spelling]
    words = [word for word in re.split(r"[\s\-_/():]+", text) if word]
    named = _NAMED_PRIORITIES if any_name else {p: p for p in PRIORITIES}
    return next((named[word] for word in words if word in named), None)


def _code_priority(code: str, zero_based: Collection[str]) -> str | None:
    """A code read on the usual 1-based scale (P1/1 = critical), unless this column's scale of
    that kind ("p" or bare digits, in `zero_based`) starts at 0: then 1 may mean high, and no
    guess is made."""
    if ("p" if code.startswith("p") else "") in zero_based:
        return None
    return PRIORITY_ALIASES.get(code)


def normalise_priority(
    value: str, overrides: Mapping[str, str] | None = None, zero_based: Collection[str] = ()
) -> str | None:
    """critical/high/medium/low for a raw export value, or None when it means nothing we know.

    `overrides` (from `read_priority_map`) come first. When a code and a name disagree ("3 - Low"),
    the name wins: the export's own codes may count from 0 or run the other way, its words do not.
    """
    raw = value.strip().lower()
    if overrides and raw in overrides:
        mapped = overrides[raw].strip().lower()
        return mapped if mapped in PRIORITIES else None
    coded = _CODED_PRIORITY.match(raw)
    if coded:
        code, name = (coded.group(1), coded.group(2)) if coded.group(1) else (coded.group(3), coded.group(4))
        return _named_priority(name.strip(), any_name=True) or _code_priority(code, zero_based)
    if _PRIORITY_CODE.match(raw):
        return _code_priority(raw, zero_based)
    return _named_priority(raw)


def zero_based_codes(values: Iterable[str]) -> set[str]:
    """Which kinds of priority code ("" bare digits, "p" P-codes) count from 0 in these values.

    An export whose urgency column holds 0 (or P0) next to 1-3 numbers its levels from 0, so its
    3 is not our medium; guessing would give every such ticket a wrong label that looks right.
    """
    kinds: set[str] = set()
    for value in values:
        raw = value.strip().lower()
        coded = _CODED_PRIORITY.match(raw)
        code = (coded.group(1) or coded.group(3)) if coded else raw
        if code in {"0", "p0"}:
            kinds.add(code[:-1])
    return kinds


def normalise_tier(value: str) -> str | None:
    return TIER_ALIASES.get(value.strip().lower())


def compose_text(subject: str, body: str) -> str:
    """The text a model sees: subject and body on separate lines (either may be empty)."""
    return "\n".join(part for part in (subject.strip(), body.strip()) if part)


# Tickets.subject holds 500 characters; a longer first text column is a body, not a subject.
SUBJECT_MAX = 500


@dataclass(frozen=True)
class ColumnMapping:
    """Which export columns hold what. Only text and category are required."""

    text_cols: tuple[str, ...]
    category_col: str
    priority_col: str | None = None
    tier_col: str | None = None
    resolution_col: str | None = None
    created_col: str | None = None
    resolved_col: str | None = None
    status_col: str | None = None
    priority_map: dict[str, str] = field(default_factory=dict)
    tier_map: dict[str, str] = field(default_factory=dict)
    # Day/month order of numeric dates; None: as the file's own values prove (`date_evidence`).
    date_order: DateOrder | None = None

    @property
    def date_cols(self) -> list[str]:
        return [c for c in (self.created_col, self.resolved_col) if c]

    def columns(self) -> list[str]:
        optional = (
            self.priority_col,
            self.tier_col,
            self.resolution_col,
            self.created_col,
            self.resolved_col,
            self.status_col,
        )
        return [*self.text_cols, self.category_col, *(c for c in optional if c)]


@dataclass(frozen=True)
class HistoryRow:
    line: int
    ref: str  # hash of what is stored of the row (`content_ref`): the import's idempotency key
    subject: str
    body: str
    category: str
    priority: str | None
    tier: str | None
    resolution: str | None
    created_at: datetime | None
    resolved_at: datetime | None
    status: TicketStatus | None
    # A created/resolved value that is not a timestamp in any known form: the row still imports
    # (its text and labels are what training needs) and the report lists it.
    unreadable_date: str | None = None
    # The key imports before `content_ref` used (a hash of the raw cells): a history imported
    # then is still recognised when the same export is imported again.
    legacy_ref: str | None = None

    @property
    def text(self) -> str:
        return compose_text(self.subject, self.body)


@dataclass(frozen=True)
class SkippedRow:
    line: int
    reason: str
    # (kind, value) when the row was skipped for a priority or tier value nobody mapped.
    unmapped: tuple[str, str] | None = None


# kind → (its map flag, a label for the example, what it takes, its column flag)
_MAP_FLAGS = {
    "priority": (
        "--priority-map",
        "medium",
        "critical, high, medium or low, and spellings such as P1-P4, 1-4 or sev1-sev4",
        "--priority-col",
    ),
    "tier": ("--tier-map", "L1", "L1, L2 or L3, and spellings such as 1-3 or tier 1", "--tier-col"),
}


def _unmapped(line: int, kind: str, raw: str, zero_based: Collection[str] = ()) -> SkippedRow:
    reason = f"unknown label: empty {kind}" if not raw else f"unknown label: {kind} {raw!r}"
    code = raw.strip().lower()
    if code in PRIORITY_ALIASES and _PRIORITY_CODE.match(code) and code[:-1] in zero_based:
        reason += " (the column counts from 0, so its codes are not read as P1-P4)"
    return SkippedRow(line, reason, (kind, raw))


def mapping_hints(unmapped: Mapping[str, Collection[str]]) -> list[str]:
    """What to pass so that rows skipped for unmapped priority or tier values (by kind) get imported.

    Such rows are skipped rather than given a guessed priority, which the next training would
    learn as if someone had set it; an admin who sees only "unknown label: priority '0'" may not
    know that the export's own codes can be mapped.
    """
    hints = []
    for kind, values in unmapped.items():
        if not values:
            continue
        raw = sorted(values)
        flag, example, known, column = _MAP_FLAGS[kind]
        shown = ", ".join(repr(v) if v else "(empty)" for v in raw[:5]) + (", …" if len(raw) > 5 else "")
        subject, verb, which = (
            (f"{kind} value", "means", "it means")
            if len(raw) == 1
            else (f"{kind} values", "mean", "each means")
        )
        hints.append(
            f"{subject} {shown} {verb} nothing to Tierline (it takes {known}): say what {which}"
            f' with {flag} "{raw[0]}={example}" (comma-separated VALUE=LABEL pairs), or leave out'
            f" {column} to import those rows without their {kind}"
        )
    return hints


def _row_ref(values: Iterable[str]) -> str:
    return "import:" + hashlib.sha256("\x1f".join(values).encode("utf-8", "surrogateescape")).hexdigest()[:48]


def content_ref(
    texts: Iterable[str],
    category: str,
    priority: str | None,
    tier: str | None,
    resolution: str | None,
    created_at: datetime | None,
) -> str:
    """The import's idempotency key: what is stored of the row, not its raw cells.

    The same tickets exported again (columns in another order, another delimiter, an extra
    column, dates written another way) are the same tickets; keyed on the raw cells they were
    imported again, and the copies inflated every cross-validated figure.
    """
    created = created_at.isoformat() if created_at is not None else ""
    parts = [normalise_text(t) for t in texts]
    return _row_ref([*parts, "\x1e", category, priority or "", tier or "", resolution or "", created])


def date_evidence(path: Path, mapping: ColumnMapping, encoding: str = "utf-8") -> OrderEvidence:
    """What the export's created/resolved values say about their day/month order (one extra
    pass over the file; an import calls it once, to decide and to tell the admin)."""
    if not mapping.date_cols:
        return OrderEvidence(None)
    return infer_date_order(
        value for row in column_values(path, mapping.date_cols, encoding) for value in row
    )


def read_history_csv(
    path: Path, mapping: ColumnMapping, encoding: str = "utf-8"
) -> Iterator[HistoryRow | SkippedRow]:
    """Every data row of the export, parsed or skipped with a reason; raises only for a missing column."""
    reader, index = open_csv(path, mapping.columns(), encoding)
    order = mapping.date_order
    if order is None and mapping.date_cols:
        order = date_evidence(path, mapping, encoding).order
    timestamps = TimestampReader(order or DEFAULT_DATE_ORDER)
    # One pass over the label columns before the rows: whether the priority codes count from 0,
    # and the export's categories, to tell a stray quote's swallowed rows by (those seen twice
    # or more: a broken quote also makes one-off "categories" of body text).
    wanted = [mapping.category_col, *([mapping.priority_col] if mapping.priority_col else [])]
    columns = list(column_values(path, wanted, encoding))
    zero_based = zero_based_codes(row[1] for row in columns) if mapping.priority_col else set()
    seen = Counter(row[0].strip() for row in columns)
    labels = {label for label, n in seen.items() if n > 1 and label}  # a blank cell is no label
    width = max(index.values()) + 1
    line = reader.line_num  # the header's (last) line
    while True:
        first = line + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line = reader.line_num
            yield SkippedRow(line, f"malformed CSV ({exc})")
            continue
        line = reader.line_num
        if line > first and _swallowed(reader, first, line, index[mapping.category_col], width, labels):
            yield SkippedRow(
                first,
                f"malformed CSV: a quote opened on line {first} is not closed until line {line}, "
                "which would have made those lines one ticket; this row was skipped and the "
                "lines after it read as rows (close the quote and import the file again)",
            )
            reader.restart_after(first)
            line = first
            continue
        if not any(v.strip() for v in values):
            continue  # blank line
        yield _parse_row(line, values, index, mapping, timestamps, zero_based)


def _swallowed(
    reader: ExportRows, first: int, last: int, label_col: int, width: int, labels: set[str]
) -> bool:
    """Whether a row read over lines `first`..`last` is a stray quote's work rather than a
    ticket with a multi-line body: its lines after the first read, on their own, as complete
    rows whose category is one the export uses (a third of them or more, at least one). The
    line holding the closing quote ends any multi-line field with the rest of its row, so it is
    no evidence; only a quote never closed (the file ended inside it) leaves it in."""
    inner = [reader.line(n) for n in range(first + 1, last + 1)]
    if inner and '"' in inner[-1]:
        inner.pop()
    rowlike = 0
    for text in inner:
        try:
            fields = next(csv.reader([text], delimiter=reader.delimiter), [])
        except csv.Error:
            continue
        if len(fields) >= width and fields[label_col].strip() in labels:
            rowlike += 1
    return rowlike >= max(1, len(inner) // 3)


def _parse_row(
    line: int,
    values: list[str],
    index: dict[str, int],
    m: ColumnMapping,
    timestamps: TimestampReader,
    zero_based: Collection[str] = (),
) -> HistoryRow | SkippedRow:
    def get(col: str | None) -> str:
        if col is None:
            return ""
        i = index[col]
        return values[i].strip() if i < len(values) else ""

    if any(has_bad_bytes(v) for v in values):
        return SkippedRow(line, "bad encoding (bytes that are not valid text in the file's encoding)")
    values = [v.replace("\x00", "") for v in values]  # PostgreSQL text cannot hold NUL characters
    texts = [get(c) for c in m.text_cols]
    if not any(texts):
        return SkippedRow(line, "empty text")
    subject, body = texts[0], "\n".join(t for t in texts[1:] if t)
    if len(subject) > SUBJECT_MAX:  # a single free-text column: all of it is the body
        subject, body = "", "\n".join(t for t in texts if t)
    if not subject:
        first = body.split("\n", 1)[0]
        subject = first[:120]
    category = get(m.category_col)
    if not category:
        return SkippedRow(line, "unknown label: empty category")
    if len(category) > 100:
        return SkippedRow(line, "unknown label: category longer than 100 characters")
    priority: str | None = None
    if m.priority_col:
        raw_priority = get(m.priority_col)
        priority = normalise_priority(raw_priority, m.priority_map, zero_based)
        # A blank cell is no priority (the ticket still teaches its category); a value nobody
        # mapped is skipped, so that a re-import with the right --priority-map brings it in.
        if priority is None and (raw_priority or ("" in m.priority_map)):
            return _unmapped(line, "priority", raw_priority, zero_based)
    tier: str | None = None
    if m.tier_col:
        raw_tier = get(m.tier_col)
        if raw_tier:
            tier = m.tier_map.get(raw_tier.lower()) or normalise_tier(raw_tier)
            if tier not in {"L1", "L2", "L3"}:
                return _unmapped(line, "tier", raw_tier)
    status = STATUS_ALIASES.get(get(m.status_col).lower()) if m.status_col else None
    resolution = get(m.resolution_col) or None
    created_raw, resolved_raw = get(m.created_col), get(m.resolved_col)
    created_at, resolved_at = timestamps.parse(created_raw), timestamps.parse(resolved_raw)
    unreadable = next(
        (
            raw
            for raw, parsed in ((created_raw, created_at), (resolved_raw, resolved_at))
            if raw and not parsed
        ),
        None,
    )
    return HistoryRow(
        line=line,
        ref=content_ref(texts, category, priority, tier, resolution, created_at),
        legacy_ref=_row_ref(values),
        subject=subject,
        body=body,
        category=category,
        priority=priority,
        tier=tier,
        resolution=resolution,
        created_at=created_at,
        resolved_at=resolved_at,
        status=status,
        unreadable_date=unreadable,
    )


@dataclass(frozen=True)
class TrainingRows:
    texts: list[str]
    categories: list[str]
    priorities: list[str | None] | None
    ticket_ids: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)


def rows_from_history(rows: list[HistoryRow], with_priority: bool) -> TrainingRows:
    return TrainingRows(
        texts=[r.text for r in rows],
        categories=[r.category for r in rows],
        priorities=[r.priority for r in rows] if with_priority else None,
    )


# Tickets whose labels a person stands behind: imported history, anything corrected by an engineer,
# and tickets an engineer resolved. Open tickets labelled only by the model are left out, so the
# model never learns from its own unchecked guesses; so are tickets the requester withdrew
# ("it works now") before anyone resolved them, unless an engineer corrected them.
_SETTLED = (TicketStatus.RESOLVED, TicketStatus.CLOSED)
CORRECTION_KINDS = ("category_changed", "priority_changed")
WITHDRAWN_KIND = "withdrawn"


def training_rows_from_db(session: Session) -> TrainingRows:
    """Current labels of every ticket a person stands behind (see above); corrections included."""
    corrected = select(TicketEvent.ticket_id).where(TicketEvent.kind.in_(CORRECTION_KINDS))
    withdrawn = select(TicketEvent.ticket_id).where(TicketEvent.kind == WITHDRAWN_KIND)
    settled = Ticket.status.in_(_SETTLED) & Ticket.id.not_in(withdrawn)
    query = (
        select(
            Ticket.id, Ticket.subject, Ticket.body, Ticket.category, Ticket.priority, Ticket.priority_known
        )
        .where(Ticket.category != NEEDS_TRIAGE, Ticket.needs_triage.is_(False))
        .where((Ticket.source == "import") | settled | Ticket.id.in_(corrected))
        .order_by(Ticket.id)
    )
    ids: list[int] = []
    texts: list[str] = []
    cats: list[str] = []
    prios: list[str | None] = []
    for ticket_id, subject, body, category, priority, priority_known in session.execute(query):
        text = compose_text(subject or "", body or "")
        if not text:
            continue
        ids.append(ticket_id)
        texts.append(text)
        cats.append(category)
        prios.append(priority if priority_known and priority in PRIORITIES else None)
    return TrainingRows(texts, cats, prios if any(p is not None for p in prios) else None, ids)
