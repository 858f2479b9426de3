"""`tierline worker [--once]`: SLA timers, spike detection, and outbox delivery (Slack when configured)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from datetime import datetime, timedelta
from types import FrameType

import typer
from sqlalchemy.orm import Session, sessionmaker

from bot.cli.apps import app
from bot.cli.common import (
    configure_logging,
    console,
    err_console,
    fail,
    require_current_schema,
    session_factory,
    settings,
)
from bot.settings import Settings
from bot.workflow.errors import RoutingError
from bot.workflow.outbox import ConsoleNotifier, Notifier
from bot.workflow.routing import Routing, load_routing
from bot.workflow.worker import ExtraSweep, PassReport, run_forever, run_once
from kb_index.encoders import Encoder

log = logging.getLogger(__name__)


def build_notifier(cfg: Settings, routing: Routing) -> Notifier:
    """Slack when it is configured; otherwise print to the console."""
    if cfg.slack_enabled:
        from bot.slack.notifier import build_notifier as build_slack_notifier  # Slack libraries

        return build_slack_notifier(cfg, routing=routing)
    return ConsoleNotifier(console)


def spike_sweep(cfg: Settings, sessions: sessionmaker[Session], encoder: Encoder | None = None) -> ExtraSweep:
    """The worker's spike-detection step with the configured thresholds.

    The encoder loads on the first pass (seconds for MiniLM) and is reused after that.
    """
    from bot.learning.spikes import sweep_spikes  # numpy and the encoder: only when the worker runs

    def run(now: datetime) -> str | None:
        report = sweep_spikes(
            sessions,
            now=now,
            encoder=encoder or cfg.kb_encoder,
            window=timedelta(minutes=cfg.spike_window_minutes),
            min_tickets=cfg.spike_min_tickets,
            similarity=cfg.spike_similarity,
        )
        if report.quiet:
            return None
        grown = sum(report.grown.values())
        return f"{len(report.raised)} spike alert(s) raised, {grown} ticket(s) added to open alerts"

    return run


@app.command("worker")
def worker(
    once: bool = typer.Option(False, "--once", help="Process what is due now and exit."),
    worker_id: str = typer.Option("", "--id", help="Name of this worker in leases (default host:pid)."),
    interval: float | None = typer.Option(None, help="Seconds between passes (TIERLINE_WORKER_INTERVAL)."),
) -> None:
    """Run SLA timers (warnings, breaches, auto-escalation, auto-close) and deliver notifications."""
    if interval is not None and not interval > 0:  # 0 or less would spin without pause
        fail(f"--interval must be more than 0 seconds, not {interval:g}")
    cfg = settings()
    try:
        routing = load_routing(cfg.routing_file)
    except RoutingError as exc:
        fail(str(exc))
    # Every pass reads most tables: an older schema would fail inside a pass, and a failing
    # sweep is only logged, so a worker on it would look healthy while doing nothing.
    require_current_schema(cfg)
    configure_logging(cfg, libraries=False)
    sessions = session_factory(cfg)
    notifier = build_notifier(cfg, routing)
    name = worker_id or f"{socket.gethostname()}:{os.getpid()}"
    extras = [spike_sweep(cfg, sessions)]

    def show(report: PassReport) -> None:
        if once or not report.idle:  # a long-running worker stays quiet when nothing happened
            err_console.print(f"[dim]{name}[/] {report.summary()}")

    if once:
        show(run_once(sessions, routing=routing, notifier=notifier, worker_id=name, extra_sweeps=extras))
        return
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    every = interval if interval is not None else cfg.worker_interval_seconds
    err_console.print(f"worker {name} running every {every:g}s (Ctrl-C to stop)")
    run_forever(
        sessions,
        routing=routing,
        notifier=notifier,
        worker_id=name,
        interval=every,
        stop=stop,
        on_pass=show,
        extra_sweeps=extras,
    )
