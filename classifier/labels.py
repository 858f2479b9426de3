"""Label rules shared by training, evaluation and the promotion gate (no scikit-learn needed)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence

OTHER = "other"


def label_key(label: str) -> str:
    """Labels that differ only in case or spacing ("Hardware", "hardware ", "HARDWARE") name the
    same queue in a hand-typed export."""
    return " ".join(label.casefold().split())


def merge_label_spellings(labels: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Each case/spacing variant becomes the label's most common spelling ("other" for our own
    catch-all), so one queue is not split into rivals that share its tickets. Returns the labels
    and {variant: spelling kept}."""
    counts = Counter(labels)
    spellings: dict[str, list[str]] = {}
    for label in counts:
        spellings.setdefault(label_key(label), []).append(label)
    merged: dict[str, str] = {}
    for key, variants in spellings.items():
        if len(variants) < 2 and not (key == OTHER and variants[0] != OTHER):
            continue
        kept = OTHER if key == OTHER else min(variants, key=lambda v: (-counts[v], v))
        merged.update({v: kept for v in variants if v != kept})
    return [merged.get(label, label) for label in labels], merged


def fold_rare_labels(
    labels: Sequence[str], minimum: int, history: Sequence[str] | None = None
) -> tuple[list[str], dict[str, int]]:
    """Labels seen fewer than `minimum` times become "other": a model cannot learn them anyway,
    and an explicit "other" keeps their tickets out of the wrong named queue.

    `history`: the labels of the whole history `labels` were drawn from (the training slice
    without its held-out tenth). Rareness is judged, and reported, on it: a queue with 10 tickets
    of which one is held out is not "rare (9)" with a minimum of 10."""
    counts = Counter(labels)
    if history is not None:
        by_key = Counter(label_key(label) for label in history)
        counts = Counter({label: max(n, by_key[label_key(label)]) for label, n in counts.items()})
    rare = {label: n for label, n in counts.items() if n < max(2, minimum) and label != OTHER}
    return [OTHER if label in rare else label for label in labels], rare


def fold_like_model(
    truth: Sequence[str], labels: Sequence[str], folded: Collection[str]
) -> tuple[list[str], int, int]:
    """True labels as a model with `labels` can be scored on them: (labels, folded, never seen).

    A label spelled with other case or spacing than the model's is the model's label, as in
    training; a label the model's training folded into "other" (`folded`, from its manifest)
    counts as "other". Any other label the model never saw stays as it is, and so is a miss:
    folding it too would score a model on tickets of a new queue as if it had them all right.
    """
    known = set(labels)
    by_key = {label_key(label): label for label in labels}
    folded_keys = {label_key(label) for label in folded}
    out: list[str] = []
    folded_n = unseen_n = 0
    for label in truth:
        label = label if label in known else by_key.get(label_key(label), label)
        if label not in known and OTHER in known and label_key(label) in folded_keys:
            label, folded_n = OTHER, folded_n + 1
        elif label not in known:
            unseen_n += 1
        out.append(label)
    return out, folded_n, unseen_n
