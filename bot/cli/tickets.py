"""`tierline tickets list|show|claim|unclaim|escalate|resolve|reply|note --as USER [--json]`:
the ticket workflow for engineers and admins without Slack (same rules and audit trail)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import typer
from sqlalchemy.orm import Session

from bot.cli.apps import tickets_app
from bot.cli.common import console, emit_json, fail, settings, unit_of_work
from bot.triage import TriageError, correct_ticket
from bot.workflow import operations as ops
from bot.workflow.access import is_staff
from bot.workflow.errors import NotFound, PermissionDenied, WorkflowError
from bot.workflow.queries import find_ticket, find_user, list_tickets, tickets_for_requester
from bot.workflow.routing import Routing, load_routing
from bot.workflow.states import OPEN
from models import Role, Ticket, TicketStatus, Tier, User

AS_USER = typer.Option(
    ..., "--as", help="Who is acting: a user id from `tierline users add` (e.g. cli:alice)."
)
AS_JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")


@contextmanager
def explained() -> Iterator[None]:
    """Refusals become one sentence at the edge (no traceback); `unit_of_work` does the same for
    database problems."""
    try:
        yield
    except (WorkflowError, TriageError) as exc:
        fail(str(exc))


def _actor(session: Session, external_id: str) -> User:
    try:
        return find_user(session, external_id)
    except NotFound:
        if not external_id.startswith("cli:"):
            return find_user(session, f"cli:{external_id}")
        raise


def _routing() -> Routing:
    return load_routing(settings().routing_file)


def ticket_dict(ticket: Ticket, *, with_events: bool = False, staff: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "number": ticket.number,
        "subject": ticket.subject,
        "status": ticket.status.value,
        "tier": ticket.tier.value,
        "category": ticket.category,
        "priority": ticket.priority,
        # False for history imported without one: `priority` then holds only the SLA stand-in
        "priority_known": ticket.priority_known,
        "needs_triage": ticket.needs_triage,
        "requester": ticket.requester.external_id if ticket.requester else None,
        "assignee": ticket.assignee.external_id if ticket.assignee else None,
        "created_at": ticket.created_at.isoformat(),
        "response_due": ticket.sla_response_due.isoformat() if ticket.sla_response_due else None,
        "resolution_due": ticket.sla_resolution_due.isoformat() if ticket.sla_resolution_due else None,
        "first_response_at": ticket.first_response_at.isoformat() if ticket.first_response_at else None,
        "sla_breached": ticket.sla_breached_at is not None or ticket.sla_resolution_breached_at is not None,
        "resolution": ticket.resolution,
        "csat": ticket.csat_score,
    }
    if with_events:
        out["body"] = ticket.body
        out["facts"] = ticket.facts
        out["events"] = [
            {
                "at": e.at.isoformat(),
                "kind": e.kind,
                "actor": e.actor.external_id if e.actor else "system",
                "internal": e.internal,
                "text": e.text if staff or e.kind in REQUESTER_TEXT_EVENTS else None,
                "data": e.data if staff else {},
            }
            for e in ticket.events
            if staff or (not e.internal and e.kind in REQUESTER_EVENTS)
        ]
    return out


# What a requester sees of a ticket's trail: what happened, and the words meant for them. Reasons
# engineers give each other (escalation, re-routing, priority) and the data behind each event
# (classifier confidences, previous assignees) are staff-only.
REQUESTER_EVENTS = frozenset(
    {
        "created",
        "message",
        "claimed",
        "unclaimed",
        "escalated",
        "deescalated",
        "rerouted",
        "status_changed",
        "resolved",
        "reopened",
        "closed",
        "rated",
        "priority_changed",
        "category_changed",
        "facts_added",
    }
)
REQUESTER_TEXT_EVENTS = frozenset({"created", "message", "status_changed", "resolved", "rated"})


def _priority_label(row: dict[str, Any], unknown: str = "priority not recorded") -> str:
    """The priority as people should read it: an imported ticket's stand-in is not shown as fact."""
    return str(row["priority"]) if row["priority_known"] else unknown


