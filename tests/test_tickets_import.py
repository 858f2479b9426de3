"""Importing ticket history: any export with a column mapping, bad rows reported, re-import idempotent."""

from __future__ import annotations

import csv
import gzip
import json
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from bot.cli.main import app
from bot.settings import get_settings
from bot.triage import correct_ticket
from classifier.dataset import (
    ColumnMapping,
    SkippedRow,
    normalise_priority,
    parse_mapping,
    read_history_csv,
    training_rows_from_db,
)
from classifier.errors import TrainingDataError
from classifier.evaluation import corrected_rows
from classifier.history import import_history
from models import Role, Ticket, TicketStatus, Tier, User
from models.db import transaction
from tests.conftest import TestDatabase, shared_path

HEADER = ["title", "description", "group", "urgency", "level", "opened", "closed", "fix"]
GOOD = [
    [
        "VPN drops",
        "tunnel disconnects every minute",
        "network",
        "P2",
        "2",
        "2026-01-05T10:00:00Z",
        "2026-01-05T12:00:00Z",
        "reinstalled client",
    ],
    ["Printer jam", "third floor printer jams", "printing", "low", "L1", "2026-02-01 09:00:00", "", ""],
    ["", "cannot open the finance share", "access", "1", "tier 3", "", "", ""],
]


def write_csv(path: Path, rows: list[list[str]], extra_bytes: bytes = b"") -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    if extra_bytes:
        with path.open("ab") as handle:
            handle.write(extra_bytes)
    return path


MAPPING = ColumnMapping(
    text_cols=("title", "description"),
    category_col="group",
    priority_col="urgency",
    tier_col="level",
    created_col="opened",
    resolved_col="closed",
    resolution_col="fix",
)


@pytest.fixture
def messy_csv(tmp_path: Path) -> Path:
    bad = [
        ["", "", "network", "P3", "L1", "", "", ""],  # empty text
        ["Mouse", "mouse is dead", "hardware", "whenever", "L1", "", "", ""],  # unknown priority
        ["Keyboard", "keys stick", "", "P3", "L1", "", "", ""],  # empty category
        ["Screen", "flickers", "hardware", "P3", "L9", "", "", ""],  # unknown tier
        GOOD[0],  # duplicate of the first row
    ]
    broken = b"Caf\xe9,menu \xe9 broken,facilities,P3,L1,,,\n"  # Latin-1 bytes in a UTF-8 file
    pasted = b"Log,core dump \x00\x00 pasted,software,P3,L1,,,\n"  # NULs PostgreSQL cannot store
    return write_csv(tmp_path / "export.csv", GOOD + bad, extra_bytes=broken + pasted)


def test_import_keeps_good_rows_and_explains_every_skipped_one(session: Session, messy_csv: Path) -> None:
    report = import_history(session, read_history_csv(messy_csv, MAPPING), prefix="IT")
    session.commit()
    assert report.imported == 4
    assert dict(report.skipped) == {
        "empty text": 1,
        "unknown label: priority 'whenever'": 1,
        "unknown label: empty category": 1,
        "unknown label: tier 'L9'": 1,
        "duplicate of an earlier row in the file": 1,
        "bad encoding (bytes that are not valid text in the file's encoding)": 1,
    }
    tickets = {t.category: t for t in session.scalars(select(Ticket))}
    vpn = tickets["network"]
    assert (vpn.subject, vpn.priority, vpn.tier, vpn.status) == (
        "VPN drops",
        "high",
        Tier.L2,
        TicketStatus.RESOLVED,
    )
    assert vpn.resolution == "reinstalled client" and vpn.resolved_at is not None
    assert vpn.source == "import" and vpn.number == f"IT-{vpn.id + 1000}"
    assert tickets["printing"].status == TicketStatus.CLOSED
    assert tickets["software"].body == "core dump  pasted"
    # No subject in the export: the body's first line stands in, and priority "1" means critical.
    assert tickets["access"].subject == "cannot open the finance share"
    assert (tickets["access"].priority, tickets["access"].tier) == ("critical", Tier.L3)


