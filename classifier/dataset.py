"""Ticket history as training rows: from any CSV export (with a column mapping) or from the database.

Both paths compose the text the same way (`compose_text`), so a model trained on a CSV and one
trained on the imported tickets see identical inputs. Reading a CSV never stops at a bad row: each
row is either a `HistoryRow` or a `SkippedRow` with the reason in words.
"""

from __future__ import annotations

import _csv
import codecs
import csv
import hashlib
import io
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from classifier.dates import DEFAULT_DATE_ORDER, DateOrder, OrderEvidence, TimestampReader, infer_date_order
from classifier.errors import TrainingDataError
from classifier.labels import label_key
from classifier.priority import PRIORITIES
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
_PRIORITY_PREFIX = re.compile(r"^(p\d)\b|^(\d)\s*[-–:]\s*\w+")  # "P2 - High", "2 - High"

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


def normalise_priority(value: str, overrides: Mapping[str, str] | None = None) -> str | None:
    """critical/high/medium/low for a raw export value, or None when it means nothing we know."""
    raw = value.strip().lower()
    if overrides and raw in overrides:
        mapped = overrides[raw].strip().lower()
        return mapped if mapped in PRIORITIES else None
    if raw in PRIORITY_ALIASES:
        return PRIORITY_ALIASES[raw]
    match = _PRIORITY_PREFIX.match(raw)
    if match:
        return PRIORITY_ALIASES.get(match.group(1) or match.group(2))
    for word in re.split(r"[\s\-_/()]+", raw):
        if word in PRIORITIES:
            return word
    return None


def normalise_tier(value: str) -> str | None:
    return TIER_ALIASES.get(value.strip().lower())


def compose_text(subject: str, body: str) -> str:
    """The text a model sees: subject and body on separate lines (either may be empty)."""
    return "\n".join(part for part in (subject.strip(), body.strip()) if part)


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
    ref: str  # stable hash of the raw row: the import's idempotency key
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


def _unmapped(line: int, kind: str, raw: str) -> SkippedRow:
    reason = f"unknown label: empty {kind}" if not raw else f"unknown label: {kind} {raw!r}"
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


def _has_bad_bytes(value: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in value)


def _row_ref(values: list[str]) -> str:
    return "import:" + hashlib.sha256("\x1f".join(values).encode("utf-8", "surrogateescape")).hexdigest()[:48]


# Spreadsheet exports in many locales separate with ";" (the comma is their decimal mark); ticket
# tools also offer tab- and pipe-separated files.
DELIMITERS = (",", ";", "\t", "|")
# Old Mac exports end lines with a bare carriage return; the csv reader knows all three endings.
_LINE_END = re.compile(r"\r\n|\r|\n")


def detect_delimiter(text: str) -> str:
    """The delimiter that splits the header line into the most columns (the comma on a tie).

    Only the header is looked at: it is short and never holds free text, whereas a sniffer fed
    ticket bodies is misled by the commas and semicolons people type.
    """
    header = _LINE_END.split(text, maxsplit=1)[0]
    best, best_count = ",", 1
    for delimiter in DELIMITERS:
        count = len(next(csv.reader([header], delimiter=delimiter), []))
        if count > best_count:
            best, best_count = delimiter, count
    return best


def _column_index(path: Path, names: list[str], wanted: list[str]) -> dict[str, int]:
    """Where each mapped column is: an exact header match, else one that differs only in case or
    spacing ("Title " for "title"), as long as no two headers read the same that way."""
    exact = {name: i for i, name in enumerate(names)}
    loose: dict[str, list[int]] = {}  # header names read like labels: case and spacing aside
    for i, name in enumerate(names):
        loose.setdefault(label_key(name), []).append(i)
    index: dict[str, int] = {}
    missing: list[str] = []
    for column in wanted:
        if column in exact:
            index[column] = exact[column]
        elif len(loose.get(label_key(column), [])) == 1:
            index[column] = loose[label_key(column)][0]
        else:
            missing.append(column)
    if missing:
        shown = ", ".join(_printable(name) for name in names)
        raise TrainingDataError(f"{path} has no column(s) {', '.join(missing)}; its columns are: {shown}")
    return index


def _printable(value: str) -> str:
    """Undecodable bytes shown as the replacement character, not as escape codes."""
    return "".join("\ufffd" if "\udc80" <= ch <= "\udcff" else ch for ch in value)


