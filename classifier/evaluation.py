"""`evaluate`: a model's figures on any labelled tickets, plus corrections and a confusion plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from classifier.dataset import CORRECTION_KINDS, TrainingRows, compose_text
from classifier.labels import fold_like_model
from classifier.metrics import head_report
from classifier.model import CATEGORY, PRIORITY, TriageModel
from models import Ticket, TicketEvent


def evaluate_rows(model: TriageModel, rows: TrainingRows, thresholds: dict[str, float]) -> dict[str, Any]:
    """Per head: accuracy, macro-F1, ECE, coverage and accuracy at the threshold, per class, confusion,
    and how many tickets had a label the model never saw (misses) or folded into "other"."""
    if len(rows) == 0:
        return {}
    proba = model.proba(rows.texts)
    out: dict[str, Any] = {}
    for head in (CATEGORY, PRIORITY):
        if head not in proba:
            continue
        if head == CATEGORY:
            idx = list(range(len(rows)))
            truth = list(rows.categories)
        else:
            if rows.priorities is None:
                continue
            idx = [i for i, p in enumerate(rows.priorities) if p is not None]
            truth = [str(rows.priorities[i]) for i in idx]
        if not idx:
            continue
        truth, folded, unseen = fold_like_model(truth, model.labels(head), model.folded_labels(head))
        report = head_report(truth, model.labels(head), proba[head][idx], thresholds.get(head, 0.0))
        report["unknown_labels"] = unseen  # scored as misses
        report["folded_labels"] = folded  # scored as "other"
        out[head] = report
    return out


def corrected_rows(session: Session) -> TrainingRows:
    """Tickets an engineer corrected, with the labels they now carry."""
    corrected = select(TicketEvent.ticket_id).where(TicketEvent.kind.in_(CORRECTION_KINDS)).distinct()
    tickets = session.scalars(select(Ticket).where(Ticket.id.in_(corrected)).order_by(Ticket.id))
    texts, cats, prios, ids = [], [], [], []
    for t in tickets:
        texts.append(compose_text(t.subject, t.body))
        cats.append(t.category)
        prios.append(t.recorded_priority)  # a stand-in is no truth to score
        ids.append(t.id)
    return TrainingRows(texts, cats, list(prios), ids)


# A readable confusion matrix holds a few dozen labels; a 300-queue history would need a
# 20,000-pixel figure (14 GB of memory to draw) that no one could read.
MAX_PLOT_LABELS = 40
REST_LABEL = "(all others)"


def largest_labels(
    labels: list[str], matrix: list[list[int]], keep: int
) -> tuple[list[str], list[list[int]]]:
    """The `keep` labels with the most tickets (true or predicted), the rest summed into one
    row and column, so every ticket still counts in the picture."""
    if len(labels) <= keep:
        return labels, matrix
    size = [sum(matrix[i]) + sum(row[i] for row in matrix) for i in range(len(labels))]
    top = sorted(sorted(range(len(labels)), key=lambda i: -size[i])[:keep])
    slot = {old: new for new, old in enumerate(top)}
    rest = len(top)
    out = [[0] * (rest + 1) for _ in range(rest + 1)]
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            out[slot.get(i, rest)][slot.get(j, rest)] += value
    return [labels[i] for i in top] + [REST_LABEL], out


def plot_confusion(report: dict[str, Any], path: Path, title: str) -> Path:
    """Confusion matrix as a PNG (rows: truth, columns: prediction)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, matrix = largest_labels(report["labels"], report["confusion"], MAX_PLOT_LABELS)
    if len(labels) < len(report["labels"]):
        title += f" ({MAX_PLOT_LABELS} largest of {len(report['labels'])} labels)"
    size = max(5.0, 0.55 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    peak = max((max(row) for row in matrix), default=0) or 1
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            if value:
                ax.text(
                    j,
                    i,
                    str(value),
                    ha="center",
                    va="center",
                    color="white" if value > peak / 2 else "black",
                    fontsize=8,
                )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
