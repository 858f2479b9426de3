"""`tierline serve`: run the Slack app (Socket Mode with SLACK_APP_TOKEN, else HTTP on --port)."""

from __future__ import annotations

import logging

import typer

from bot.cli.apps import app
from bot.cli.common import console, err_console, fail, settings


@app.command("serve")
def serve(
    port: int | None = typer.Option(None, "--port", help="HTTP port (default: PORT or 3000; 0: any free)."),
    host: str = typer.Option("0.0.0.0", "--host", help="Interface to listen on."),
) -> None:
    """Serve the Slack app: Events API and interactivity at /slack/events, health at /healthz."""
    from bot.container import build_container
    from bot.slack.config import SlackConfig, SlackConfigError
    from bot.slack.runtime import serve as run
    from bot.workflow.errors import RoutingError

    cfg = settings()
    logging.basicConfig(level=cfg.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        SlackConfig.from_settings(cfg)
    except SlackConfigError as exc:
        fail(str(exc))
    container = build_container(cfg)
    try:
        with console.status("Loading the knowledge base and the triage model..."):
            _ = container.engine  # models load now, not on the first Slack event
        for warning in container.warnings:
            err_console.print(f"[yellow]warning:[/] {warning}")
        run(container, host=host, port=cfg.http_port if port is None else port, on_ready=console.print)
    except (SlackConfigError, RoutingError) as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        console.print("stopped")
    finally:
        container.close()