def test_importing_the_same_export_twice_adds_nothing(session: Session, messy_csv: Path) -> None:
    import_history(session, read_history_csv(messy_csv, MAPPING), prefix="IT")
    session.commit()
    again = import_history(session, read_history_csv(messy_csv, MAPPING), prefix="IT")
    session.commit()
    assert again.imported == 0
    assert again.skipped["already imported"] == 4
    assert session.scalar(select(func.count()).select_from(Ticket)) == 4


def test_a_missing_column_is_named_before_anything_is_read(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "x.csv", GOOD)
    mapping = ColumnMapping(text_cols=("subject",), category_col="group")
    with pytest.raises(TrainingDataError, match="no column\\(s\\) subject; its columns are: title"):
        list(read_history_csv(path, mapping))


def test_priority_spellings_from_real_exports() -> None:
    assert [normalise_priority(v) for v in ("P1", "2", "Medium", "3 - Moderate", "urgent", "Sev 4")] == [
        "critical",
        "high",
        "medium",
        "medium",
        "critical",
        "low",
    ]
    assert normalise_priority("0", parse_mapping("0=critical,3=low")) == "critical"
    assert normalise_priority("banana") is None


@pytest.fixture
def cli_env(db: TestDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("DATABASE_URL", db.url)
    monkeypatch.setenv("TIERLINE_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_cli_imports_a_real_export_with_numeric_codes_mapped(cli_env: CliRunner, db: TestDatabase) -> None:
    path = shared_path("data", "tickets", "endava_raw_codes.csv")
    args = [
        "tickets",
        "import",
        str(path),
        "--text-cols",
        "title,body",
        "--category-col",
        "category",
        "--priority-col",
        "urgency",
        "--priority-map",
        "0=critical,1=high,2=medium,3=low",
        "--json",
    ]
    result = cli_env.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    with db.sessions() as session:
        stored = session.scalar(select(func.count()).select_from(Ticket))
        priorities = set(session.scalars(select(Ticket.priority).distinct()))
    assert report["imported"] == stored and stored + report["skipped"] >= 5000
    assert priorities <= {"critical", "high", "medium", "low"} and len(priorities) > 1


def test_cli_reports_an_unreadable_mapping_in_one_sentence(cli_env: CliRunner, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "x.csv", GOOD)
    result = cli_env.invoke(
        app, ["tickets", "import", str(path), "--text-cols", "title", "--category-col", "nope"]
    )
    assert result.exit_code == 1
    assert "no column(s) nope" in result.output


def _export(path: Path, delimiter: str, encoding: str, header: list[str], line_end: str = "\r\n") -> Path:
    rows = [
        ["Café printer", "the printer by the café jams; again", "printing", "P3"],
        ["VPN", "tunnel drops, every minute", "network", "P2"],
    ]
    with path.open("w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle, delimiter=delimiter, lineterminator=line_end)
        writer.writerow(header)
        writer.writerows(rows)
    return path


LOOSE_MAPPING = ColumnMapping(text_cols=("title", "body"), category_col="category", priority_col="urgency")


@pytest.mark.parametrize(
    ("delimiter", "encoding", "header", "line_end"),
    [
        (";", "utf-8-sig", ["Title ", "Body", "Category", "URGENCY"], "\r\n"),  # Excel, comma-decimal locale
        ("\t", "utf-16", ["Title", "Body", "Category", "Urgency"], "\r\n"),  # Excel's "Unicode Text"
        (",", "utf-32", ["title", "body", "category", "urgency"], "\n"),
        ("\t", "utf-8", ["title", "body", "category", "urgency"], "\n"),
        ("|", "utf-8", ["title", "body", "category", "urgency"], "\r\n"),
        (",", "utf-8", ["title", "body", "category", "urgency"], "\r"),  # classic Mac line ends
    ],
)
def test_exports_with_other_delimiters_encodings_and_header_spellings_read_like_a_plain_csv(
    tmp_path: Path, delimiter: str, encoding: str, header: list[str], line_end: str
) -> None:
    """Files in any of these shapes import without flags: the UTF-16 and UTF-32 ones are
    recognised by their byte-order mark, without --encoding."""
    path = _export(tmp_path / "export.csv", delimiter, encoding, header, line_end)
    rows = list(read_history_csv(path, LOOSE_MAPPING))
    assert [(r.subject, r.body, r.category, r.priority) for r in rows if not isinstance(r, SkippedRow)] == [
        ("Café printer", "the printer by the café jams; again", "printing", "medium"),
        ("VPN", "tunnel drops, every minute", "network", "high"),
    ]


def test_headers_that_read_the_same_loosely_must_match_exactly(tmp_path: Path) -> None:
    path = _export(tmp_path / "export.csv", ",", "utf-8", ["Title", "title ", "category", "urgency"])
    mapping = ColumnMapping(text_cols=("TITLE",), category_col="category")
    with pytest.raises(TrainingDataError, match="no column\\(s\\) TITLE"):
        list(read_history_csv(path, mapping))
    exact = ColumnMapping(text_cols=("Title",), category_col="category")
    assert [r.subject for r in read_history_csv(path, exact)] == ["Café printer", "VPN"]


def test_a_windows_1252_export_is_explained_and_imports_with_its_encoding(
    cli_env: CliRunner, db: TestDatabase, tmp_path: Path
) -> None:
    path = _export(tmp_path / "excel.csv", ",", "cp1252", ["title", "body", "category", "urgency"])
    args = ["tickets", "import", str(path), "--text-cols", "title,body", "--category-col", "category"]
    as_utf8 = cli_env.invoke(app, [*args, "--json"])
    assert as_utf8.exit_code == 0, as_utf8.output
    report = json.loads(as_utf8.stdout)
    assert (report["imported"], report["skipped"]) == (1, 1)  # the row without accents
    assert "--encoding cp1252" in report["hint"]
    as_cp1252 = cli_env.invoke(app, [*args, "--encoding", "cp1252"])
    assert as_cp1252.exit_code == 0, as_cp1252.output
    assert "imported 1 tickets" in as_cp1252.output and "hint" not in as_cp1252.output
    with db.sessions() as session:
        assert set(session.scalars(select(Ticket.subject))) == {"Café printer", "VPN"}


def test_a_utf16_export_cut_off_mid_character_keeps_every_whole_row(
    cli_env: CliRunner, db: TestDatabase, tmp_path: Path
) -> None:
    path = _export(tmp_path / "unicode.txt", "\t", "utf-16", ["title", "body", "category", "urgency"])
    path.write_bytes(path.read_bytes() + "Disk full\tC: is full\tstorage".encode("utf-16-le") + b"\x00")
    args = ["tickets", "import", str(path), "--text-cols", "title,body", "--category-col", "category"]
    result = cli_env.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["imported"], report["skipped"]) == (2, 1)
    bad = "bad encoding (bytes that are not valid text in the file's encoding)"
    assert report["reasons"][bad]["rows"] == 1
    assert report["hint"] is None  # no advice to read a UTF-16 file as Windows-1252
    with db.sessions() as session:
        assert set(session.scalars(select(Ticket.subject))) == {"Café printer", "VPN"}


def _workbook(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as book:  # the shape of an .xlsx: a zip of XML parts
        book.writestr("[Content_Types].xml", "<Types/>")
        book.writestr("xl/worksheets/sheet1.xml", "<worksheet/>")
    return path


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        (
            "tickets.xlsx",
            None,
            "is a zip archive, not a CSV file (an Excel .xlsx workbook is one): save the sheet as CSV",
        ),
        (
            "tickets.xls",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600),
            "is a legacy Excel workbook (.xls)",
        ),
        (
            "tickets.csv.gz",
            gzip.compress(b"title,category\nvpn,network\n"),
            "is gzip-compressed: decompress it",
        ),
        ("tickets.csv", "title,category\nvpn,network\n".encode("utf-16-le"), "pass --encoding utf-16"),
    ],
)
def test_a_workbook_archive_or_binary_file_is_named_for_what_it_is_and_nothing_is_imported(
    cli_env: CliRunner, db: TestDatabase, tmp_path: Path, name: str, content: bytes | None, says: str
) -> None:
    path = tmp_path / name
    if content is None:
        _workbook(path)
    else:
        path.write_bytes(content)
    for command in (["tickets", "import"], ["classifier", "train", "--csv"]):
        result = cli_env.invoke(
            app, [*command, str(path), "--text-cols", "title", "--category-col", "category"]
        )
        assert result.exit_code == 1, result.output
        assert says in " ".join(result.output.split())
        assert "its columns are" not in result.output  # no line of binary noise read as a header
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 0


