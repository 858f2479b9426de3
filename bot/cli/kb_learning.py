"""The learning loop on the command line:

* `tierline kb drafts list|show|create|approve|reject` — KB articles from resolved tickets;
* `tierline kb health` — weak and stale articles, and KB gaps;
* `tierline tickets similar|duplicate` — similar tickets and duplicate links;
* `tierline incidents alerts|detect|declare|update|resolve|dismiss|list` — spikes and major incidents.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import typer
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.cli.apps import app, kb_app, tickets_app
from bot.cli.common import console, emit_json, fail, settings, unit_of_work
from bot.learning import drafts as kb_drafts
from bot.learning import incidents as mi
from bot.learning.errors import LearningError
from bot.learning.health import article_health, kb_gaps
from bot.learning.similar import link_duplicate, similar_tickets
from bot.learning.spikes import DEFAULT_MIN_TICKETS, DEFAULT_SIMILARITY, detect_spikes
from bot.workflow.durations import parse_duration
from bot.workflow.errors import WorkflowError
from bot.workflow.queries import find_ticket, find_user
from bot.workflow.routing import load_routing
from models import AlertStatus, DraftStatus, KBDraft, SpikeAlert, User, utcnow

drafts_app = typer.Typer(
    help="KB drafts written from resolved tickets: list, show, create, edit, approve, reject.",
    no_args_is_help=True,
)
incidents_app = typer.Typer(help="Spike alerts and major incidents (L3).", no_args_is_help=True)
kb_app.add_typer(drafts_app, name="drafts")
app.add_typer(incidents_app, name="incidents")

AS_USER = typer.Option(
    ..., "--as", help="Who is acting: a user id from `tierline users add` (e.g. cli:alice)."
)
AS_JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")


@contextmanager
def _work() -> Iterator[Session]:
    """A unit of work whose expected refusals, and database failures, become one clear sentence."""
    try:
        with unit_of_work() as session:
            yield session
    except (LearningError, WorkflowError) as exc:
        fail(str(exc))
    except SQLAlchemyError as exc:  # a broken constraint, say; the unit of work rolled back
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        fail(f"the database refused the command ({reason}); nothing was changed")


def _actor(session: Session, external_id: str) -> User:
    try:
        return find_user(session, external_id)
    except WorkflowError:
        if not external_id.startswith("cli:"):
            return find_user(session, f"cli:{external_id}")
        raise


def _duration(value: str, option: str) -> float:
    try:
        return parse_duration(value).total_seconds()
    except ValueError as exc:
        fail(f"{option}: {exc}")
    except OverflowError:  # more days than a timedelta holds
        fail(f"{option}: {value!r} is too long a period")


def _start(until: datetime, value: str, option: str) -> datetime:
    """`until` minus the period `value`, refused in one sentence when it reaches before year 1."""
    seconds = _duration(value, option)
    try:
        return until - timedelta(seconds=seconds)
    except OverflowError:
        fail(f"{option}: {value!r} is too long a period")


# --------------------------------------------------------------------------- drafts
def _draft_json(d: KBDraft) -> dict[str, object]:
    return {
        "id": d.id,
        "status": d.status.value,
        "ticket": d.ticket.number if d.ticket else None,
        "title": d.title,
        "audience": d.audience,
        "tags": d.tags,
        "proposed_article_id": d.proposed_article_id,
        "similar_article_id": d.similar_article_id,
        "similarity": None if d.similarity is None else round(d.similarity, 4),
        "suggested_action": d.suggested_action,
        "published_article_id": d.published_article_id,
        "review_note": d.review_note,
        "created_at": d.created_at.isoformat(),
    }


@drafts_app.command("list")
def drafts_list(
    status: str = typer.Option("draft", help="draft, approved, rejected or all."),
    as_json: bool = AS_JSON,
) -> None:
    """Drafts waiting for review (or in another status)."""
    if status != "all" and status not in {s.value for s in DraftStatus}:
        fail(f"--status must be draft, approved, rejected or all, not {status!r}")
    with _work() as session:
        rows = kb_drafts.list_drafts(session, None if status == "all" else DraftStatus(status))
        data = [_draft_json(d) for d in rows]
    if as_json:
        emit_json(data)
        return
    if not data:
        console.print("no drafts waiting for review" if status == "draft" else f"no {status} drafts")
        return
    table = Table("id", "ticket", "title", "suggestion", "similar article", "status")
    for d in data:
        similar = f"{d['similar_article_id']} ({d['similarity']:.2f})" if d["similar_article_id"] else "—"
        action = "new article" if d["suggested_action"] == "new" else f"update {d['similar_article_id']}"
        table.add_row(
            str(d["id"]), str(d["ticket"] or "—"), str(d["title"]), action, similar, str(d["status"])
        )
    console.print(table)


@drafts_app.command("show")
def drafts_show(draft_id: int, as_json: bool = AS_JSON) -> None:
    """The draft's text and what approving it would do."""
    with _work() as session:
        draft = kb_drafts.get_draft(session, draft_id)
        data, body = _draft_json(draft), draft.body
    if as_json:
        emit_json({**data, "body": body})
        return
    action = (
        "a new article"
        if data["suggested_action"] == "new"
        else f"a new version of {data['similar_article_id']}"
    )
    console.print(
        f"[bold]Draft #{data['id']}[/] ({data['status']}) from {data['ticket']}: approving makes {action}"
    )
    console.print(body, markup=False, highlight=False)
    if data["audience"] == "public":
        console.print(
            "[dim]Public article: e-mail addresses, phone numbers, Slack mentions and the ticket's "
            "names were replaced by placeholders such as \\[name]; approval refuses a draft that still "
            "holds any. Remove other names and internal details before approving "
            f"(tierline kb drafts edit {data['id']} --body-file ...).[/]"
        )


