"""Opening a ticket export: encoding, byte-order marks, delimiter and header, row by row.

Spreadsheets and ticket tools write CSV in many shapes (UTF-8 with or without a mark, UTF-16,
Windows-1252; comma, semicolon, tab or pipe; CRLF, LF or CR). This module turns any of them into
a csv reader over the data rows and the position of each mapped column, or refuses a file that
is not CSV at all (a workbook, an archive) with what to do instead. What the rows mean is
`classifier.dataset`'s job.
"""

from __future__ import annotations

import _csv
import codecs
import csv
import re
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path

from classifier.errors import TrainingDataError
from classifier.labels import label_key


def has_bad_bytes(value: str) -> bool:
    """Whether `value` holds bytes its encoding could not read (kept as lone surrogates)."""
    return any("\udc80" <= ch <= "\udcff" for ch in value)


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


# Excel's "sep=;" first line names the delimiter of the file that follows.
_SEP_LINE = re.compile(r"^sep=(.)$")


def sep_line_delimiter(text: str) -> str | None:
    """The delimiter a first line "sep=X" declares (Excel writes and reads it), else None."""
    match = _SEP_LINE.match(_LINE_END.split(text, maxsplit=1)[0].strip(" "))
    return match.group(1) if match else None


def header_name(cell: str) -> str:
    """A header cell as it is matched: without surrounding spaces or invisible format characters
    (a zero-width space or a stray byte-order mark pasted into a header is not part of its name)."""
    return "".join(ch for ch in cell if unicodedata.category(ch) != "Cf").strip()


def _column_index(path: Path, names: list[str], wanted: list[str]) -> dict[str, int]:
    """Where each mapped column is: an exact header match, else one that differs only in case or
    spacing ("Title " for "title"), as long as no two headers read the same that way. A mapped
    name the header holds twice is refused: either column could be the one meant."""
    exact: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in exact and name in wanted:
            raise TrainingDataError(
                f"{path} has two columns named {name!r} (columns {exact[name] + 1} and {i + 1});"
                " rename or remove one so that it is clear which one to import"
            )
        exact.setdefault(name, i)
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
    """Decode error handler: each undecodable byte becomes U+DCFF, which `has_bad_bytes` flags."""
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


def column_values(path: Path, columns: list[str], encoding: str) -> Iterator[list[str]]:
    """The values of `columns` in every well-formed row, in that order ("" where a short row
    has no such cell)."""
    reader, index = open_csv(path, columns, encoding)
    positions = [index[c] for c in columns]
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error:
            continue
        yield [values[i] if i < len(values) else "" for i in positions]


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


_PHYSICAL_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


class ExportRows:
    """The csv reader over an export's lines that can start again at any line.

    A stray opening quote makes the csv module read on to the next quote, hundreds of lines
    later, as one field: those rows would vanish into one ticket. `restart_after(line)` lets the
    caller drop the broken row and read on from the line after it. `line_num` is the file's
    physical line number of the last line read, as `csv.reader` counts it."""

    def __init__(self, text: str, delimiter: str) -> None:
        self.lines = _PHYSICAL_LINE.findall(text)
        self.delimiter = delimiter
        self._offset = 0
        self._reader: _csv.Reader = csv.reader(self.lines, delimiter=delimiter)

    def __iter__(self) -> ExportRows:
        return self

    def __next__(self) -> list[str]:
        return next(self._reader)

    @property
    def line_num(self) -> int:
        return self._offset + self._reader.line_num

    def line(self, number: int) -> str:
        """Physical line `number` (1-based) as it is in the file."""
        return self.lines[number - 1] if 0 < number <= len(self.lines) else ""

    def restart_after(self, line: int) -> None:
        self._offset = line
        self._reader = csv.reader(self.lines[line:], delimiter=self.delimiter)


def open_csv(path: Path, wanted: list[str], encoding: str) -> tuple[ExportRows, dict[str, int]]:
    """A reader positioned after the header, and where each wanted column is."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise TrainingDataError(f"cannot read {path}: {exc.strerror or exc}") from None
    encoding = file_encoding(raw, encoding)
    reason = not_csv_reason(raw, encoding)
    if reason is not None:
        raise TrainingDataError(f"{path} is {reason}")
    text = decode_export(raw.removeprefix(codecs.BOM_UTF8 if _is_utf8(encoding) else b""), encoding)
    # Ticket bodies with pasted logs exceed the csv module's 128 KiB default field limit, and a
    # field over any fixed limit ends the reader's sense of where rows start: no field can be
    # longer than the text itself. (A C long caps the limit, 32 bits on Windows.)
    csv.field_size_limit(max(csv.field_size_limit(), min(len(text) + 1, sys.maxsize, 2**31 - 1)))
    declared = sep_line_delimiter(text)
    try:
        reader = ExportRows(text, declared or detect_delimiter(text))
        if declared is not None:
            next(reader)  # the "sep=" line; the reader keeps counting lines from the file's first
        header = next(reader)
    except StopIteration:
        raise TrainingDataError(f"{path} is empty") from None
    except csv.Error as exc:
        raise TrainingDataError(f"{path} is not a CSV file: {exc}") from None
    try:
        index = _column_index(path, [header_name(h) for h in header], wanted)
    except TrainingDataError as exc:  # a header that does not decode reads as missing columns
        hint = _encoding_hint(raw, Path(path).name, encoding) if any(map(has_bad_bytes, header)) else None
        raise TrainingDataError(f"{exc} ({hint})" if hint else str(exc)) from None
    return reader, index
