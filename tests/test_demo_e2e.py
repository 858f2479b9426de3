"""The README's promise, end to end in subprocesses: set up the demo, then chat from a pipe.

This is what a new user does after `make demo`: pipe two lines into `tierline chat --json` and get
an answer citing a VPN article, then a handoff carrying a ticket number, category and priority.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

TIERLINE = [sys.executable, "-m", "bot.cli.main"]


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A demo set up from scratch in a private data directory (SQLite)."""
    data = tmp_path_factory.mktemp("demo")
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{data / 'tierline.db'}",
        "TIERLINE_DATA_DIR": str(data),
        "HF_HUB_OFFLINE": "1",
    }
    for key in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"):
        env.pop(key, None)
    done = subprocess.run(
        [*TIERLINE, "demo"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "No terminal attached" in done.stderr
    return env


def chat(env: dict[str, str], stdin: bytes) -> list[dict[str, object]]:
    done = subprocess.run(
        [*TIERLINE, "chat", "--json"], cwd=ROOT, env=env, input=stdin, capture_output=True, timeout=300
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    return [json.loads(line) for line in done.stdout.decode().splitlines() if line.strip()]


def test_vpn_question_is_answered_then_handed_off(demo_env: dict[str, str]) -> None:
    answer, handoff = chat(demo_env, b"my vpn disconnects every few minutes\nnot solved\n")
    assert answer["kind"] == "answer"
    sources = answer["sources"]
    assert isinstance(sources, list) and sources
    assert "vpn" in str(sources[0]["id"]).lower() or "vpn" in str(sources[0]["title"]).lower()
    # what a script needs to show the citation and the buttons: the passage, its section, the choices
    assert answer["passage"] and "section" in sources[0]
    assert set(answer["actions"]) == {"solved", "not_solved", "human"}
    assert handoff["kind"] == "handoff"
    ticket = handoff["ticket"]
    assert isinstance(ticket, dict)
    assert str(ticket["number"]).startswith("IT-")
    assert ticket["category"] and ticket["priority"] in {"critical", "high", "medium", "low"}
    assert ticket["tier"] in {"L1", "L2", "L3"}
    assert ticket["sla_response_due"] and ticket["sla_resolution_due"]


def _counts(env: dict[str, str]) -> dict[str, int]:
    engine = create_engine(env["DATABASE_URL"])
    try:
        with engine.connect() as conn:
            return {
                table: int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())
                for table in ("tickets", "kb_articles", "kb_article_versions", "users")
            } | {
                "active_models": int(
                    conn.execute(text("SELECT COUNT(*) FROM classifier_models WHERE active")).scalar_one()
                )
            }
    finally:
        engine.dispose()


def test_demo_setup_is_idempotent(demo_env: dict[str, str]) -> None:
    before = _counts(demo_env)
    assert before["tickets"] >= 800 and before["kb_articles"] >= 40 and before["active_models"] == 1
    again = subprocess.run(
        [*TIERLINE, "demo", "--setup-only"],
        cwd=ROOT,
        env=demo_env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    after = _counts(demo_env)
    # Nothing imported twice, no new article versions for unchanged files, one active model.
    assert {k: v for k, v in after.items() if k != "tickets"} == {
        k: v for k, v in before.items() if k != "tickets"
    }
    assert after["tickets"] == before["tickets"]


def test_bad_input_gets_clear_replies_and_nothing_is_lost(demo_env: dict[str, str]) -> None:
    db = Path(demo_env["TIERLINE_DATA_DIR"]) / "tierline.db"
    before = db.stat().st_size
    junk = (
        b"\n"
        + ("x" * 50_000).encode()
        + b"\n"
        + bytes(b for b in range(32) if b not in (10, 13)) * 4
        + b"\n"
        + "🙂🔥🙂".encode()
        + b"\n"
    )
    replies = chat(demo_env, junk)
    assert len(replies) == 4
    for reply in replies:
        assert reply["kind"] in {"answer", "clarify", "handoff", "notice"}
        assert isinstance(reply["text"], str) and reply["text"].strip()
    assert replies[0]["kind"] == "clarify"
    assert replies[2]["kind"] == "clarify" and "binary" in str(replies[2]["text"])
    assert replies[3]["kind"] == "clarify"
    assert db.stat().st_size >= before
