"""`tierline chat`: the terminal front end over the same engine the Slack app uses.

On a TTY it is an interactive Rich chat; otherwise it reads one message per line from stdin and
(with --json) writes one JSON object per reply, which makes it scriptable and testable.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import typer
from rich.markdown import Markdown
from rich.panel import Panel
from rich.prompt import Prompt

from bot.cli.apps import app
from bot.cli.common import console, emit_json, err_console, fail, require_current_schema, settings
from bot.engine import Inquiry, Outcome
from bot.workflow import queries
from bot.workflow.errors import RoutingError
from models.db import transaction

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from bot.container import Container

_KIND_STYLE = {"answer": "green", "clarify": "yellow", "handoff": "magenta", "notice": "cyan"}


def _render(outcome: Outcome) -> None:
    title = {"answer": "Answer", "clarify": "Question", "handoff": "Handed to IT", "notice": "Tierline"}
    body = outcome.text.replace("*", "**")
    footer = ""
    if outcome.sources and outcome.kind == "answer":
        top = outcome.sources[0]
        footer = f"\n\nSource: {top.title} [{top.id}]" + (f" {top.url}" if top.url else "")
        footer += "\nReply: solved · not solved · human"
    if outcome.confidence is not None and outcome.kind == "answer":
        footer += f"   (confidence {outcome.confidence:.0%})"
    console.print(
        Panel(Markdown(body + footer), title=title[outcome.kind], border_style=_KIND_STYLE[outcome.kind])
    )


def requester_name(user: str) -> str:
    """The local name behind `--as`: `alice` and `cli:alice` are the same person, as in `tickets`."""
    name = user.strip().removeprefix("cli:").strip()
    if not name:
        fail("--as needs a name, e.g. --as alice")
    return name


class TicketNews:
    """What happened on the requester's tickets since the chat started or last looked: in Slack the
    worker posts an engineer's reply into the requester's thread; the terminal has no thread to
    post into, so the chat shows those notifications itself, between messages."""

    def __init__(self, sessions: sessionmaker[Session], requester_id: str) -> None:
        self.sessions = sessions
        self.requester_id = requester_id
        with sessions() as session:
            self.after_id = queries.last_outbox_id(session)  # news from before the chat is old news

    def poll(self) -> list[dict[str, str]]:
        """New notifications as {"ticket", "author", "text"}, oldest first."""
        with self.sessions() as session:
            rows = queries.requester_news(session, self.requester_id, self.after_id)
            news = [_news_item(row.kind, row.payload or {}) for row in rows]
        if rows:
            self.after_id = rows[-1].id
        return news


def _news_item(kind: str, payload: dict[str, Any]) -> dict[str, str]:
    text = str(payload.get("text") or "")
    if payload.get("question"):  # a resolution: what was done, then "Did this solve it? Rate…"
        text = f"{text}\n\n{payload['question']}".strip()
    author = str(payload.get("author") or "") if kind == "relay" else ""
    return {"ticket": str(payload.get("ticket") or ""), "author": author, "text": text}


def _render_news(item: dict[str, str]) -> None:
    title = " · ".join(part for part in (item["ticket"], item["author"]) if part) or "IT"
    console.print(Panel(Markdown(item["text"].replace("*", "**")), title=title, border_style="blue"))


def input_lines(interactive: bool) -> Iterator[str]:
    """The person's messages: prompted for on a TTY ("quit" or Ctrl+D leaves), else one per line."""
    while True:
        if interactive:
            try:
                line = Prompt.ask("[bold]you[/]")
            except (EOFError, KeyboardInterrupt):
                console.print()
                return
            if line.strip().lower() in {"quit", "exit", "/quit"}:
                return
            yield line
        else:
            raw = sys.stdin.buffer.readline()
            if not raw:
                return
            yield raw.decode("utf-8", errors="replace").rstrip("\r\n")


def run_chat(
    container: Container, *, as_json: bool, requester: str, lines: Iterable[str], interactive: bool = False
) -> int:
    """Drive the engine with one message per line; returns the number of replies given.

    Before each reply, what IT did on the person's tickets since the last one is shown (with
    --json, as objects of kind "update"); on a TTY an empty line only looks for such news.
    `requester` is the local name without the `cli:` prefix (see `requester_name`)."""
    key = f"cli:{uuid.uuid4().hex[:12]}"
    engine = container.engine
    for warning in container.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}")
    news = TicketNews(container.sessions, f"cli:{requester}")
    replies = 0
    for line in lines:
        for item in news.poll():
            if as_json:
                emit_json({"kind": "update", **item})
            else:
                _render_news(item)
        if interactive and not line.strip():
            continue
        with transaction(container.sessions) as session:
            outcome = engine.handle(
                session,
                Inquiry(
                    line,
                    requester_id=f"cli:{requester}",
                    conversation_key=key,
                    source="cli",
                    requester_name=requester,
                ),
            )
        replies += 1
        if as_json:
            emit_json(outcome.to_json())
        else:
            _render(outcome)
    return replies


@app.command()
def chat(
    as_json: bool = typer.Option(
        False, "--json", help="One JSON object per reply, and per ticket update from IT (for scripts)."
    ),
    user: str = typer.Option("me", "--as", help="Who is asking (a local requester name)."),
) -> None:
    """Ask IT questions in the terminal: answers from the KB, or a ticket for the right tier."""
    name = requester_name(user)
    cfg = settings()
    # An older schema would fail only when the first ticket is opened, mid-conversation.
    require_current_schema(cfg)
    from bot.container import build_container  # heavy (models); only when chatting

    container = build_container(cfg)
    try:
        _ = container.routing  # a bad routing file stops here, not at the first handoff
    except RoutingError as exc:
        container.close()
        fail(str(exc))
    interactive = sys.stdin.isatty() and not as_json
    if interactive:
        console.print(
            Panel(
                "Ask me an IT question. Press Enter on an empty line to see replies from IT; "
                "type [bold]quit[/] to leave.",
                title="Tierline",
            )
        )
    try:
        run_chat(
            container,
            as_json=as_json,
            requester=name,
            lines=input_lines(interactive),
            interactive=interactive,
        )
    finally:
        container.close()
