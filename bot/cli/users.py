"""`tierline users add|grant|list`: people, roles and tier memberships without Slack."""

from __future__ import annotations

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cli.apps import users_app
from bot.cli.common import console, emit_json, fail, unit_of_work
from bot.cli.tickets import explained
from bot.workflow.queries import ensure_user, find_user, grant_tier, revoke_tier
from models import Role, Tier, User


def user_dict(user: User) -> dict[str, object]:
    return {
        "external_id": user.external_id,
        "name": user.display_name,
        "role": user.role.value,
        "tiers": sorted(t.value for t in user.tiers),
    }


def _tiers(values: list[str]) -> list[Tier]:
    try:
        return [Tier(v.upper()) for v in values]
    except ValueError:
        fail(f"unknown tier in {values}; use L1, L2 or L3")


def _set_role(session: Session, user: User, role: Role, tiers: list[Tier]) -> None:
    """Give `user` the role asked for. A requester holds no tier (a tier is a queue to work), so
    making someone a requester takes their tiers away, and asking for both is refused."""
    if role is Role.REQUESTER and tiers:
        fail("a requester belongs to no tier; leave out --tier or use --role engineer")
    user.role = role
    if role is Role.REQUESTER:
        for tier in list(user.tiers):
            revoke_tier(session, user, tier)


@users_app.command("add")
def users_add(
    external_id: str = typer.Argument(..., help="Front-end id, e.g. a Slack user id or cli:alice."),
    name: str = typer.Option("", "--name", help="Display name."),
    role: Role | None = typer.Option(
        None, "--role", help="requester, engineer or admin (new users: requester; existing: kept)."
    ),
    tier: list[str] = typer.Option([], "--tier", help="Tier membership (repeatable): L1, L2, L3."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Add a user, or update an existing one: the name, and the role only when --role is given."""
    external_id = external_id.strip()
    if not external_id:
        fail("a user id cannot be blank; give one such as cli:alice or a Slack user id")
    tiers = _tiers(tier)
    with explained(), unit_of_work() as session:
        user = ensure_user(session, external_id, name, role or Role.REQUESTER)
        if role is not None:
            _set_role(session, user, role, tiers)
        if name:
            user.display_name = name
        for t in tiers:
            grant_tier(session, user, t)
        out = user_dict(user)
    if as_json:
        emit_json(out)
    else:
        console.print(f"{out['external_id']}: {out['role']} {', '.join(out['tiers']) or ''}".rstrip())  # type: ignore[arg-type]


@users_app.command("grant")
def users_grant(
    external_id: str = typer.Argument(...),
    tier: list[str] = typer.Option([], "--tier", help="Tier to join (repeatable)."),
    role: Role | None = typer.Option(None, "--role", help="Also set the role (e.g. admin)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Give an existing user tier memberships (making them an engineer) or a role."""
    tiers = _tiers(tier)
    if not tiers and role is None:
        fail("nothing to grant: pass --tier L1|L2|L3 and/or --role")
    with explained(), unit_of_work() as session:
        user = find_user(session, external_id)
        if role is not None:
            _set_role(session, user, role, tiers)
        for t in tiers:
            grant_tier(session, user, t)
        out = user_dict(user)
    if as_json:
        emit_json(out)
    else:
        console.print(f"{out['external_id']}: {out['role']} {', '.join(out['tiers'])}")  # type: ignore[arg-type]


@users_app.command("list")
def users_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """Every user with role and tiers."""
    with explained(), unit_of_work() as session:
        rows = [user_dict(u) for u in session.scalars(select(User).order_by(User.external_id))]
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        console.print(f"{row['external_id']:<24} {row['role']:<10} {', '.join(row['tiers'])}")  # type: ignore[arg-type]