def test_a_folder_given_instead_of_the_export_is_called_a_folder(cli_env: CliRunner, tmp_path: Path) -> None:
    result = cli_env.invoke(app, ["tickets", "import", str(tmp_path), "--text-cols", "title"])
    assert result.exit_code == 1
    assert "is a folder; give the path of the CSV export inside it" in " ".join(result.output.split())


def _dated_export(path: Path) -> Path:
    path.write_text(
        "title,category,opened,closed\n"
        "printer jam,hardware,03/04/2025 10:00,03/05/2025 09:30\n"
        "new laptop,hardware,3/25/2025 9:00 AM,soon\n"
        'vpn broken,network,"Dec 1, 2025 2:05 PM",\n',
        encoding="utf-8",
    )
    return path


DATED_ARGS = ["--text-cols", "title", "--category-col", "category", "--created-col", "opened"]


def test_a_us_export_is_dated_month_first_because_its_own_dates_say_so_and_bad_dates_are_reported(
    cli_env: CliRunner, db: TestDatabase, tmp_path: Path
) -> None:
    path = _dated_export(tmp_path / "us.csv")
    args = ["tickets", "import", str(path), *DATED_ARGS, "--resolved-col", "closed"]
    result = cli_env.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["imported"], report["skipped"], report["date_order"]) == (3, 0, "mdy")
    assert report["unreadable_dates"] == {"rows": 1, "examples": [{"line": 3, "value": "soon"}]}
    assert "dates read month first, as '3/25/2025 9:00 AM' shows" in report["hints"]
    assert any("not a readable timestamp (line 3: 'soon')" in h for h in report["hints"])
    with db.sessions() as session:
        dated = {t.subject: t for t in session.scalars(select(Ticket))}
    assert dated["printer jam"].created_at.replace(tzinfo=None) == datetime(2025, 3, 4, 10, 0)
    resolved = dated["printer jam"].resolved_at
    assert resolved is not None and resolved.replace(tzinfo=None) == datetime(2025, 3, 5, 9, 30)
    assert dated["new laptop"].resolved_at is None  # "soon" is no date, and the row is not lost
    assert dated["vpn broken"].created_at.replace(tzinfo=None) == datetime(2025, 12, 1, 14, 5)


