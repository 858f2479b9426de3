"""The Typer command groups. Command modules attach to these; `bot.cli.main` imports them all."""

from __future__ import annotations

import typer

from bot.cli.common import ExplainedGroup

app = typer.Typer(
    name="tierline",
    cls=ExplainedGroup,  # known failures become one sentence, whichever command meets them
    help="Tierline: a Slack-native IT support assistant (KB answers, triage, L1/L2/L3 handoff).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
kb_app = typer.Typer(
    help="Knowledge base: ingest, search, calibrate, evaluate, drafts, health.", no_args_is_help=True
)
tickets_app = typer.Typer(
    help="Tickets: import history, list, show, claim, escalate, resolve.", no_args_is_help=True
)
classifier_app = typer.Typer(
    help="Triage classifier: train, evaluate, list, promote, rollback.", no_args_is_help=True
)
users_app = typer.Typer(help="Users and roles.", no_args_is_help=True)

app.add_typer(db_app, name="db")
app.add_typer(kb_app, name="kb")
app.add_typer(tickets_app, name="tickets")
app.add_typer(classifier_app, name="classifier")
app.add_typer(users_app, name="users")
