"""One worker pass: fire due SLA timers, run extra sweeps, then deliver the outbox.

`tierline worker` repeats it. Extra sweeps (spike detection) are plain callables composed in
`bot.cli.worker`, so the workflow package does not depend on the learning loop; one that fails is
logged and skipped, because SLA timers and delivery matter more than any extra.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.workflow.outbox import Notifier, deliver_pending
from bot.workflow.routing import Routing
from bot.workflow.sla import SweepReport, sweep
from models import utcnow

log = logging.getLogger(__name__)

# One extra step of a pass, given the pass's clock; returns a line for the log, or None when idle.
ExtraSweep = Callable[[datetime], str | None]


@dataclass
class PassReport:
    sweep: SweepReport
    delivered: int
    extras: list[str] = field(default_factory=list)

    @property
    def idle(self) -> bool:
        return self.sweep.checked == 0 and self.sweep.failed == 0 and self.delivered == 0 and not self.extras

    def summary(self) -> str:
        s = self.sweep
        return (
            f"checked {s.checked} ticket(s): {s.warnings} warning(s), {s.breaches} breach(es), "
            f"{s.escalations} auto-escalation(s), {s.closed} auto-closed; "
            f"delivered {self.delivered} message(s)"
            + (f"; {s.failed} ticket(s) failed, see the log" if s.failed else "")
            + "".join(f"; {line}" for line in self.extras)
        )


def run_once(
    sessions: sessionmaker[Session],
    *,
    routing: Routing,
    notifier: Notifier,
    worker_id: str,
    now: datetime | None = None,
    batch: int = 100,
    sweep_batch: int = 200,
    extra_sweeps: Sequence[ExtraSweep] = (),
) -> PassReport:
    """Everything due now. Delivery runs last so this pass's warnings and alerts go out at once."""
    report = sweep(sessions, worker_id=worker_id, routing=routing, now=now, batch_size=sweep_batch)
    extras = run_extra_sweeps(extra_sweeps, now or utcnow(), worker_id)
    delivered = 0
    while True:
        sent = deliver_pending(sessions, notifier, worker_id=worker_id, limit=batch, now=now)
        delivered += sent
        if sent < batch:
            return PassReport(report, delivered, extras)


def run_extra_sweeps(extra_sweeps: Sequence[ExtraSweep], now: datetime, worker_id: str) -> list[str]:
    """Each extra sweep in turn; a failure is logged with its traceback and the pass goes on."""
    lines: list[str] = []
    for extra in extra_sweeps:
        try:
            line = extra(now)
        except Exception:
            log.exception("worker %s: extra sweep %s failed; SLA timers and delivery go on", worker_id, extra)
            continue
        if line:
            lines.append(line)
    return lines


def run_forever(
    sessions: sessionmaker[Session],
    *,
    routing: Routing,
    notifier: Notifier,
    worker_id: str,
    interval: float,
    stop: threading.Event,
    on_pass: Callable[[PassReport], None] = lambda _: None,
    extra_sweeps: Sequence[ExtraSweep] = (),
) -> None:
    """Repeat `run_once` every `interval` seconds until `stop` is set (SIGTERM / Ctrl-C)."""
    while not stop.is_set():
        try:
            on_pass(
                run_once(
                    sessions,
                    routing=routing,
                    notifier=notifier,
                    worker_id=worker_id,
                    extra_sweeps=extra_sweeps,
                )
            )
        except (OperationalError, InterfaceError) as exc:
            # The database went away (restart, failover): say so and try again next interval;
            # nothing is lost because every change and every outbox row is still in the database.
            log.error("worker %s: database unavailable, retrying in %ss: %s", worker_id, interval, exc)
        stop.wait(interval)
