"""`tierline kb …` as a user runs it: ingest, search, calibrate, eval (real model, tiny data)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from bot.settings import get_settings
from models.db import upgrade

KB = Path(__file__).parent / "kb"
EVAL_KEYS = {
    "recall@1",
    "recall@5",
    "recall@10",
    "mrr@10",
    "ndcg@10",
    "answer_rate",
    "answered_precision",
    "abstain_rate",
}

pytestmark = pytest.mark.slow


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    url = f"sqlite:///{tmp_path / 'tierline.db'}"
    upgrade(url)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("TIERLINE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("TIERLINE_KB_ENCODER", "minilm")
    monkeypatch.setenv("TIERLINE_KB_SOURCES", str(KB / "tiny_kb"))
    monkeypatch.delenv("TIERLINE_KB_INDEX_DIR", raising=False)
    monkeypatch.delenv("TIERLINE_KB_THRESHOLD", raising=False)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def _json(output: str) -> dict[str, object]:
    result: dict[str, object] = json.loads(output.strip().splitlines()[-1])
    return result


def test_search_before_ingest_explains_what_to_run(cli: CliRunner) -> None:
    result = cli.invoke(app, ["kb", "search", "vpn"])
    assert result.exit_code == 1
    assert "tierline kb ingest" in " ".join(result.output.split())


def test_ingest_search_and_calibrate(cli: CliRunner, tmp_path: Path) -> None:
    ingest = cli.invoke(app, ["kb", "ingest", "--json"])
    assert ingest.exit_code == 0, ingest.output
    assert len(_json(ingest.output)["added"]) == 6  # type: ignore[arg-type]

    found = cli.invoke(app, ["kb", "search", "how do I get on the office wifi", "--json"])
    assert found.exit_code == 0, found.output
    body = _json(found.output)
    assert body["hits"][0]["article_id"] == "office-wifi"  # type: ignore[index]

    internal = cli.invoke(app, ["kb", "search", "restart the VPN gateway cluster", "--json"])
    assert "l2-vpn-gateway-restart" not in internal.output
    engineer = cli.invoke(app, ["kb", "search", "restart the VPN gateway cluster", "--internal", "--json"])
    assert _json(engineer.output)["hits"][0]["article_id"] == "l2-vpn-gateway-restart"  # type: ignore[index]

    calibrated = cli.invoke(
        app,
        [
            "kb",
            "calibrate",
            "--queries",
            str(KB / "tiny_eval" / "queries.jsonl"),
            "--qrels",
            str(KB / "tiny_eval" / "qrels" / "test.tsv"),
            "--target-precision",
            "0.9",
        ],
    )
    assert calibrated.exit_code == 0, calibrated.output
    stored = json.loads((tmp_path / "var" / "kb_index" / "calibration.json").read_text(encoding="utf-8"))
    assert stored["target_precision"] == 0.9 and stored["encoder"] == "minilm"
    after = _json(cli.invoke(app, ["kb", "search", "where is the IT bar", "--json"]).output)
    assert after["threshold"] == pytest.approx(stored["threshold"])


def test_calibrate_with_too_little_data_fails_with_one_sentence(cli: CliRunner) -> None:
    assert cli.invoke(app, ["kb", "ingest"]).exit_code == 0
    result = cli.invoke(
        app,
        [
            "kb",
            "calibrate",
            "--queries",
            str(KB / "beir_tiny" / "queries.jsonl"),
            "--qrels",
            str(KB / "beir_tiny" / "qrels" / "test.tsv"),
        ],
    )
    assert result.exit_code == 1
    assert "calibration needs at least 20 queries" in " ".join(result.output.split())


def test_eval_reports_every_metric_and_abstention(cli: CliRunner) -> None:
    result = cli.invoke(app, ["kb", "eval", "--beir", str(KB / "beir_tiny"), "--json"])
    assert result.exit_code == 0, result.output
    metrics = _json(result.output)
    assert set(metrics) >= EVAL_KEYS
    assert metrics["recall@10"] == 1.0
    assert metrics["abstain_rate"] is not None  # q5 has no qrels line: out-of-KB


def test_eval_without_out_of_kb_queries_has_null_abstain_rate(cli: CliRunner, tmp_path: Path) -> None:
    folder = tmp_path / "beir"
    shutil.copytree(KB / "beir_tiny", folder)
    lines = (folder / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    (folder / "queries.jsonl").write_text("\n".join(lines[:4]) + "\n", encoding="utf-8")
    metrics = _json(cli.invoke(app, ["kb", "eval", "--beir", str(folder), "--json"]).output)
    assert metrics["abstain_rate"] is None


def test_eval_on_a_folder_without_corpus_fails_clearly(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(app, ["kb", "eval", "--beir", str(tmp_path)])
    assert result.exit_code == 1
    said = " ".join(result.output.split())  # Rich wraps long lines
    assert "corpus.jsonl does not exist" in said


@pytest.mark.parametrize("mistake", ["missing", "empty", "pdf"])
def test_a_mistyped_source_changes_nothing(cli: CliRunner, tmp_path: Path, mistake: str) -> None:
    assert cli.invoke(app, ["kb", "ingest"]).exit_code == 0
    wrong = tmp_path / "kb-typo"
    if mistake != "missing":
        wrong.mkdir()
    if mistake == "pdf":
        (wrong / "manual.pdf").write_bytes(b"%PDF-1.7 not an article")
    again = cli.invoke(app, ["kb", "ingest", str(wrong)])
    assert again.exit_code == 1 and "nothing was changed" in " ".join(again.output.split())
    found = cli.invoke(app, ["kb", "search", "how do I get on the office wifi", "--json"])
    assert _json(found.output)["hits"][0]["article_id"] == "office-wifi"  # type: ignore[index]


def test_files_ingest_does_not_read_are_named(cli: CliRunner, tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    shutil.copytree(KB / "tiny_kb", kb)
    (kb / "vpn-guide.docx").write_bytes(b"PK\x03\x04 a word file")
    result = cli.invoke(app, ["kb", "ingest", str(kb), "--json"])
    assert result.exit_code == 0, result.output
    skipped = _json(result.output)["skipped"]
    assert [s["path"] for s in skipped] == [str(kb / "vpn-guide.docx")]  # type: ignore[index,union-attr]