def _run(number: str, actor_id: str, as_json: bool, action: Callable[[Session, Ticket, User], str]) -> None:
    """Load actor and ticket, apply one operation, commit, report; refusals become one sentence."""
    with explained(), unit_of_work() as session:
        actor = _actor(session, actor_id)
        ticket = find_ticket(session, number)
        message = action(session, ticket, actor)
        out = ticket_dict(ticket)
    if as_json:
        emit_json(out)
    else:
        console.print(message)


@tickets_app.command("list")
def tickets_list(
    actor_id: str = AS_USER,
    tier: Tier | None = typer.Option(None, "--tier", help="Only this tier (default: your tiers)."),
    status: list[str] = typer.Option([], "--status", help="Only these statuses (default: open ones)."),
    mine: bool = typer.Option(False, "--mine", help="Only tickets assigned to you."),
    limit: int = typer.Option(50, "--limit", min=1, help="At most this many tickets."),
    as_json: bool = AS_JSON,
) -> None:
    """Open tickets of your tiers, most urgent first (requesters see their own tickets)."""
    statuses = frozenset(s.lower() for s in status) or frozenset(s.value for s in OPEN)
    unknown = sorted(statuses - {s.value for s in TicketStatus})
    if unknown:
        fail(f"unknown status {', '.join(unknown)}; use {', '.join(s.value for s in TicketStatus)}")
    with explained(), unit_of_work() as session:
        actor = _actor(session, actor_id)
        if not is_staff(actor):
            mine_all = tickets_for_requester(session, actor)
            found = [t for t in mine_all if t.status.value in statuses][:limit]
        else:
            mine_only = actor if mine else None
            if tier is None and actor.role == Role.ENGINEER:
                found = list_tickets(
                    session, tiers=actor.tiers, statuses=statuses, assignee=mine_only, limit=limit
                )
            else:
                found = list_tickets(session, tier=tier, statuses=statuses, assignee=mine_only, limit=limit)
        rows = [ticket_dict(t) for t in found]
    if as_json:
        emit_json(rows)
        return
    if not rows:
        console.print("no tickets")
    for r in rows:
        due = (r["response_due"] or "")[:16].replace("T", " ") if not r["first_response_at"] else ""
        console.print(
            f"{r['number']:<9} {_priority_label(r, '-'):<8} {r['tier']:<3} {r['status']:<15} "
            f"{(r['assignee'] or '-'):<14} {due:<16} {r['subject'][:60]}"
        )


@tickets_app.command("show")
def tickets_show(number: str, actor_id: str = AS_USER, as_json: bool = AS_JSON) -> None:
    """One ticket with its audit trail (internal notes only for engineers and admins)."""
    with explained(), unit_of_work() as session:
        actor = _actor(session, actor_id)
        ticket = find_ticket(session, number)
        staff = is_staff(actor)
        if not staff and ticket.requester_id != actor.id:
            raise PermissionDenied(f"{actor.label} did not open {ticket.number}")
        out = ticket_dict(ticket, with_events=True, staff=staff)
    if as_json:
        emit_json(out)
        return
    console.print(f"[bold]{out['number']}[/] {out['subject']}")
    console.print(
        f"{out['status']} · {out['tier']} · {out['category']} · {_priority_label(out)} · "
        f"assignee {out['assignee'] or '-'} · requester {out['requester']}"
    )
    console.print(f"response due {out['response_due']} · resolution due {out['resolution_due']}")
    for e in out["events"]:
        flag = " [yellow](internal)[/]" if e["internal"] else ""
        console.print(f"  {e['at'][:19]} {e['kind']:<16} {e['actor']:<14}{flag} {e['text'] or ''}")