def test_dates_nothing_in_the_file_disambiguates_follow_date_order_and_the_default_is_said(
    cli_env: CliRunner, db: TestDatabase, tmp_path: Path
) -> None:
    path = tmp_path / "eu.csv"
    path.write_text("title,category,opened\nprinter jam,hardware,03/04/2025 10:00\n", encoding="utf-8")
    default = cli_env.invoke(app, ["tickets", "import", str(path), *DATED_ARGS])
    assert default.exit_code == 0, default.output
    assert "no date in the file tells day from month" in default.output
    assert "--date-order mdy" in default.output
    with db.sessions() as session:
        ticket = session.scalars(select(Ticket)).one()
        assert ticket.created_at.replace(tzinfo=None) == datetime(2025, 4, 3, 10, 0)  # 3 April
    other = tmp_path / "us.csv"
    other.write_text("title,category,opened\nmail down,email,03/04/2025 10:00\n", encoding="utf-8")
    told = cli_env.invoke(app, ["tickets", "import", str(other), *DATED_ARGS, "--date-order", "mdy"])
    assert told.exit_code == 0, told.output
    assert "tells day from month" not in told.output
    with db.sessions() as session:
        mail = session.scalars(select(Ticket).where(Ticket.subject == "mail down")).one()
        assert mail.created_at.replace(tzinfo=None) == datetime(2025, 3, 4, 10, 0)
    wrong = cli_env.invoke(app, ["tickets", "import", str(other), *DATED_ARGS, "--date-order", "ymd"])
    assert wrong.exit_code == 1
    assert "--date-order takes dmy (day first) or mdy (month first), not 'ymd'" in wrong.output