def _is_utf8(encoding: str) -> bool:
    try:
        return codecs.lookup(encoding).name in {"utf-8", "utf-8-sig"}
    except LookupError:
        return False


# Byte-order marks and the codec that reads past each. UTF-32's little-endian mark begins with
# UTF-16's, so it is tried first.
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def file_encoding(raw: bytes, encoding: str) -> str:
    """The encoding to read an export with: the one asked for, except that a byte-order mark
    overrides the UTF-8 default. Excel's "Unicode Text" export is UTF-16 with a mark; read as
    UTF-8 it is noise from the first byte, and nobody should need to know to pass --encoding."""
    if _is_utf8(encoding):
        for mark, name in _BYTE_ORDER_MARKS:
            if raw.startswith(mark):
                return name
    return encoding


def _mark_bad_bytes(error: UnicodeError) -> tuple[str, int]:
    """Decode error handler: each undecodable byte becomes U+DCFF, which `_has_bad_bytes` flags."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return "\udcff" * (error.end - error.start), error.end


codecs.register_error("tierline-bad-bytes", _mark_bad_bytes)


def decode_export(raw: bytes, encoding: str) -> str:
    """The export's text; bytes that are not valid in `encoding` are kept as markers, so their
    rows are skipped as "bad encoding" instead of the whole file failing. surrogateescape keeps
    them byte for byte but only exists for bytes ≥ 0x80; a broken UTF-16 or UTF-32 unit can be
    any bytes, and gets the plain marker."""
    try:
        return raw.decode(encoding, errors="surrogateescape")
    except UnicodeDecodeError:
        return raw.decode(encoding, errors="tierline-bad-bytes")


def encoding_hint(path: Path, encoding: str) -> str | None:
    """A suggestion when a file read as UTF-8 is not UTF-8 but is valid Windows-1252 text.

    Excel on Windows saves CSV in the system code page; such a file is otherwise imported with
    every row that has an accented letter skipped as "bad encoding", which reads like bad data.
    """
    try:
        raw = Path(path).read_bytes()
    except OSError:
        return None
    return _encoding_hint(raw, Path(path).name, encoding)


def _encoding_hint(raw: bytes, name: str, encoding: str) -> str | None:
    if not _is_utf8(file_encoding(raw, encoding)):
        return None
    try:
        raw.decode("utf-8")
        return None
    except UnicodeDecodeError:
        pass
    try:
        raw.decode("cp1252")
    except UnicodeDecodeError:
        return None
    return (
        f"{name} is not UTF-8 text; exports saved by Excel on Windows usually are Windows-1252:"
        " try --encoding cp1252"
    )


def date_evidence(path: Path, mapping: ColumnMapping, encoding: str = "utf-8") -> OrderEvidence:
    """What the export's created/resolved values say about their day/month order (one extra
    pass over the file; an import calls it once, to decide and to tell the admin)."""
    if not mapping.date_cols:
        return OrderEvidence(None)
    return infer_date_order(
        value for row in _column_values(path, mapping.date_cols, encoding) for value in row
    )


def _column_values(path: Path, columns: list[str], encoding: str) -> Iterator[list[str]]:
    """The values of `columns` in every well-formed row."""
    reader, index = _open_csv(path, columns, encoding)
    positions = [index[c] for c in columns]
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error:
            continue
        yield [values[i] for i in positions if i < len(values)]


def read_history_csv(
    path: Path, mapping: ColumnMapping, encoding: str = "utf-8"
) -> Iterator[HistoryRow | SkippedRow]:
    """Every data row of the export, parsed or skipped with a reason; raises only for a missing column."""
    reader, index = _open_csv(path, mapping.columns(), encoding)
    order = mapping.date_order
    if order is None and mapping.date_cols:
        order = date_evidence(path, mapping, encoding).order
    timestamps = TimestampReader(order or DEFAULT_DATE_ORDER)
    line = 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line = reader.line_num
            yield SkippedRow(line, f"malformed CSV ({exc})")
            continue
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue  # blank line
        yield _parse_row(line, values, index, mapping, timestamps)


# Files admins pick by mistake instead of the CSV export, by their first bytes, with what to do.
_SAVE_AS_CSV = "save the sheet as CSV (in Excel: File → Save As → CSV UTF-8) and import that"
_NOT_CSV = (
    (b"PK\x03\x04", f"a zip archive, not a CSV file (an Excel .xlsx workbook is one): {_SAVE_AS_CSV}"),
    (b"\xd0\xcf\x11\xe0", f"a legacy Excel workbook (.xls), not a CSV file: {_SAVE_AS_CSV}"),
    (b"\x1f\x8b", "gzip-compressed: decompress it (gunzip) and import the CSV inside"),
    (b"%PDF", "a PDF document, not a CSV file: export the tickets from the ticket tool as CSV"),
)


def not_csv_reason(raw: bytes, encoding: str) -> str | None:
    """Why `raw` cannot be a CSV export, and what to do instead; None when it can be.

    Text holds NUL bytes only in UTF-16 and UTF-32, or as the odd stray byte a ticket tool let
    through (those rows import with it removed); a file whose start is a tenth NULs is binary,
    and its "header" would otherwise be reported as a line of noise."""
    for magic, reason in _NOT_CSV:
        if raw.startswith(magic):
            return reason
    wide = codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))
    start = raw[:4096]
    if not wide and start.count(0) * 10 > len(start):
        return (
            "a binary file, not a CSV export (if it is UTF-16 text without a byte-order mark,"
            " pass --encoding utf-16)"
        )
    return None


def _open_csv(path: Path, wanted: list[str], encoding: str) -> tuple[_csv.Reader, dict[str, int]]:
    """A csv reader positioned after the header, and where each wanted column is."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise TrainingDataError(f"cannot read {path}: {exc.strerror or exc}") from None
    encoding = file_encoding(raw, encoding)
    reason = not_csv_reason(raw, encoding)
    if reason is not None:
        raise TrainingDataError(f"{path} is {reason}")
    text = decode_export(raw.removeprefix(codecs.BOM_UTF8 if _is_utf8(encoding) else b""), encoding)
    # Ticket bodies with pasted logs exceed the csv module's 128 KiB default field limit.
    csv.field_size_limit(max(csv.field_size_limit(), 16 * 1024 * 1024))
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=detect_delimiter(text))
        header = next(reader)
    except StopIteration:
        raise TrainingDataError(f"{path} is empty") from None
    except csv.Error as exc:
        raise TrainingDataError(f"{path} is not a CSV file: {exc}") from None
    try:
        index = _column_index(path, [h.strip() for h in header], wanted)
    except TrainingDataError as exc:  # a header that does not decode reads as missing columns
        hint = _encoding_hint(raw, Path(path).name, encoding) if any(map(_has_bad_bytes, header)) else None
        raise TrainingDataError(f"{exc} ({hint})" if hint else str(exc)) from None
    return reader, index


