"""Delivering the outbox: notifications written in the same transaction as their cause, then
handed to a front end (Slack, console) by a worker.

Guarantee: every committed outbox row is handed to the notifier until one delivery is marked done
(at-least-once). A crash after the notifier succeeded but before the mark commits makes the row
reappear after its lease expires, so the *same* message (same `id` and `dedupe_key`) can be handed
over twice; notifiers make that harmless by being idempotent per outbox id (Slack: remember the
posted ts per dedupe key, or look it up in message metadata before posting again). With such a
notifier the person sees it exactly once. Rows that are not committed are never sent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from uuid import uuid4

from rich.console import Console
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from models import OutboxMessage, utcnow
from models.db import transaction

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
MAX_BACKOFF = timedelta(hours=1)


class Notifier(Protocol):
    def deliver(self, message: OutboxMessage) -> None:
        """Send one message; raise on failure (the row stays pending and is retried later)."""


@dataclass
class ConsoleNotifier:
    """Prints notifications: the worker's front end when Slack is not configured."""

    console: Console

    def deliver(self, message: OutboxMessage) -> None:
        ticket = message.payload.get("ticket", "")
        # markup=False: message text comes from people and may contain [brackets].
        self.console.print(
            f"#{message.id} {message.kind} -> {message.audience}:{message.recipient} "
            f"{ticket} {message.payload.get('text', '')}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


class LogNotifier:
    """Writes notifications to the log (for headless runs)."""

    def deliver(self, message: OutboxMessage) -> None:
        log.info(
            "outbox #%s %s -> %s:%s %s",
            message.id,
            message.kind,
            message.audience,
            message.recipient,
            message.payload.get("text", ""),
        )


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at an hour: a flaky front end is retried without a storm."""
    return min(MAX_BACKOFF, timedelta(seconds=30 * 2 ** max(0, attempts - 1)))


def _pending(now: datetime) -> object:
    return and_(
        OutboxMessage.delivered_at.is_(None),
        OutboxMessage.available_at <= now,
        or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now),
    )


def lease_batch(
    sessions: sessionmaker[Session], *, worker_id: str, limit: int, now: datetime, lease: timedelta = LEASE
) -> list[OutboxMessage]:
    """Take a lease on up to `limit` due rows. The conditional UPDATE (plus SKIP LOCKED on
    PostgreSQL) means two workers never lease the same row while its lease is live."""
    token = f"{worker_id}:{uuid4().hex[:12]}"
    with transaction(sessions) as session:
        condition = _pending(now)
        query = select(OutboxMessage.id).where(condition).order_by(OutboxMessage.id).limit(limit)  # type: ignore[arg-type]
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        ids = list(session.scalars(query))
        if not ids:
            return []
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), condition)  # type: ignore[arg-type]
            .values(lease_owner=token, lease_until=now + lease, attempts=OutboxMessage.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        rows = list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.id.in_(ids), OutboxMessage.lease_owner == token)
                .order_by(OutboxMessage.id)
            )
        )
        session.expunge_all()
        return rows


def deliver_pending(
    sessions: sessionmaker[Session],
    notifier: Notifier,
    *,
    worker_id: str,
    limit: int = 100,
    now: datetime | None = None,
    lease: timedelta = LEASE,
) -> int:
    """Deliver what is due; return how many were delivered. Failures back off and stay pending."""
    at = now or utcnow()
    delivered = 0
    for message in lease_batch(sessions, worker_id=worker_id, limit=limit, now=at, lease=lease):
        token = message.lease_owner
        try:
            notifier.deliver(message)
        except Exception as exc:  # any front-end failure: keep the row, retry later, record why
            log.warning("outbox #%s not delivered (attempt %s): %s", message.id, message.attempts, exc)
            with transaction(sessions) as session:
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == message.id, OutboxMessage.lease_owner == token)
                    .values(
                        lease_owner=None,
                        lease_until=None,
                        last_error=f"{type(exc).__name__}: {exc}"[:2000],
                        available_at=at + backoff(message.attempts),
                    )
                )
            continue
        with transaction(sessions) as session:
            done = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message.id, OutboxMessage.delivered_at.is_(None))
                .values(delivered_at=utcnow(), lease_owner=None, lease_until=None, last_error=None)
            )
        if done.rowcount == 1:  # type: ignore[attr-defined]
            delivered += 1
    return delivered


def pending_count(session: Session) -> int:
    from sqlalchemy import func

    return (
        session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.delivered_at.is_(None))
        )
        or 0
    )
