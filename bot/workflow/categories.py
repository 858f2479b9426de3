"""Which categories a ticket may be filed under, for every front end that lets people choose one.

A correction is what the next training learns from, so a typo ("netwrok") must not become a new
queue of one. The categories people may pick are the routing file's (what the Slack card's
menu offers) and the ones the active classifier was trained on (its labels, e.g. "other" for the
rare categories it folded together): a label outside both has no tier and no model behind it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sqlalchemy.orm import Session

from bot.workflow.routing import Routing
from classifier.artifact import read_manifest
from classifier.errors import ClassifierError
from classifier.labels import label_key
from classifier.registry import active_model
from classifier.types import NEEDS_TRIAGE


def routed_categories(routing: Routing) -> tuple[str, ...]:
    """The routing file's categories, or the built-in default's when the file routes everything to
    the triage tier (a menu needs options)."""
    return tuple(routing.categories) or tuple(Routing.default().categories)


def model_categories(session: Session) -> tuple[str, ...]:
    """The category labels of the active classifier; none when there is no usable model (one
    whose manifest cannot be read does not serve, so it knows nothing)."""
    row = active_model(session)
    if row is None:
        return ()
    try:
        manifest = read_manifest(Path(row.path))
    except ClassifierError:
        return ()
    labels = manifest["labels"].get("category", [])
    return tuple(str(label) for label in labels)


def known_categories(routing: Routing, model_labels: Iterable[str] = ()) -> tuple[str, ...]:
    """Routed categories first, then the model's, each once (case and spaces ignored).

    A category both name is spelled as the model has it: the model spells it as the imported
    history does ("Network"), while the routing file's keys are lower-cased, and one category
    must not be stored under two spellings that reports and the next training count apart.
    """
    spelling = {label_key(name): name.strip() for name in model_labels}
    seen: dict[str, str] = {}
    for name in (*routed_categories(routing), *spelling.values()):
        key = label_key(name)
        if key and key != NEEDS_TRIAGE and key not in seen:
            seen[key] = spelling.get(key, name.strip())
    return tuple(seen.values())


def match_category(value: str, known: Iterable[str]) -> str | None:
    """The known category `value` names (any case, spacing), else None."""
    wanted = label_key(value)
    return next((name for name in known if label_key(name) == wanted), None)
