"""A process the crash test kills on purpose (SIGKILL: no cleanup, no flush, no rollback).

    python -m tests.workflow.crash_child URL SENT_LOG MODE

MODE "after_commit": open tickets, commit, die before any delivery.
MODE "mid_delivery": deliver, and die right after the 3rd send, before it is marked delivered.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from bot.workflow.outbox import deliver_pending
from bot.workflow.routing import Routing
from models import OutboxMessage, utcnow
from models.db import make_engine, make_session_factory, transaction
from tests.workflow.factories import people, ticket


class FileNotifier:
    """Appends each outbox id to a file — the 'person's inbox'. Idempotent per outbox id, as the
    outbox contract asks of front ends: an id already in the inbox is not sent again."""

    def __init__(self, path: Path, die_after: int | None = None) -> None:
        self.path = path
        self.die_after = die_after
        self.sent = 0

    def deliver(self, message: OutboxMessage) -> None:
        inbox = self.path.read_text().split() if self.path.exists() else []
        if str(message.id) in inbox:
            return
        with self.path.open("a") as f:
            f.write(f"{message.id}\n")
            f.flush()
            os.fsync(f.fileno())
        self.sent += 1
        if self.die_after is not None and self.sent >= self.die_after:
            os.kill(os.getpid(), signal.SIGKILL)


def main(url: str, log: str, mode: str) -> None:
    sessions = make_session_factory(make_engine(url))
    if mode == "after_commit":
        with transaction(sessions) as s:
            crew = people(s)
            for _ in range(5):
                ticket(s, crew.requester, routing=Routing.default(), now=utcnow())
        os.kill(os.getpid(), signal.SIGKILL)
    deliver_pending(sessions, FileNotifier(Path(log), die_after=3), worker_id="doomed")


if __name__ == "__main__":
    main(*sys.argv[1:4])
