"""The admin's view: import, train, evaluate (JSON + plot), list, promote, rollback, corrections."""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.common import console
from bot.cli.main import app
from bot.settings import get_settings
from classifier.evaluation import REST_LABEL, largest_labels, plot_confusion
from models import Role, User
from tests.conftest import TestDatabase

FIXTURE = Path(__file__).parent / "fixtures" / "classifier" / "tickets.csv"
MAPPING = ["--text-cols", "subject,body", "--category-col", "category", "--priority-col", "priority"]


@pytest.fixture
def cli(db: TestDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("DATABASE_URL", db.url)
    monkeypatch.setenv("TIERLINE_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def said(result: object) -> str:
    """The output with Rich's line wrapping undone."""
    return " ".join(str(getattr(result, "output", "")).split())


def run(cli: CliRunner, *args: str) -> str:
    result = cli.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_import_train_evaluate_and_manage_models(cli: CliRunner, db: TestDatabase, tmp_path: Path) -> None:
    run(
        cli,
        "tickets",
        "import",
        str(FIXTURE),
        *MAPPING,
        "--tier-col",
        "tier",
        "--resolution-col",
        "resolution",
        "--created-col",
        "created_at",
        "--resolved-col",
        "resolved_at",
    )
    first = json.loads(run(cli, "classifier", "train", "--json"))
    assert first["status"] == "promoted" and any("folded into 'other'" in w for w in first["warnings"])
    # What the configured thresholds (0.45 category, 0.40 priority by default) will do, out of fold.
    assert first["at_threshold"]["category"]["threshold"] == 0.45
    assert 0 < first["at_threshold"]["category"]["coverage"] <= 1
    assert 0 < first["at_threshold"]["category"]["selective_accuracy"] <= 1
    again = json.loads(run(cli, "classifier", "train", "--json"))
    assert again["status"] == "unchanged" and again["version"] == first["version"]

    plot = tmp_path / "confusion.png"
    figures = json.loads(
        run(cli, "classifier", "evaluate", "--csv", str(FIXTURE), *MAPPING, "--json", "--plot", str(plot))
    )
    assert {"accuracy", "macro_f1", "ece", "coverage", "selective_accuracy", "per_class"} <= set(figures)
    assert figures["model_version"] == first["version"]
    assert 0 < figures["coverage"] <= 1 and "printing" in figures["per_class"]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # A second model from a CSV, kept or promoted by the gate; then promote/rollback by hand.
    second = json.loads(run(cli, "classifier", "train", "--csv", str(FIXTURE), *MAPPING, "--force", "--json"))
    assert second["status"] in {"promoted", "kept"} and second["message"]
    run(cli, "classifier", "promote", second["version"])
    listed = json.loads(run(cli, "classifier", "list", "--json"))
    assert [m["version"] for m in listed if m["active"]] == [second["version"]]
    assert "rolled back" in run(cli, "classifier", "rollback")
    listed = json.loads(run(cli, "classifier", "list", "--json"))
    assert [m["version"] for m in listed if m["active"]] == [first["version"]]
    told = " ".join(run(cli, "classifier", "train", "--csv", str(FIXTURE), *MAPPING, "--force").split())
    assert "at its threshold 0.45" in told and "the rest go to L1 triage" in told


def test_corrections_by_engineers_only_and_reported(cli: CliRunner, db: TestDatabase) -> None:
    run(cli, "tickets", "import", str(FIXTURE), *MAPPING)
    run(cli, "classifier", "train")
    with db.sessions() as session:
        session.add_all([User(external_id="cli:erin", role=Role.ENGINEER), User(external_id="cli:rob")])
        session.commit()
    refused = cli.invoke(app, ["tickets", "correct", "IT-1001", "--category", "network", "--as", "cli:rob"])
    assert refused.exit_code == 1 and "only engineers and admins" in said(refused)
    out = run(
        cli,
        "tickets",
        "correct",
        "IT-1001",
        "--category",
        "network",
        "--priority",
        "high",
        "--as",
        "cli:erin",
    )
    assert "→" in out
    report = json.loads(run(cli, "classifier", "corrections-report", "--json"))
    assert report["n"] == 1 and 0.0 <= report["accuracy"] <= 1.0


def test_clear_errors_instead_of_tracebacks(cli: CliRunner, tmp_path: Path) -> None:
    empty = cli.invoke(app, ["classifier", "train"])
    assert empty.exit_code == 1 and "import history first" in said(empty)
    missing = cli.invoke(
        app, ["classifier", "evaluate", "--model", str(tmp_path / "nope"), "--csv", str(FIXTURE)]
    )
    assert missing.exit_code == 1 and "does not exist" in said(missing)
    nothing = cli.invoke(app, ["classifier", "rollback"])
    assert nothing.exit_code == 1 and "no active model" in said(nothing)


def test_training_on_an_export_in_another_encoding_says_how_to_read_it(
    cli: CliRunner, tmp_path: Path
) -> None:
    excel = tmp_path / "excel.csv"
    header, body = FIXTURE.read_text(encoding="utf-8").split("\n", 1)
    excel.write_bytes(f"{header}\n{body.replace('e', 'é')}".encode("cp1252"))
    wrong = cli.invoke(app, ["classifier", "train", "--csv", str(excel), *MAPPING])
    assert wrong.exit_code == 1
    assert "no usable rows in excel.csv" in said(wrong) and "--encoding cp1252" in said(wrong)
    right = cli.invoke(app, ["classifier", "train", "--csv", str(excel), *MAPPING, "--encoding", "cp1252"])
    assert right.exit_code == 0, right.output
    assert "cp1252" not in said(right) and "first model" in said(right)


def test_a_header_in_another_encoding_is_named_readably_with_the_fix(cli: CliRunner, tmp_path: Path) -> None:
    excel = tmp_path / "excel.csv"
    excel.write_bytes("Catégorie,subject,body\nhardware,laptop,screen broken\n".encode("cp1252"))
    result = cli.invoke(app, ["tickets", "import", str(excel), "--category-col", "Catégorie"])
    assert result.exit_code == 1
    assert "Cat\ufffdgorie" in said(result) and "--encoding cp1252" in said(result)
    assert "udce9" not in said(result)
    fixed = cli.invoke(
        app, ["tickets", "import", str(excel), "--category-col", "Catégorie", "--encoding", "cp1252"]
    )
    assert fixed.exit_code == 0 and "imported 1 tickets" in said(fixed)


def test_training_on_an_export_with_its_own_priority_codes_names_the_map_that_reads_them(
    cli: CliRunner, tmp_path: Path
) -> None:
    header, body = FIXTURE.read_text(encoding="utf-8").split("\n", 1)
    codes = {",high,": ",A,", ",medium,": ",B,", ",low,": ",C,"}
    for word, code in codes.items():
        body = body.replace(word, code)
    export = tmp_path / "codes.csv"
    export.write_text(f"{header}\n{body}", encoding="utf-8")
    wrong = cli.invoke(app, ["classifier", "train", "--csv", str(export), *MAPPING])
    assert "'A'" in said(wrong) and "'C'" in said(wrong) and "--priority-map" in said(wrong)
    mapped = "A=high,B=medium,C=low"
    right = cli.invoke(app, ["classifier", "train", "--csv", str(export), *MAPPING, "--priority-map", mapped])
    assert right.exit_code == 0, right.output
    assert "skipped" not in said(right) and "--priority-map" not in said(right)


def test_list_shows_whole_versions_on_an_80_column_terminal_and_a_broken_manifest_is_a_sentence(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console, "width", 80)
    trained = json.loads(run(cli, "classifier", "train", "--csv", str(FIXTURE), *MAPPING, "--json"))
    listed = run(cli, "classifier", "list")
    assert trained["version"] in listed and max(map(len, listed.splitlines())) <= 80

    manifest = Path(trained["path"]) / "manifest.json"
    os.chmod(manifest, 0o644)
    manifest.write_text(json.dumps([json.loads(manifest.read_text())]))
    evaluated = cli.invoke(app, ["classifier", "evaluate", "--csv", str(FIXTURE), *MAPPING])
    assert evaluated.exit_code == 1 and "not a model manifest" in said(evaluated)
    assert "Traceback" not in evaluated.output
    retrained = json.loads(
        run(cli, "classifier", "train", "--csv", str(FIXTURE), *MAPPING, "--force", "--json")
    )
    assert retrained["status"] == "promoted" and "cannot be loaded" in retrained["message"]


def test_out_naming_an_existing_file_is_refused_in_one_sentence(cli: CliRunner, tmp_path: Path) -> None:
    taken = tmp_path / "notes.txt"
    taken.write_text("mine")
    result = cli.invoke(app, ["classifier", "train", "--csv", str(FIXTURE), *MAPPING, "--out", str(taken)])
    assert result.exit_code == 1 and "is a file; give a new directory" in said(result)
    assert taken.read_text() == "mine"


def test_evaluating_on_queues_the_model_never_saw_scores_them_as_misses(
    cli: CliRunner, tmp_path: Path
) -> None:
    run(cli, "classifier", "train", "--csv", str(FIXTURE), *MAPPING)
    unseen = tmp_path / "unseen.csv"
    unseen.write_text(
        "subject,body,category\n" + "".join(f"vpn thing {i},printer wifi,Another new\n" for i in range(20)),
        encoding="utf-8",
    )
    args = ["classifier", "evaluate", "--csv", str(unseen), "--text-cols", "subject,body"]
    figures = json.loads(run(cli, *args, "--json"))
    assert (figures["accuracy"], figures["macro_f1"]) == (0.0, 0.0)
    assert (figures["unknown_labels"], figures["folded_labels"]) == (20, 0)
    assert "20 tickets have labels the model never saw (scored as misses)" in " ".join(
        run(cli, *args).split()
    )


def test_the_confusion_picture_of_hundreds_of_queues_stays_small_and_counts_every_ticket(
    tmp_path: Path,
) -> None:
    labels = [f"queue-{i:03d}" for i in range(300)]
    matrix = [[(5 + i % 7 if i == j else int((i * j) % 97 == 0)) for j in range(300)] for i in range(300)]
    kept, small = largest_labels(labels, matrix, 40)
    assert len(kept) == 41 and kept[-1] == REST_LABEL
    assert sum(map(sum, small)) == sum(map(sum, matrix))
    png = plot_confusion({"labels": labels, "confusion": matrix}, tmp_path / "c.png", "300 queues")
    width, height = struct.unpack(">II", png.read_bytes()[16:24])
    assert width <= 4_000 and height <= 4_000