@drafts_app.command("create")
def drafts_create(
    ticket: str = typer.Argument(..., help="Resolved ticket number, e.g. IT-1042."),
    actor_id: str = AS_USER,
    audience: str = typer.Option("public", help="public (requesters see it) or internal (engineers only)."),
    as_json: bool = AS_JSON,
) -> None:
    """Turn a resolved ticket (question, facts, resolution) into a KB draft for review."""
    cfg = settings()
    with _work() as session:
        author = _actor(session, actor_id)
        draft = kb_drafts.draft_from_ticket(
            session, cfg, find_ticket(session, ticket), author=author, audience=audience
        )
        data = _draft_json(draft)
    if as_json:
        emit_json(data)
        return
    hint = (
        f"it looks like {data['similar_article_id']} (similarity {data['similarity']:.2f}), so approval adds "
        "to that article"
        if data["suggested_action"] == "update"
        else "approval creates a new article"
    )
    console.print(
        f"draft #{data['id']} written from {ticket}; {hint}. Review: tierline kb drafts show {data['id']}"
    )


@drafts_app.command("edit")
def drafts_edit(
    draft_id: int,
    actor_id: str = AS_USER,
    title: str | None = typer.Option(None, help="New title."),
    body_file: Path | None = typer.Option(None, "--body-file", help="Markdown file with the new body."),
    audience: str | None = typer.Option(None, help="public or internal."),
    tag: list[str] = typer.Option([], "--tag", help="Replace the tags (repeatable)."),
) -> None:
    """Edit a pending draft before approving it."""
    body = None
    if body_file is not None:
        try:
            body = body_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"cannot read {body_file}: {exc}")
    with _work() as session:
        kb_drafts.edit_draft(
            session,
            draft_id,
            editor=_actor(session, actor_id),
            title=title,
            body=body,
            audience=audience,
            tags=tag or None,
        )
    console.print(f"draft #{draft_id} updated; review it with: tierline kb drafts show {draft_id}")


