"""Wiring for `tierline serve`: the container's services, the bolt app, and the server loop.

Models load here, at start-up, so the first Slack event is answered as fast as the hundredth.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from bot import observability
from bot.container import Container
from bot.slack.app import SlackServices, build_app
from bot.slack.client import make_web_client
from bot.slack.config import SlackConfig
from bot.slack.learning import LearningHooks
from bot.slack.notifier import SlackNotifier
from bot.slack.server import make_http_server, make_wsgi_app, serve_in_thread, start_socket_mode
from bot.workflow.categories import routed_categories
from bot.workflow.outbox import deliver_pending
from models.db import transaction

log = logging.getLogger(__name__)


def retrainer(container: Container) -> Callable[[], str]:
    """Train on the ticket history (corrections included) and say what the promotion gate decided."""

    def run() -> str:
        from classifier.dataset import training_rows_from_db
        from classifier.registry import train_and_register

        settings = container.settings
        with transaction(container.sessions) as session:
            outcome = train_and_register(
                session,
                training_rows_from_db(session),
                models_dir=settings.models_path,
                tolerance=settings.promotion_tolerance,
            )
            version = outcome.row.version if outcome.row else "—"
            cv = outcome.result.cv_metrics if outcome.result else {}
        figures = "; ".join(
            f"{head}: " + ", ".join(f"{name} {value:.3f}" for name, value in sorted(scores.items()))
            for head, scores in cv.items()
        )
        verdict = {"promoted": "promoted", "kept": "not promoted", "unchanged": "not retrained"}.get(
            outcome.status, outcome.status
        )
        container.triage.refresh(force=True)
        return f"Retraining finished: model `{version}` {verdict}. {outcome.message}" + (
            f"\nCross-validation: {figures}" if figures else ""
        )

    return run


def build_services(
    container: Container, config: SlackConfig, *, client: WebClient | None = None
) -> SlackServices:
    client = client or make_web_client(config.bot_token, config.api_url)
    categories = routed_categories(container.routing)
    learning = LearningHooks.from_settings(container.settings)
    notifier = SlackNotifier(
        client,
        tier_channels=config.tier_channels,
        sessions=container.sessions,
        categories=categories,
        learning=learning,
    )
    return SlackServices(
        config=config,
        sessions=container.sessions,
        engine=container.engine,  # loads the KB index and the classifier now, not on the first event
        triage=container.triage,
        routing=container.routing,
        client=client,
        notifier=notifier,
        ticket_prefix=container.settings.ticket_prefix,
        retrain=retrainer(container),
        learning=learning,
    )


def session_scope(sessions: sessionmaker[Session]) -> Callable[[], AbstractContextManager[Session]]:
    return lambda: transaction(sessions)


def outbox_retry_loop(services: SlackServices, stop: threading.Event, interval: float) -> threading.Thread:
    """Redelivers what failed right after its request (Slack down, 429 storm) until it goes through."""

    def loop() -> None:
        while not stop.wait(interval):
            try:
                deliver_pending(services.sessions, services.notifier, worker_id=services.worker_id)
            except Exception:  # keep the loop alive; the next pass retries
                log.exception("outbox retry pass failed")

    thread = threading.Thread(target=loop, name="tierline-outbox", daemon=True)
    thread.start()
    return thread


def serve(container: Container, *, host: str, port: int, on_ready: Callable[[str], None] = print) -> None:
    """Blocks: Socket Mode when SLACK_APP_TOKEN is set, else HTTP on host:port."""
    config = SlackConfig.from_settings(container.settings)
    services = build_services(container, config)
    app = build_app(services)
    stop = threading.Event()
    outbox_retry_loop(services, stop, container.settings.worker_interval_seconds)

    def health() -> dict[str, Any]:
        return {"mode": "socket" if config.app_token else "http", "warnings": list(container.warnings)}

    metrics = lambda: observability.render(session_scope(container.sessions))  # noqa: E731
    try:
        if config.app_token:
            side = make_http_server(make_wsgi_app(None, health, metrics), host=host, port=port)
            serve_in_thread(side)
            on_ready(f"Socket Mode; health and metrics on http://{host}:{side.server_port}/healthz")
            start_socket_mode(app, config.app_token)
        else:
            server = make_http_server(make_wsgi_app(app, health, metrics), host=host, port=port)
            on_ready(f"HTTP mode: Slack events at http://{host}:{server.server_port}/slack/events")
            server.serve_forever()
    finally:
        stop.set()
