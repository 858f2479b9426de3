"""Ticket vectors, cached in the database, and the small clustering used by spikes and KB gaps.

Tickets are embedded with the same encoder as the KB (`settings.kb_encoder`), lazily: a vector is
computed the first time a ticket is compared and kept in `ticket_embeddings` with the hash of the
text it came from, so a worker sweep re-embeds only new or edited tickets.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from kb_index.encoders import Encoder
from models import Ticket, TicketEmbedding

# Subject plus the start of the body says what a ticket is about; long pasted logs add noise.
MAX_TICKET_CHARS = 1_000


def ticket_text(ticket: Ticket) -> str:
    """What we embed for a ticket: its subject and the start of its description."""
    subject = " ".join(ticket.subject.split())
    body = " ".join((ticket.body or "").split())
    text = body if body.startswith(subject) else f"{subject}. {body}".strip(" .")
    return text[:MAX_TICKET_CHARS] or subject


def _text_hash(encoder: Encoder, text: str) -> str:
    # The revision is part of the hash: a new model version invalidates every cached vector.
    return hashlib.sha256(f"{encoder.revision}\n{text}".encode()).hexdigest()


def ticket_vectors(session: Session, encoder: Encoder, tickets: Sequence[Ticket]) -> np.ndarray:
    """Unit vectors for `tickets` (one row each, same order), embedding only what is not cached."""
    if not tickets:
        return np.zeros((0, encoder.dim), dtype=np.float32)
    ids = [t.id for t in tickets]
    cached = {
        row.ticket_id: row
        for row in session.scalars(
            select(TicketEmbedding).where(
                TicketEmbedding.encoder == encoder.key, TicketEmbedding.ticket_id.in_(ids)
            )
        )
    }
    out = np.zeros((len(tickets), encoder.dim), dtype=np.float32)
    missing: list[tuple[int, Ticket, str, str]] = []
    for i, ticket in enumerate(tickets):
        text = ticket_text(ticket)
        digest = _text_hash(encoder, text)
        row = cached.get(ticket.id)
        if row is not None and row.text_hash == digest and row.dim == encoder.dim:
            out[i] = np.frombuffer(row.vector, dtype=np.float32)
        else:
            missing.append((i, ticket, text, digest))
    if missing:
        fresh = encoder.encode_queries([text for _, _, text, _ in missing])
        for (i, ticket, _, digest), vector in zip(missing, fresh, strict=True):
            out[i] = vector
            blob = np.asarray(vector, dtype=np.float32).tobytes()
            row = cached.get(ticket.id)
            if row is None:
                session.add(
                    TicketEmbedding(
                        ticket_id=ticket.id,
                        encoder=encoder.key,
                        text_hash=digest,
                        dim=encoder.dim,
                        vector=blob,
                    )
                )
            else:
                row.text_hash, row.dim, row.vector = digest, encoder.dim, blob
        session.flush()
    return out


def cached_ids(session: Session, encoder: Encoder, ticket_ids: Sequence[int]) -> set[int]:
    """Which of these tickets already have a vector under this encoder (possibly stale)."""
    if not ticket_ids:
        return set()
    return set(
        session.scalars(
            select(TicketEmbedding.ticket_id).where(
                TicketEmbedding.encoder == encoder.key, TicketEmbedding.ticket_id.in_(ticket_ids)
            )
        )
    )


def warm_embeddings(session: Session, encoder: Encoder, *, limit: int = 64) -> int:
    """Embed up to `limit` of the newest tickets that have no vector yet; returns how many.

    The worker calls this each sweep so that the similar-tickets card never has to embed a large
    history while an engineer waits.
    """
    missing = select(TicketEmbedding.ticket_id).where(TicketEmbedding.encoder == encoder.key)
    tickets = list(
        session.scalars(
            select(Ticket).where(Ticket.id.not_in(missing)).order_by(Ticket.created_at.desc()).limit(limit)
        )
    )
    ticket_vectors(session, encoder, tickets)
    return len(tickets)


def unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return (vector / norm).astype(np.float32) if norm > 0 else vector.astype(np.float32)


@dataclass
class Cluster:
    """Indices of the members (in input order) and their normalised mean vector."""

    members: list[int]
    centroid: np.ndarray
    _sum: np.ndarray

    def add(self, index: int, vector: np.ndarray) -> None:
        self.members.append(index)
        self._sum = self._sum + vector
        self.centroid = unit(self._sum)


def greedy_clusters(vectors: np.ndarray, threshold: float) -> list[Cluster]:
    """Leader clustering: each row joins the most similar cluster centroid at ≥ `threshold`, or
    starts a new one.

    Chosen over connected components because a chain of pairwise-similar texts (A≈B≈C) must not
    glue unrelated ends into one "spike"; comparing with the centroid keeps clusters on one topic.
    One pass, deterministic for a given order (callers pass oldest first).
    """
    clusters: list[Cluster] = []
    for i, vector in enumerate(vectors):
        if clusters:
            sims = np.stack([c.centroid for c in clusters]) @ vector
            best = int(np.argmax(sims))
            if float(sims[best]) >= threshold:
                clusters[best].add(i, vector)
                continue
        clusters.append(Cluster([i], unit(vector), vector.astype(np.float32).copy()))
    return clusters