@drafts_app.command("approve")
def drafts_approve(
    draft_id: int,
    actor_id: str = AS_USER,
    as_new: bool = typer.Option(
        False, "--as-new", help="Publish as a new article even if a similar one exists."
    ),
    into: str | None = typer.Option(None, "--into", help="Add to this existing article id instead."),
    note: str | None = typer.Option(None, help="Review note kept with the draft."),
    as_json: bool = AS_JSON,
) -> None:
    """Publish the draft into kb_published and re-index the KB incrementally."""
    if as_new and into:
        fail("choose either --as-new or --into, not both")
    cfg = settings()
    with _work() as session:
        reviewer = _actor(session, actor_id)
        pub = kb_drafts.approve_draft(
            session,
            draft_id,
            reviewer=reviewer,
            published_dir=kb_drafts.published_dir(cfg),
            reindex=kb_drafts.reindex_with(cfg),
            mode="new" if as_new else "suggested",
            target_article_id=into,
            note=note,
        )
    data = {"draft": pub.draft_id, "article_id": pub.article_id, "action": pub.action, "path": str(pub.path)}
    if as_json:
        emit_json(data)
        return
    verb = "published as new article" if pub.action == "new" else "added as a new version of"
    console.print(
        f"draft #{pub.draft_id} {verb} [bold]{pub.article_id}[/] ({pub.path}); the index is updated"
    )


@drafts_app.command("reject")
def drafts_reject(
    draft_id: int,
    actor_id: str = AS_USER,
    reason: str = typer.Option(..., help="Why, in a sentence the author can learn from."),
) -> None:
    """Reject a draft; nothing is published."""
    with _work() as session:
        kb_drafts.reject_draft(session, draft_id, reviewer=_actor(session, actor_id), reason=reason)
    console.print(f"draft #{draft_id} rejected")


# --------------------------------------------------------------------------- health
@kb_app.command("health")
def kb_health(
    since: str = typer.Option("90d", help="Period to judge: '30d', '12w'."),
    limit: int = typer.Option(20, help="How many articles and gaps to list."),
    gaps: bool = typer.Option(True, "--gaps/--no-gaps", help="Cluster unanswered questions (embeds them)."),
    as_json: bool = AS_JSON,
) -> None:
    """Rank articles weakest first and list KB gaps.

    health = (solved + 1) / (solved + failed + 2), where for each time the article was shown as an
    answer, failed = the requester pressed Not solved or was handed to a person before another
    answer. 0.5 means no evidence; stale = current version older than TIERLINE_KB_STALE_DAYS (180).
    KB gaps are questions that got no article, clustered by meaning and counted.
    """
    cfg = settings()
    until = utcnow()
    start = _start(until, since, "--since")
    seconds = (until - start).total_seconds()
    with _work() as session:
        rows = article_health(session, since=start, until=until, stale_days=cfg.kb_stale_days)
        gap_rows = (
            kb_gaps(
                session,
                since=start,
                until=until,
                encoder=cfg.kb_encoder,
                similarity=cfg.kb_gap_similarity,
                limit=limit,
            )
            if gaps
            else []
        )
    if as_json:
        emit_json(
            {
                "period_seconds": seconds,
                "articles": [r.to_json() for r in rows[:limit]],
                "gaps": [g.to_json() for g in gap_rows],
            }
        )
        return
    table = Table(
        "article", "shown", "solved", "not solved", "handoffs", "health", "stale", title="Weakest first"
    )
    for r in rows[:limit]:
        table.add_row(
            r.article_id,
            str(r.shown),
            str(r.solved),
            str(r.not_solved),
            str(r.handoffs),
            f"{r.score:.2f}",
            "stale" if r.stale else "",
        )
    console.print(table)
    if gaps:
        gap_table = Table("questions", "representative question", title="KB gaps (no article found)")
        for g in gap_rows:
            gap_table.add_row(str(g.count), g.representative)
        console.print(gap_table if gap_rows else "no KB gaps: every question found an article")


