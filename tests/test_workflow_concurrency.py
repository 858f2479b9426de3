"""Races that happen in production: many engineers clicking Claim at once, and several workers
sweeping SLA timers and delivering the outbox at the same time. Real threads and processes against
the test database (SQLite file and PostgreSQL)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from bot import workflow as wf
from bot.workflow.routing import Routing
from bot.workflow.worker import PassReport, run_once
from models import OutboxMessage, Role, Ticket, TicketEvent, TicketStatus, Tier, User, utcnow
from models.db import transaction
from tests.conftest import EXAMPLES, TestDatabase
from tests.workflow.factories import people, ticket

ROUTING = Routing.default()
RACES = 100
CONTENDERS = 4


def test_100_claim_races_have_exactly_one_winner_each(db: TestDatabase) -> None:
    with transaction(db.sessions) as s:
        crew = people(s)
        ticket_ids = [ticket(s, crew.requester, routing=ROUTING).id for _ in range(RACES)]
        engineers = [
            wf.grant_tier(s, wf.ensure_user(s, f"cli:eng{i}", f"Eng {i}", Role.ENGINEER), Tier.L1).id
            for i in range(CONTENDERS)
        ]
    barrier = threading.Barrier(CONTENDERS)

    def contender(ticket_id: int, engineer_id: int) -> str:
        with db.sessions() as s:
            t = s.get_one(Ticket, ticket_id)
            me = s.get_one(User, engineer_id)
            barrier.wait(timeout=30)  # everyone has read the unclaimed ticket before anyone claims
            try:
                wf.claim(s, t, actor=me)
                s.commit()
                return "won"
            except wf.AlreadyClaimed as refused:
                s.rollback()
                # every contender read the ticket unclaimed, so losers lose inside the atomic UPDATE
                return "lost" if "just claimed by" in str(refused) else f"refused: {refused}"

    outcomes: Counter[str] = Counter()
    winners: dict[int, int] = {}
    with ThreadPoolExecutor(CONTENDERS) as pool:
        for ticket_id in ticket_ids:
            results = list(pool.map(lambda e, t=ticket_id: contender(t, e), engineers))
            outcomes.update(results)
            assert results.count("won") == 1, f"race on ticket {ticket_id}: {results}"
    assert outcomes == {"won": RACES, "lost": RACES * (CONTENDERS - 1)}
    with db.sessions() as s:
        for ticket_id in ticket_ids:
            t = s.get_one(Ticket, ticket_id)
            claims = [e for e in t.events if e.kind == "claimed"]
            assert t.status == TicketStatus.IN_PROGRESS and len(claims) == 1
            assert claims[0].actor_id == t.assignee_id
            winners[t.assignee_id or 0] = winners.get(t.assignee_id or 0, 0) + 1
    assert sum(winners.values()) == RACES


def test_two_worker_processes_never_double_fire(db: TestDatabase, tmp_path: Path) -> None:
    """Two `tierline worker --once` processes over the same backlog of overdue tickets: every timer
    fires once, every ticket escalates once, every outbox row is printed by exactly one of them."""
    past = utcnow() - timedelta(days=2)
    with transaction(db.sessions) as s:
        crew = people(s)
        for i in range(60):
            ticket(s, crew.requester, routing=ROUTING, priority="critical", now=past + timedelta(seconds=i))
    env = {
        **os.environ,
        "DATABASE_URL": db.url,
        "TIERLINE_ROUTING": str(EXAMPLES / "routing.yml"),
        "SLACK_BOT_TOKEN": "",
        "COLUMNS": "200",
    }
    tierline = str(Path(sys.executable).parent / "tierline")
    procs = [
        subprocess.Popen(
            [tierline, "worker", "--once", "--id", f"w{i}"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for p, (_out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
    printed = Counter(int(m) for out, _ in outputs for m in re.findall(r"^#(\d+) ", out, re.MULTILINE))
    with db.sessions() as s:
        total = s.scalar(select(func.count()).select_from(OutboxMessage)) or 0
        undelivered = s.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.delivered_at.is_(None))
        )
        events = Counter(s.scalars(select(TicketEvent.kind)))
        tiers = Counter(s.scalars(select(Ticket.tier)))
    assert undelivered == 0
    assert set(printed) == set(range(1, total + 1)) and set(printed.values()) == {1}
    # each ticket: the critical clocks all ran out -> one breach per clock, one auto-escalation
    assert events["sla_breach"] == 2 * 60 and events["escalated"] == 60 and events["sla_warning"] == 0
    assert tiers == {Tier.L2: 60}


def test_two_worker_threads_in_small_batches_never_double_fire(db: TestDatabase) -> None:
    """The same race with small batches, so the two workers' batches surely interleave."""
    past = utcnow() - timedelta(days=2)
    with transaction(db.sessions) as s:
        crew = people(s)
        for i in range(80):
            ticket(s, crew.requester, routing=ROUTING, priority="critical", now=past + timedelta(seconds=i))
    barrier = threading.Barrier(2)
    seen: list[list[int]] = [[], []]

    class Inbox:
        def __init__(self, index: int) -> None:
            self.index = index

        def deliver(self, message: OutboxMessage) -> None:
            seen[self.index].append(message.id)

    def work(index: int) -> PassReport:
        barrier.wait(timeout=30)
        return run_once(
            db.sessions, routing=ROUTING, notifier=Inbox(index), worker_id=f"t{index}", batch=7, sweep_batch=5
        )

    with ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(work, [0, 1]))
    assert sum(r.sweep.escalations for r in reports) == 80
    assert sum(r.sweep.breaches for r in reports) == 160
    delivered = Counter(seen[0] + seen[1])
    with db.sessions() as s:
        total = s.scalar(select(func.count()).select_from(OutboxMessage)) or 0
        events = Counter(s.scalars(select(TicketEvent.kind)))
    assert set(delivered.values()) == {1} and len(delivered) == total
    assert events["escalated"] == 80 and events["sla_breach"] == 160


def test_first_messages_racing_create_one_user(db: TestDatabase) -> None:
    """A new person's first two messages arrive together: both handlers succeed, one user row."""
    barrier = threading.Barrier(6)

    def first_sight(_: int) -> int:
        with db.sessions() as s:
            barrier.wait(timeout=30)
            user = wf.ensure_user(s, "U0NEWCOMER", "Newcomer")
            s.commit()
            return user.id

    with ThreadPoolExecutor(6) as pool:
        ids = set(pool.map(first_sight, range(6)))
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(User).where(User.external_id == "U0NEWCOMER")) == 1
    assert len(ids) == 1
