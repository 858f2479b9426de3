"""`tierline serve`: run the Slack app (Socket Mode with SLACK_APP_TOKEN, else HTTP on --port)."""

from __future__ import annotations

import typer

from bot.cli.apps import app
from bot.cli.common import configure_logging, console, err_console, fail, require_current_schema, settings


@app.command("serve")
def serve(
    port: int | None = typer.Option(
        None, "--port", min=0, max=65535, help="HTTP port (default: PORT or 3000; 0: any free)."
    ),
    host: str = typer.Option("0.0.0.0", "--host", help="Interface to listen on."),
) -> None:
    """Serve the Slack app: Events API and interactivity at /slack/events, health at /healthz."""
    from bot.container import build_container
    from bot.slack.config import SlackConfig, SlackConfigError, explain_startup_error
    from bot.slack.runtime import serve as run
    from bot.workflow.errors import RoutingError

    cfg = settings()
    try:
        SlackConfig.from_settings(cfg)
    except SlackConfigError as exc:
        fail(str(exc))
    require_current_schema(cfg)
    configure_logging(cfg)
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
    except Exception as exc:
        # A token Slack refuses, or a Web API that cannot be reached, is a setting to fix; any
        # other exception is a bug and keeps its traceback.
        message = explain_startup_error(exc)
        if message is None:
            raise
        fail(message)
    finally:
        container.close()