# --------------------------------------------------------------------------- similar / duplicates
@tickets_app.command("similar")
def tickets_similar(
    number: str, k: int = typer.Option(3, help="How many to show."), as_json: bool = AS_JSON
) -> None:
    """Open and recently resolved tickets most similar to this one, with their resolutions."""
    cfg = settings()
    with _work() as session:
        found = similar_tickets(
            session,
            find_ticket(session, number),
            k=k,
            encoder=cfg.kb_encoder,
            min_similarity=cfg.similar_min,
            resolved_within=timedelta(days=cfg.similar_resolved_days),
        )
    if as_json:
        emit_json([s.to_json() for s in found])
        return
    if not found:
        console.print("no similar open or recently resolved tickets")
        return
    table = Table("ticket", "similarity", "status", "subject", "resolution")
    for s in found:
        table.add_row(s.number, f"{s.similarity:.2f}", s.status, s.subject, s.resolution or "")
    console.print(table)


@tickets_app.command("duplicate")
def tickets_duplicate(
    number: str = typer.Argument(..., help="The duplicate ticket."),
    of: str = typer.Option(..., "--of", help="The ticket it duplicates (where the work happens)."),
    actor_id: str = AS_USER,
) -> None:
    """Mark a ticket as a duplicate of another (recorded on both tickets' audit trails)."""
    with _work() as session:
        actor = _actor(session, actor_id)
        link_duplicate(session, find_ticket(session, number), find_ticket(session, of), actor=actor)
    console.print(f"{number.upper()} marked as a duplicate of {of.upper()}")


# --------------------------------------------------------------------------- incidents
def _alert_json(a: SpikeAlert) -> dict[str, object]:
    return {
        "id": a.id,
        "status": a.status.value,
        "summary": a.summary,
        "category": a.category,
        "tickets": [m.ticket.number for m in a.members],
        "first_ticket_at": a.first_ticket_at.isoformat(),
        "last_ticket_at": a.last_ticket_at.isoformat(),
        "incident": f"MI-{a.incident_id}" if a.incident_id else None,
    }


@incidents_app.command("alerts")
def incidents_alerts(
    all_: bool = typer.Option(False, "--all", help="Include declared and dismissed."), as_json: bool = AS_JSON
) -> None:
    """Spike alerts: clusters of similar tickets raised to L3."""
    from sqlalchemy import select

    with _work() as session:
        query = select(SpikeAlert).order_by(SpikeAlert.id.desc())
        if not all_:
            query = query.where(SpikeAlert.status == AlertStatus.OPEN)
        data = [_alert_json(a) for a in session.scalars(query)]
    if as_json:
        emit_json(data)
        return
    if not data:
        console.print("no open spike alerts")
        return
    table = Table("alert", "status", "tickets", "category", "summary")
    for a in data:
        tickets = a["tickets"]
        assert isinstance(tickets, list)
        table.add_row(
            str(a["id"]), str(a["status"]), str(len(tickets)), str(a["category"]), str(a["summary"])
        )
    console.print(table)


@incidents_app.command("detect")
def incidents_detect(
    window: str = typer.Option("1h", help="How far back to look for similar tickets."),
    min_tickets: int = typer.Option(DEFAULT_MIN_TICKETS, help="Tickets that make a spike."),
    similarity: float = typer.Option(DEFAULT_SIMILARITY, help="Cosine similarity to the cluster's centre."),
) -> None:
    """Run spike detection once now (the worker does this on every sweep)."""
    seconds = _duration(window, "--window")
    if min_tickets < 2:
        fail("--min-tickets must be at least 2")
    cfg = settings()
    with _work() as session:
        report = detect_spikes(
            session,
            now=utcnow(),
            encoder=cfg.kb_encoder,
            window=timedelta(seconds=seconds),
            min_tickets=min_tickets,
            similarity=similarity,
        )
    grown = sum(report.grown.values())
    console.print(f"{len(report.raised)} new alert(s) raised to L3; {grown} ticket(s) joined existing alerts")


