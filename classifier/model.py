"""A loaded triage model: shared text features and one calibrated linear head per label kind."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from classifier.artifact import read_manifest, read_payload
from classifier.errors import ArtifactError

CATEGORY = "category"
PRIORITY = "priority"


@dataclass(frozen=True)
class Head:
    """One head (category or priority): linear scores and their calibration.

    Scores are features @ coef.T + intercept, one column per class; probabilities are
    softmax(scores / temperature), then the top label's probability is mapped through an isotonic
    curve (`iso_x` → `iso_y`) and the other labels share the rest in proportion. Both were fitted
    on out-of-fold scores, so the confidence that abstention compares with a threshold means what
    it says on tickets the model has not seen: one temperature alone cannot fix a model that is
    overconfident at the top and underconfident in the middle, which real ticket data often is.
    """

    name: str
    classes: tuple[str, ...]
    coef: NDArray[np.float32]
    intercept: NDArray[np.float64]
    temperature: float
    iso_x: tuple[float, ...] = ()
    iso_y: tuple[float, ...] = ()

    def scores(self, features: Any) -> NDArray[np.float64]:
        return np.asarray(features @ self.coef.T, dtype=np.float64) + self.intercept

    def scores_one(self, indices: NDArray[np.int64], values: NDArray[np.float64]) -> NDArray[np.float64]:
        """Scores of one row given as sparse (indices, values): a few hundred multiply-adds."""
        return np.asarray(self.coef[:, indices] @ values, dtype=np.float64) + self.intercept

    def calibrate(self, scores: NDArray[np.float64]) -> NDArray[np.float64]:
        probs = softmax_rows(scores / self.temperature)
        return top_label_calibrate(probs, self.iso_x, self.iso_y)

    def proba(self, features: Any) -> NDArray[np.float64]:
        return self.calibrate(self.scores(features))


def softmax_rows(scores: NDArray[np.float64]) -> NDArray[np.float64]:
    """Row-wise softmax in plain numpy (scipy.special would cost every CLI start a sixth of a second)."""
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return np.asarray(shifted / shifted.sum(axis=1, keepdims=True), dtype=np.float64)


def top_label_calibrate(
    probs: NDArray[np.float64], iso_x: tuple[float, ...], iso_y: tuple[float, ...]
) -> NDArray[np.float64]:
    """Map each row's top probability through the isotonic curve; the others share the remainder.

    The top label stays on top (its new probability is never below a rescaled alternative), so
    calibration changes confidence, never the predicted label.
    """
    if not iso_x:
        return probs
    rows = np.arange(len(probs))
    top_index = probs.argmax(axis=1)
    top = probs[rows, top_index]
    new_top = np.interp(top, np.asarray(iso_x), np.asarray(iso_y))
    rest = np.clip(1.0 - top, 1e-12, None)
    scale = np.clip(1.0 - new_top, 0.0, None) / rest
    out = probs * scale[:, None]
    out[rows, top_index] = 0.0
    new_top = np.maximum(new_top, out.max(axis=1) + 1e-9)  # strictly on top: argmax keeps the label
    out[rows, top_index] = new_top
    return np.asarray(out / out.sum(axis=1, keepdims=True), dtype=np.float64)


Ranked = list[tuple[str, float]]


class TriageModel:
    """What serving needs: `rank(text)` gives each head's labels with calibrated probabilities."""

    def __init__(self, path: Path, manifest: dict[str, Any], features: Any, heads: dict[str, Head]) -> None:
        self.path = path
        self.manifest = manifest
        self.features = features
        self.heads = heads

    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    @property
    def data_hash(self) -> str:
        return str(self.manifest.get("data", {}).get("hash", ""))  # shape checked on load

    def labels(self, head: str) -> tuple[str, ...]:
        return self.heads[head].classes if head in self.heads else ()

    def folded_labels(self, head: str) -> tuple[str, ...]:
        """Labels this model's training folded into "other" (rare categories; none for priority)."""
        return tuple(self.manifest.get("folded_labels", {})) if head == CATEGORY else ()

    def proba(self, texts: Sequence[str]) -> dict[str, NDArray[np.float64]]:
        """Calibrated probabilities per head, rows in the order of `texts`, columns in `labels(head)`."""
        features = self.features.transform(list(texts))
        return {name: head.proba(features) for name, head in self.heads.items()}

    def predict(self, texts: Sequence[str]) -> dict[str, list[str]]:
        """The most probable label per head (no abstention): what evaluation and the gate compare."""
        return {
            name: [self.heads[name].classes[i] for i in probs.argmax(axis=1)]
            for name, probs in self.proba(texts).items()
        }

    def rank(self, text: str) -> dict[str, Ranked]:
        """Each head's labels for one text, most probable first."""
        out: dict[str, Ranked] = {}
        if hasattr(self.features, "sparse_one"):
            indices, values = self.features.sparse_one(text)
            probs = {n: h.calibrate(h.scores_one(indices, values)[None, :]) for n, h in self.heads.items()}
        else:
            probs = self.proba([text])
        for name, table in probs.items():
            row = table[0]
            order = np.argsort(-row)
            out[name] = [(self.heads[name].classes[i], float(row[i])) for i in order]
        return out


def load_model(path: Path) -> TriageModel:
    """Load and verify a model directory; raises ArtifactError with a sentence a person can act on."""
    path = Path(path)
    manifest = read_manifest(path)
    payload = read_payload(path)
    heads = payload["heads"]
    if not isinstance(heads, dict) or CATEGORY not in heads:
        raise ArtifactError(f"{path} has no category head; the model is corrupted")
    expected = manifest["labels"]  # a dict of lists: `read_manifest` checked its shape
    for name, head in heads.items():
        if not isinstance(head, Head):
            raise ArtifactError(f"{path}: head {name!r} is not a triage head; the model is corrupted")
        if list(head.classes) != list(expected.get(name, [])):
            raise ArtifactError(
                f"{path}: the {name} labels do not match its manifest; the model is corrupted"
            )
    # Column-major coefficients: one ticket's score gathers a few hundred feature columns, each
    # then one contiguous run of per-class weights instead of one cache line per class (100
    # classes: 0.43 → 0.08 ms a head). Batch scoring (`features @ coef.T`) is as fast either way.
    served = {name: replace(head, coef=np.asfortranarray(head.coef)) for name, head in heads.items()}
    return TriageModel(path, manifest, payload["features"], served)