def _parse_row(
    line: int, values: list[str], index: dict[str, int], m: ColumnMapping, timestamps: TimestampReader
) -> HistoryRow | SkippedRow:
    def get(col: str | None) -> str:
        if col is None:
            return ""
        i = index[col]
        return values[i].strip() if i < len(values) else ""

    if any(_has_bad_bytes(v) for v in values):
        return SkippedRow(line, "bad encoding (bytes that are not valid text in the file's encoding)")
    values = [v.replace("\x00", "") for v in values]  # PostgreSQL text cannot hold NUL characters
    texts = [get(c) for c in m.text_cols]
    if not any(texts):
        return SkippedRow(line, "empty text")
    subject, body = texts[0], "\n".join(t for t in texts[1:] if t)
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
        priority = normalise_priority(raw_priority, m.priority_map)
        # A blank cell is no priority (the ticket still teaches its category); a value nobody
        # mapped is skipped, so that a re-import with the right --priority-map brings it in.
        if priority is None and (raw_priority or ("" in m.priority_map)):
            return _unmapped(line, "priority", raw_priority)
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
        ref=_row_ref(values),
        subject=subject[:500],
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
# model never learns from its own unchecked guesses.
_SETTLED = (TicketStatus.RESOLVED, TicketStatus.CLOSED)
CORRECTION_KINDS = ("category_changed", "priority_changed")


def training_rows_from_db(session: Session) -> TrainingRows:
    """Current labels of every ticket a person stands behind (see above); corrections included."""
    corrected = select(TicketEvent.ticket_id).where(TicketEvent.kind.in_(CORRECTION_KINDS))
    query = (
        select(
            Ticket.id, Ticket.subject, Ticket.body, Ticket.category, Ticket.priority, Ticket.priority_known
        )
        .where(Ticket.category != NEEDS_TRIAGE, Ticket.needs_triage.is_(False))
        .where((Ticket.source == "import") | Ticket.status.in_(_SETTLED) | Ticket.id.in_(corrected))
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