def test_unknown_priority_codes_come_with_the_flag_that_maps_them_and_following_it_loses_no_row(
    cli_env: CliRunner, db: TestDatabase, tmp_path: Path
) -> None:
    path = tmp_path / "codes.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["title", "category", "urgency"])
        writer.writerows(
            [
                ["mail server down for the whole office", "email", "0"],
                ["printer toner low", "printing", "3"],
                ["new laptop for an intern", "hardware", ""],
            ]
        )
    args = ["tickets", "import", str(path), "--text-cols", "title", "--priority-col", "urgency"]
    first = cli_env.invoke(app, [*args, "--json"])
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    # the blank cell is no priority, not a bad row: that ticket still teaches its category; and
    # a column holding 0 counts from 0, so its 3 is not guessed to be our medium
    assert (report["imported"], report["skipped"]) == (1, 2)
    assert set(report["reasons"]) == {
        "unknown label: priority '0'",
        "unknown label: priority '3' (the column counts from 0, so its codes are not read as P1-P4)",
    }
    (hint,) = report["hints"]
    assert "'0', '3'" in hint and '--priority-map "0=' in hint and "--priority-col" in hint

    shown = cli_env.invoke(app, args)
    assert "hint:" in shown.output and "--priority-map" in shown.output

    # the map's targets are read like the file's own values: "urgent" is critical
    mapped = cli_env.invoke(app, [*args, "--priority-map", "0=urgent,3=P4", "--json"])
    assert mapped.exit_code == 0, mapped.output
    again = json.loads(mapped.stdout)
    assert again["imported"] == 2 and again["hints"] == []
    with db.sessions() as session:
        training = training_rows_from_db(session)
    assert training.priorities is not None
    learned = dict(zip(training.categories, training.priorities, strict=True))
    # the blank one is not trained on as the stored stand-in
    assert learned == {"email": "critical", "printing": "low", "hardware": None}


def test_a_priority_given_to_imported_history_without_one_is_a_correction_the_next_training_reads(
    db: TestDatabase, tmp_path: Path
) -> None:
    export = tmp_path / "no_priority.csv"
    export.write_text("title,group\nnew laptop for an intern,hardware\n", encoding="utf-8")
    rows = list(read_history_csv(export, ColumnMapping(text_cols=("title",), category_col="group")))
    with transaction(db.sessions) as session:
        import_history(session, rows, prefix="IT")
    with transaction(db.sessions) as session:
        ticket = session.scalars(select(Ticket)).one()
        assert ticket.priority == "medium" and not ticket.priority_known  # a stand-in, not a label
        engineer = User(external_id="cli:eve", display_name="Eve", role=Role.ENGINEER)
        session.add(engineer)
        session.flush()
        correct_ticket(session, ticket, actor=engineer, category="laptops")
    with db.sessions() as session:  # a category correction says nothing about the priority
        assert corrected_rows(session).priorities == [None]
        assert training_rows_from_db(session).priorities is None
    with transaction(db.sessions) as session:
        ticket = session.scalars(select(Ticket)).one()
        engineer = session.scalars(select(User).where(User.external_id == "cli:eve")).one()
        events = correct_ticket(session, ticket, actor=engineer, priority="medium")
        assert [e.kind for e in events] == ["priority_changed"]  # same value, but now someone said so
    with db.sessions() as session:
        assert training_rows_from_db(session).priorities == ["medium"]
        assert corrected_rows(session).priorities == ["medium"]