@incidents_app.command("declare")
def incidents_declare(
    actor_id: str = AS_USER,
    title: str = typer.Option(..., help="What is broken, in words requesters understand."),
    message: str = typer.Option(..., help="First status message sent to every affected requester."),
    alert: int | None = typer.Option(None, help="Spike alert id whose tickets to link."),
    ticket: list[str] = typer.Option([], "--ticket", help="Ticket number to link (repeatable)."),
) -> None:
    """Declare a major incident (L3), link its tickets and tell all their requesters at once."""
    with _work() as session:
        actor = _actor(session, actor_id)
        linked = [find_ticket(session, n) for n in ticket]
        incident = mi.declare_incident(
            session, actor=actor, title=title, message=message, alert_id=alert, tickets=linked
        )
        label, count = mi.incident_label(incident), len(incident.links)
    console.print(f"{label} declared with {count} ticket(s); requesters are being told")


@incidents_app.command("link")
def incidents_link(
    incident_id: int,
    actor_id: str = AS_USER,
    ticket: list[str] = typer.Option(..., "--ticket", help="Ticket number to link (repeatable)."),
) -> None:
    """Link more tickets to an active incident (their requesters hear its latest update now)."""
    with _work() as session:
        actor = _actor(session, actor_id)
        incident = mi.get_incident(session, incident_id)
        added = mi.link_tickets(session, incident, [find_ticket(session, n) for n in ticket], actor=actor)
    console.print(f"{added} ticket(s) linked to MI-{incident_id}")


@incidents_app.command("update")
def incidents_update(
    incident_id: int,
    actor_id: str = AS_USER,
    message: str = typer.Option(..., help="Status message for every affected requester."),
) -> None:
    """Send a status update to every requester of the incident's tickets."""
    with _work() as session:
        actor = _actor(session, actor_id)
        people = mi.post_update(session, mi.get_incident(session, incident_id), actor=actor, message=message)
    console.print(f"update sent to {people} requester(s)")


@incidents_app.command("resolve")
def incidents_resolve(
    incident_id: int,
    actor_id: str = AS_USER,
    message: str = typer.Option(..., help="Resolution message for every affected requester."),
) -> None:
    """Resolve the incident and its open tickets, and tell every affected requester."""
    routing = load_routing(settings().routing_file)
    with _work() as session:
        incident, settled = mi.resolve_incident(
            session, incident_id, actor=_actor(session, actor_id), message=message, routing=routing
        )
        label = mi.incident_label(incident)
        numbers = ", ".join(t.number or str(t.id) for t in settled)
    resolved = f"; resolved with it: {numbers}" if numbers else ""
    console.print(f"{label} resolved{resolved}; requesters are being told")


@incidents_app.command("dismiss")
def incidents_dismiss(alert_id: int, actor_id: str = AS_USER) -> None:
    """Dismiss a spike alert as a coincidence."""
    with _work() as session:
        mi.dismiss_alert(session, alert_id, actor=_actor(session, actor_id))
    console.print(f"alert {alert_id} dismissed")


@incidents_app.command("list")
def incidents_list(
    active: bool = typer.Option(False, "--active", help="Only active incidents."), as_json: bool = AS_JSON
) -> None:
    """Major incidents, newest first."""
    with _work() as session:
        data = [
            {
                "id": i.id,
                "label": mi.incident_label(i),
                "title": i.title,
                "status": i.status.value,
                "tickets": len(i.links),
                "updates": i.updates_sent,
                "declared_at": i.declared_at.isoformat(),
            }
            for i in mi.list_incidents(session, active_only=active)
        ]
    if as_json:
        emit_json(data)
        return
    table = Table("incident", "status", "tickets", "updates", "title")
    for i in data:
        table.add_row(
            str(i["label"]), str(i["status"]), str(i["tickets"]), str(i["updates"]), str(i["title"])
        )
    console.print(table if data else "no major incidents")
