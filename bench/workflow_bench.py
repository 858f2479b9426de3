"""Workflow throughput: tickets opened per second through the real intake, and SLA sweep time with
100k open tickets, on SQLite and PostgreSQL. Figures are printed with a baseline measured in the
same process (raw row inserts; a full scan of open tickets) so the ratios travel across machines.

    .venv/bin/python bench/workflow_bench.py                       # SQLite and PostgreSQL
    .venv/bin/python bench/workflow_bench.py --backend sqlite --open 100000 --intake 2000
    TIERLINE_BENCH_PG=postgresql+psycopg://postgres@127.0.0.1:5432/test \
        .venv/bin/python bench/workflow_bench.py --backend postgresql

PostgreSQL runs in a scratch database created (and dropped) on that server.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url

from bot.workflow import ensure_user, grant_tier, open_ticket
from bot.workflow.routing import Routing
from bot.workflow.sla import sweep
from bot.workflow.states import OPEN
from bot.workflow.timers import apply_targets, pending_timers, schedule
from classifier.types import Facts, HeadPrediction, TriagePrediction
from models import Priority, Role, Ticket, TicketStatus, Tier, User, utcnow
from models.db import make_engine, make_session_factory, transaction, upgrade

ROUTING = Routing.default()
CATEGORIES = list(ROUTING.categories)
PRIORITIES = [p.value for p in Priority]
FIRED = {
    "response_warning": "sla_warned_at",
    "response_breach": "sla_breached_at",
    "resolution_warning": "sla_resolution_warned_at",
    "resolution_breach": "sla_resolution_breached_at",
}


@contextmanager
def scratch_database(backend: str, pg_base: str) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/bench.db"
            upgrade(url)
            yield url
        return
    name = f"tierline_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(pg_base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_base).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def triage(rng: random.Random) -> TriagePrediction:
    return TriagePrediction(
        HeadPrediction(rng.choice(CATEGORIES), 0.9, rng.random() < 0.05),
        HeadPrediction(rng.choice(PRIORITIES), 0.8, False),
        "bench-model",
    )


def bench_backend(backend: str, url: str, *, intake: int, open_count: int) -> None:
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    rng = random.Random(7)
    with transaction(sessions) as s:
        requester_id = ensure_user(s, "bench:requester").id
        grant_tier(s, ensure_user(s, "bench:eng", role=Role.ENGINEER), Tier.L1)

    # --- baseline: bare ticket rows, one transaction each -----------------------------------------
    start = time.perf_counter()
    for i in range(intake):
        with engine.begin() as conn:
            conn.execute(
                insert(Ticket).values(subject=f"raw {i}", category="printing", requester_id=requester_id)
            )
    raw_rate = intake / (time.perf_counter() - start)

    # --- intake: routing, SLA, 2 events, 2 outbox rows, one transaction per ticket (as in chat) ----
    start = time.perf_counter()
    for i in range(intake):
        with transaction(sessions) as s:
            requester = s.get_one(User, requester_id)
            open_ticket(
                s,
                requester=requester,
                subject=f"bench {i}",
                body="...",
                triage=triage(rng),
                facts=Facts(),
                routing=ROUTING,
            )
    intake_rate = intake / (time.perf_counter() - start)
    print(
        f"[{backend}] intake: {intake_rate:,.0f} tickets/s (bare row insert baseline {raw_rate:,.0f}/s, "
        f"ratio {intake_rate / raw_rate:.2f})"
    )

    # --- fill to `open_count` open tickets in a steady state: created over the last 3 days, with
    # the timers already past marked as fired (as a running sweeper would have left them) -------
    now = utcnow()
    start = time.perf_counter()
    batch: list[dict[str, object]] = []
    existing = intake * 2
    for i in range(max(0, open_count - existing)):
        t = Ticket(
            subject=f"open {i}",
            category=rng.choice(CATEGORIES),
            priority=rng.choice(PRIORITIES),
            status=TicketStatus.TRIAGED,
            tier=rng.choice(list(Tier)),
            requester_id=requester_id,
            created_at=now - timedelta(hours=rng.uniform(0, 72)),
            sla_paused_seconds=0.0,
        )
        apply_targets(t, ROUTING)
        for name, when in pending_timers(t):
            if when <= now:
                setattr(t, FIRED[name], when)
        schedule(t, ROUTING)
        batch.append(
            {
                "number": f"OPEN-{i}",
                "subject": t.subject,
                "category": t.category,
                "priority": t.priority,
                "status": t.status,
                "tier": t.tier,
                "requester_id": requester_id,
                "created_at": t.created_at,
                "updated_at": t.created_at,
                "sla_response_due": t.sla_response_due,
                "sla_resolution_due": t.sla_resolution_due,
                "sla_response_warn_at": t.sla_response_warn_at,
                "sla_resolution_warn_at": t.sla_resolution_warn_at,
                "sla_warned_at": t.sla_warned_at,
                "sla_breached_at": t.sla_breached_at,
                "sla_resolution_warned_at": t.sla_resolution_warned_at,
                "sla_resolution_breached_at": t.sla_resolution_breached_at,
                "sla_next_check_at": t.sla_next_check_at,
                "facts": {},
                "body": "",
                "source": "bench",
                "sla_paused_seconds": 0.0,
                "needs_triage": False,
                "reopen_count": 0,
            }
        )
        if len(batch) == 5000:
            with engine.begin() as conn:
                conn.execute(insert(Ticket), batch)
            batch.clear()
    if batch:
        with engine.begin() as conn:
            conn.execute(insert(Ticket), batch)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE tickets"))
    with sessions() as s:
        total_open = (
            s.scalar(select(text("count(*)")).select_from(Ticket).where(Ticket.status.in_(OPEN))) or 0
        )
    print(f"[{backend}] filled to {total_open:,} open tickets in {time.perf_counter() - start:.1f}s")

    # --- baseline: what a naive sweeper reads (every open ticket's timers) -------------------------
    start = time.perf_counter()
    with sessions() as s:
        rows = s.execute(
            select(Ticket.id, Ticket.sla_response_due, Ticket.sla_resolution_due).where(
                Ticket.status.in_(OPEN)
            )
        ).all()
    scan = time.perf_counter() - start
    print(f"[{backend}] baseline full scan of open tickets: {scan * 1000:,.0f} ms ({len(rows):,} rows)")

    # --- sweeps -------------------------------------------------------------------------------------
    start = time.perf_counter()
    idle = sweep(sessions, worker_id="bench", routing=ROUTING, now=now)
    idle_s = time.perf_counter() - start
    print(
        f"[{backend}] sweep, nothing due: {idle_s * 1000:,.1f} ms ({idle.checked} checked; "
        f"{scan / max(idle_s, 1e-9):,.0f}x faster than the scan)"
    )
    for horizon in (timedelta(minutes=15), timedelta(hours=2)):
        with sessions() as s:
            due = (
                s.scalar(
                    select(text("count(*)"))
                    .select_from(Ticket)
                    .where(Ticket.sla_next_check_at <= now + horizon)
                )
                or 0
            )
        start = time.perf_counter()
        report = sweep(sessions, worker_id="bench", routing=ROUTING, now=now + horizon)
        took = time.perf_counter() - start
        print(
            f"[{backend}] sweep with {due:,} due of {total_open:,} open: {took:.2f}s "
            f"({report.checked / took:,.0f} tickets/s; {report.warnings} warnings, "
            f"{report.breaches} breaches, {report.escalations} escalations)"
        )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--open", type=int, default=100_000, help="open tickets for the sweep (default 100k)")
    parser.add_argument("--intake", type=int, default=2_000, help="tickets opened through the intake")
    parser.add_argument(
        "--pg",
        default=os.environ.get("TIERLINE_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
    )
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        with scratch_database(backend, args.pg) as url:
            bench_backend(backend, url, intake=args.intake, open_count=args.open)


if __name__ == "__main__":
    main()