def test_a_database_without_the_schema_is_explained_in_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")
    monkeypatch.setenv("TIERLINE_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    try:
        path = write_csv(tmp_path / "x.csv", GOOD)
        args = ["tickets", "import", str(path), "--text-cols", "title,description", "--category-col", "group"]
        result = CliRunner().invoke(app, args)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "no Tierline schema yet" in result.output and "tierline db upgrade" in result.output
    assert "Traceback" not in result.output


def test_an_imported_ticket_without_a_priority_is_shown_as_not_recorded_until_someone_sets_one(
    cli_env: CliRunner, db: TestDatabase, tmp_path: Path
) -> None:
    export = tmp_path / "history.csv"
    export.write_text("title,group,urgency\nnew laptop for an intern,hardware,\n", encoding="utf-8")
    args = ["tickets", "import", str(export), "--text-cols", "title", "--category-col", "group"]
    imported = cli_env.invoke(app, [*args, "--priority-col", "urgency"])
    assert imported.exit_code == 0, imported.output
    with transaction(db.sessions) as session:
        session.add(User(external_id="cli:ada", display_name="Ada", role=Role.ADMIN))
        number = session.scalars(select(Ticket.number)).one()

    shown = cli_env.invoke(app, ["tickets", "show", number, "--as", "cli:ada"])
    assert shown.exit_code == 0, shown.output
    assert "priority not recorded" in shown.output and "medium" not in shown.output
    as_json = json.loads(cli_env.invoke(app, ["tickets", "show", number, "--as", "cli:ada", "--json"]).stdout)
    assert as_json["priority_known"] is False

    changed = cli_env.invoke(app, ["tickets", "correct", number, "--priority", "medium", "--as", "cli:ada"])
    assert changed.exit_code == 0, changed.output
    assert "priority not recorded → medium" in changed.output
    shown = cli_env.invoke(app, ["tickets", "show", number, "--as", "cli:ada"])
    assert "priority not recorded" not in shown.output and "· medium ·" in shown.output


def _write(
    path: Path, header: list[str], rows: list[list[str]], delimiter: str = ",", first: str = ""
) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        handle.write(first)
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_the_same_tickets_exported_again_in_another_shape_are_not_imported_twice(
    session: Session, tmp_path: Path
) -> None:
    first = write_csv(tmp_path / "first.csv", GOOD)
    # The same tickets: columns in another order, ';' between them, an extra column nobody maps.
    order = [3, 0, 2, 1, 4, 5, 6, 7]
    again = _write(
        tmp_path / "again.csv",
        [HEADER[i] for i in order] + ["exported_at"],
        [[row[i] for i in order] + ["2026-12-01"] for row in GOOD],
        delimiter=";",
    )
    assert import_history(session, read_history_csv(first, MAPPING), prefix="IT").imported == 3
    report = import_history(session, read_history_csv(again, MAPPING), prefix="IT")
    assert report.imported == 0 and report.skipped == {"already imported": 3}
    assert session.scalar(select(func.count()).select_from(Ticket)) == 3


def test_history_imported_before_the_content_key_is_still_recognised(
    session: Session, tmp_path: Path
) -> None:
    export = write_csv(tmp_path / "x.csv", GOOD)
    rows = [r for r in read_history_csv(export, MAPPING) if not isinstance(r, SkippedRow)]
    import_history(session, iter(rows), prefix="IT")
    # As an earlier version stored them: keyed on the raw cells.
    for ticket, row in zip(session.scalars(select(Ticket).order_by(Ticket.id)), rows, strict=True):
        ticket.external_ref = row.legacy_ref
    session.flush()
    report = import_history(session, read_history_csv(export, MAPPING), prefix="IT")
    assert report.imported == 0 and session.scalar(select(func.count()).select_from(Ticket)) == 3


def test_a_code_and_a_word_that_disagree_read_as_the_word() -> None:
    assert normalise_priority("3 - Low") == "low"
    assert normalise_priority("P0 - Critical") == "critical"
    assert normalise_priority("0 - Critical") == "critical"
    assert normalise_priority("P3 (Moderate)") == "medium"
    assert normalise_priority("not urgent") is None  # no guessing from a word inside a phrase


def test_a_priority_column_counting_from_0_is_not_read_on_the_1_to_4_scale(tmp_path: Path) -> None:
    export = _write(
        tmp_path / "codes.csv",
        ["title", "group", "urgency"],
        [["vpn down", "network", "0"], ["printer", "printing", "3"], ["share", "access", "1 - High"]],
    )
    mapping = ColumnMapping(text_cols=("title",), category_col="group", priority_col="urgency")
    rows = list(read_history_csv(export, mapping))
    assert [r.reason for r in rows if isinstance(r, SkippedRow)] == [
        "unknown label: priority '0'",
        "unknown label: priority '3' (the column counts from 0, so its codes are not read as P1-P4)",
    ]
    assert [r.priority for r in rows if not isinstance(r, SkippedRow)] == ["high"]  # its word says so


def test_map_targets_are_read_like_export_values_and_a_bad_one_is_refused_before_importing(
    cli_env: CliRunner, db: TestDatabase, tmp_path: Path
) -> None:
    export = _write(
        tmp_path / "tiers.csv",
        ["title", "category", "tier", "priority"],
        [["a", "email", "desk", "0"], ["c", "email", "ops", "p1"]],
    )
    args = ["tickets", "import", str(export), "--text-cols", "title", "--tier-col", "tier"]
    args += ["--priority-col", "priority", "--json"]
    bad = cli_env.invoke(app, [*args, "--priority-map", "0=asap"])
    assert bad.exit_code != 0 and "'asap' is not a priority" in bad.output
    assert len(bad.output.strip().splitlines()) == 1 and "Traceback" not in bad.output
    bad_tier = cli_env.invoke(app, [*args, "--tier-map", "desk=helpdesk"])
    assert bad_tier.exit_code != 0 and "'helpdesk' is not a tier" in bad_tier.output
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 0

    good = cli_env.invoke(app, [*args, "--priority-map", "0=urgent,p1=P2", "--tier-map", "desk=1,ops=tier 2"])
    assert good.exit_code == 0, good.output
    assert json.loads(good.stdout)["imported"] == 2
    with db.sessions() as session:
        stored = {(t.subject, t.priority, t.tier) for t in session.scalars(select(Ticket))}
    assert stored == {("a", "critical", Tier.L1), ("c", "high", Tier.L2)}


def test_a_long_single_text_column_is_kept_whole(session: Session, tmp_path: Path) -> None:
    long_text = "Outlook crashes on start. " + "Stack trace line. " * 80_000  # about 1.4 MB
    export = _write(tmp_path / "long.csv", ["Description", "Category"], [[long_text, "email"]])
    mapping = ColumnMapping(text_cols=("Description",), category_col="Category")
    import_history(session, read_history_csv(export, mapping), prefix="IT")
    ticket = session.scalars(select(Ticket)).one()
    assert len(ticket.subject) <= 500 and ticket.body == long_text.strip()
    (training,) = training_rows_from_db(session).texts
    assert long_text.strip() in training


def test_excels_sep_line_names_the_delimiter_and_is_not_the_header(session: Session, tmp_path: Path) -> None:
    export = _write(
        tmp_path / "sep.csv",
        ["subject", "body", "category"],
        [["vpn down", "cannot connect, again", "network"]],
        delimiter=";",
        first="sep=;\r\n",
    )
    mapping = ColumnMapping(text_cols=("subject", "body"), category_col="category")
    (row,) = read_history_csv(export, mapping)
    assert not isinstance(row, SkippedRow)
    assert (row.line, row.body, row.category) == (3, "cannot connect, again", "network")


def test_a_field_larger_than_16_mb_does_not_spoil_the_rows_after_it(session: Session, tmp_path: Path) -> None:
    log = "log line error 0x80070005 access denied, retrying\n" * 360_000  # about 18 MB
    rows = [["ok", "fine", "email"], ["huge log", log, "software"]] + [
        [f"row {i}", "b", "email"] for i in range(50)
    ]
    export = _write(tmp_path / "huge.csv", ["subject", "body", "category"], rows)
    mapping = ColumnMapping(text_cols=("subject", "body"), category_col="category")
    report = import_history(session, read_history_csv(export, mapping), prefix="IT")
    assert (report.imported, report.skipped_total) == (52, 0)


def test_a_mapped_column_named_twice_is_refused_naming_both_positions(tmp_path: Path) -> None:
    export = tmp_path / "dup.csv"
    export.write_text("subject,body,category,category\nvpn,no connect,Network,\n", encoding="utf-8")
    mapping = ColumnMapping(text_cols=("subject", "body"), category_col="category")
    with pytest.raises(TrainingDataError, match=r"two columns named 'category' \(columns 3 and 4\)"):
        list(read_history_csv(export, mapping))
    # A repeated column nobody maps is no question.
    export.write_text("subject,body,category,note,note\nvpn,no connect,Network,a,b\n", encoding="utf-8")
    assert not isinstance(next(read_history_csv(export, mapping)), SkippedRow)


def test_invisible_characters_in_a_header_do_not_hide_the_column(tmp_path: Path) -> None:
    export = tmp_path / "zw.csv"
    export.write_text("sub\u200bject,body,\u2060category\nvpn,no connect,network\n", encoding="utf-8")
    mapping = ColumnMapping(text_cols=("subject", "body"), category_col="category")
    (row,) = read_history_csv(export, mapping)
    assert not isinstance(row, SkippedRow) and row.category == "network"


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
def test_a_stray_quote_costs_its_own_row_and_no_other(tmp_path: Path, line_end: str) -> None:
    lines = ["text,category"]
    for i in range(60):
        queue = ("Hardware", "Access", "Network")[i % 3]
        lines.append(f"ticket {i} about the {queue.lower()} thing,{queue}")
    lines[12] = '"printer on floor 3 jams again,Hardware'  # opened, never closed
    lines[40] = '"vpn, drops every minute",Network'  # the next quote in the file
    lines[20] = '"a body over lines\nwith, commas\nand a signature",Access'  # a real multi-line body
    lines[-1] = '"the last but one row,Access'  # a quote that would swallow the final row
    lines.append("the final row,Network")
    path = tmp_path / "export.csv"
    path.write_text(line_end.join(lines) + line_end, encoding="utf-8", newline="")
    rows = list(read_history_csv(path, ColumnMapping(("text",), "category")))
    skipped = [r for r in rows if isinstance(r, SkippedRow)]
    imported = [r for r in rows if not isinstance(r, SkippedRow)]
    assert [s.line for s in skipped] == [13, 63] and all("quote opened" in s.reason for s in skipped)
    assert len(imported) == 60 - 2 + 1  # every row but the two broken ones, plus the final row
    assert "with, commas" in next(r.body or r.subject for r in imported if r.subject.startswith("a body"))
    assert {"vpn, drops every minute", "the final row", "ticket 13 about the access thing"} <= {
        r.subject for r in imported
    }


def test_a_body_line_ending_in_the_delimiter_is_no_stray_quote_even_when_categories_are_blank(
    tmp_path: Path,
) -> None:
    lines = ["text,category", "no queue yet,", "nor this one,"]  # blank categories are common
    lines += [f"ticket {i},Hardware" for i in range(10)]
    lines.append('"Printer jams\nThanks,\nAda",Hardware')  # a signature line ends with a comma
    path = tmp_path / "export.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = list(read_history_csv(path, ColumnMapping(("text",), "category")))
    assert not [r for r in rows if isinstance(r, SkippedRow) and "quote" in r.reason]
    assert any(not isinstance(r, SkippedRow) and "Ada" in (r.body or r.subject) for r in rows)
