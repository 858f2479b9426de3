"""`tierline demo`: the whole set-up on the embedded default, then the terminal chat (or Slack).

Each step is an ordinary `tierline` command, run in this process so the models load once, and
each is idempotent: a second `make demo` re-ingests nothing unchanged, imports no ticket twice and
keeps the active classifier when the history has not changed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import typer
from typer.main import get_command

from bot.cli.apps import app
from bot.cli.common import console, err_console, fail, settings

DEMO_STAFF = (
    ("cli:alice", "Alice (L1)", "engineer", ["L1"]),
    ("cli:bob", "Bob (L2)", "engineer", ["L2"]),
    ("cli:carol", "Carol (L3)", "engineer", ["L3"]),
    ("cli:dana", "Dana (admin)", "admin", ["L1", "L2", "L3"]),
)


def _run(title: str, args: list[str]) -> None:
    """Run one `tierline` command in-process; stop the demo with its message if it fails."""
    console.rule(f"[bold]{title}[/]  [dim]tierline {' '.join(args)}[/]")
    command = get_command(app)
    try:
        code = command.main(args, prog_name="tierline", standalone_mode=False)
    except (click.exceptions.Exit, typer.Exit) as done:  # typer's Exit is not click's
        code = done.exit_code
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    if code not in (None, 0):
        fail(f"demo step '{title}' failed (exit {code}); fix the message above and run `make demo` again")


def setup_demo() -> None:
    cfg = settings()
    examples = Path("examples")
    _run("Database schema", ["db", "upgrade"])
    _run("Knowledge base", ["kb", "ingest"])
    eval_dir = examples / "kb_eval"
    if (eval_dir / "queries.jsonl").exists():
        _run(
            "Answer threshold from the demo questions",
            [
                "kb",
                "calibrate",
                "--queries",
                str(eval_dir / "queries.jsonl"),
                "--qrels",
                str(eval_dir / "qrels" / "test.tsv"),
            ],
        )
    _run(
        "Ticket history",
        [
            "tickets",
            "import",
            str(cfg.demo_tickets),
            "--text-cols",
            "subject,body",
            "--category-col",
            "category",
            "--priority-col",
            "priority",
            "--tier-col",
            "tier",
            "--resolution-col",
            "resolution",
            "--created-col",
            "created_at",
            "--resolved-col",
            "resolved_at",
        ],
    )
    _run("Triage classifier", ["classifier", "train"])
    for external_id, name, role, tiers in DEMO_STAFF:
        args = ["users", "add", external_id, "--name", name, "--role", role]
        for tier in tiers:
            args += ["--tier", tier]
        _run(f"Demo user {name}", args)


@app.command()
def demo(
    setup_only: bool = typer.Option(False, "--setup-only", help="Prepare everything, then exit."),
) -> None:
    """Set up the demo (schema, KB, tickets, classifier, staff) and start chatting (or Slack)."""
    setup_demo()
    cfg = settings()
    if setup_only:
        return
    if cfg.slack_enabled:
        _run("Slack app", ["serve"])
        return
    if not sys.stdin.isatty():
        err_console.print(
            "Set-up complete. No terminal attached, so the chat was not started; try:\n"
            "  printf 'my vpn disconnects every few minutes\\nnot solved\\n' | .venv/bin/tierline chat --json"
        )
        return
    console.print(
        "\nDemo staff: cli:alice (L1), cli:bob (L2), cli:carol (L3), cli:dana (admin).\n"
        "In another terminal, e.g.\n"
        "  .venv/bin/tierline tickets list --as cli:alice\n"
    )
    _run("Chat", ["chat"])