@tickets_app.command("claim")
def tickets_claim(number: str, actor_id: str = AS_USER, as_json: bool = AS_JSON) -> None:
    """Take a ticket of your tier (exactly one engineer wins a race)."""
    _run(number, actor_id, as_json, lambda s, t, a: (ops.claim(s, t, actor=a), f"{t.number} is yours")[1])


@tickets_app.command("unclaim")
def tickets_unclaim(number: str, actor_id: str = AS_USER, as_json: bool = AS_JSON) -> None:
    """Give a ticket back to its tier's queue."""
    routing = _load()
    _run(
        number,
        actor_id,
        as_json,
        lambda s, t, a: (
            ops.unclaim(s, t, actor=a, routing=routing),
            f"{t.number} is back in {t.tier.value}",
        )[1],
    )


@tickets_app.command("escalate")
def tickets_escalate(
    number: str,
    actor_id: str = AS_USER,
    reason: str = typer.Option(..., "--reason", help="Why the next tier is needed (carried along)."),
    down: bool = typer.Option(False, "--down", help="De-escalate one tier instead."),
    as_json: bool = AS_JSON,
) -> None:
    """Move a ticket one tier up (or down with --down); the claim is cleared and the queue told."""
    routing = _load()
    op = ops.deescalate if down else ops.escalate

    def act(s: Session, t: Ticket, a: User) -> str:
        op(s, t, actor=a, reason=reason, routing=routing)
        return f"{t.number} is now in the {t.tier.value} queue"

    _run(number, actor_id, as_json, act)


@tickets_app.command("resolve")
def tickets_resolve(
    number: str,
    actor_id: str = AS_USER,
    resolution: str = typer.Option(..., "--resolution", help="What fixed it (sent to the requester)."),
    as_json: bool = AS_JSON,
) -> None:
    """Resolve with a note; the requester is asked to confirm and rate."""
    routing = _load()

    def act(s: Session, t: Ticket, a: User) -> str:
        ops.resolve(s, t, actor=a, resolution=resolution, routing=routing)
        return f"{t.number} resolved; the requester has been asked to confirm and rate it"

    _run(number, actor_id, as_json, act)


@tickets_app.command("reply")
def tickets_reply(number: str, text: str, actor_id: str = AS_USER, as_json: bool = AS_JSON) -> None:
    """Send a public message on the ticket (relayed to the other side)."""
    routing = _load()

    def act(s: Session, t: Ticket, a: User) -> str:
        ops.add_message(s, t, actor=a, text=text, routing=routing)
        return f"message added to {t.number}"

    _run(number, actor_id, as_json, act)


@tickets_app.command("note")
def tickets_note(number: str, text: str, actor_id: str = AS_USER, as_json: bool = AS_JSON) -> None:
    """Add an internal note (engineers only; never relayed to the requester)."""
    _run(
        number,
        actor_id,
        as_json,
        lambda s, t, a: (
            ops.add_internal_note(s, t, actor=a, text=text),
            f"internal note added to {t.number}",
        )[1],
    )


@tickets_app.command("priority")
def tickets_priority(
    number: str, priority: str, actor_id: str = AS_USER, reason: str = "", as_json: bool = AS_JSON
) -> None:
    """Correct the priority (SLA due times are recomputed on a ticket still being worked)."""
    routing = _load()

    def act(s: Session, t: Ticket, a: User) -> str:
        if t.status in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
            # Finished work keeps the SLA it was measured by: like `tickets correct`, only the
            # label changes (for the next training), and no queue is told about it.
            if not correct_ticket(s, t, actor=a, priority=priority, note=reason or None):
                return f"{t.number} is already {t.priority}; nothing changed"
            return f"{t.number} is {t.priority} (label only: it is {t.status.value}, its SLA stays as it was)"
        ops.change_priority(s, t, actor=a, priority=priority, routing=routing, reason=reason)
        return f"{t.number} is {t.priority}; first response due {t.sla_response_due}"

    _run(number, actor_id, as_json, act)


def _load() -> Routing:
    with explained():
        return _routing()
    raise AssertionError("unreachable")  # pragma: no cover
