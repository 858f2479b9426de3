"""The outbox survives crashes: a process killed between the change and the delivery, or between
sending and marking sent, loses nothing and — with a notifier idempotent per outbox id, as the
contract asks — delivers nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from bot.workflow.outbox import LEASE, deliver_pending
from models import OutboxMessage, utcnow
from tests.conftest import ROOT, TestDatabase
from tests.workflow.crash_child import FileNotifier


def _run_child(db: TestDatabase, inbox: Path, mode: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "tests.workflow.crash_child", db.url, str(inbox), mode],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr


def _rows(db: TestDatabase) -> list[OutboxMessage]:
    with db.sessions() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_crash_after_commit_then_restart_delivers_everything_once(db: TestDatabase, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox.txt"
    _run_child(db, inbox, "after_commit")
    rows = _rows(db)
    assert len(rows) == 10 and all(r.delivered_at is None for r in rows), (
        "committed changes kept their messages"
    )
    assert not inbox.exists()
    assert deliver_pending(db.sessions, FileNotifier(inbox), worker_id="restarted") == 10
    assert deliver_pending(db.sessions, FileNotifier(inbox), worker_id="again") == 0
    assert Counter(inbox.read_text().split()) == Counter(str(r.id) for r in rows)


def test_crash_between_send_and_mark_is_redelivered_once(db: TestDatabase, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox.txt"
    _run_child(db, inbox, "after_commit")
    _run_child(db, inbox, "mid_delivery")  # sends 3, dies before marking the 3rd
    rows = _rows(db)
    marked = [r for r in rows if r.delivered_at is not None]
    stuck = [r for r in rows if r.delivered_at is None and r.lease_owner is not None]
    assert len(marked) == 2 and len(stuck) == 8, (
        "the killed worker still held leases on the rest of its batch"
    )
    # a restarted worker cannot touch leased rows until the lease expires ...
    assert deliver_pending(db.sessions, FileNotifier(inbox), worker_id="restarted") == 0
    # ... then takes them over; the idempotent notifier skips the one already sent
    later = utcnow() + LEASE + timedelta(seconds=1)
    assert deliver_pending(db.sessions, FileNotifier(inbox), worker_id="restarted", now=later) == 8
    assert all(r.delivered_at is not None for r in _rows(db))
    assert Counter(inbox.read_text().split()) == Counter(str(r.id) for r in rows)
