"""What triage returns. The engine and the workflow in `bot/` depend only on these shapes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

NEEDS_TRIAGE = "needs_triage"
FACT_NAMES = ("device", "software_version", "error_text", "impact", "urgency")


@dataclass(frozen=True)
class HeadPrediction:
    """One head (category or priority): the label, its calibrated probability, and whether the
    head abstained because that probability is below the head's threshold."""

    label: str
    confidence: float
    abstained: bool
    alternatives: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class TriagePrediction:
    category: HeadPrediction
    priority: HeadPrediction
    model_version: str | None
    # Why the priority is what it is, e.g. "model: medium; outage wording raised it to high".
    priority_reason: str = ""


@dataclass(frozen=True)
class Facts:
    """The facts an engineer needs; None means not given yet (ask only for those)."""

    device: str | None = None
    software_version: str | None = None
    error_text: str | None = None
    impact: str | None = None  # "one" | "team" | "many" | "everyone"
    urgency: str | None = None  # "blocking" | "workaround" | "low"
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, values: Mapping[str, object]) -> Facts:
        """The facts stored on a ticket (a JSON dict); an empty or absent value is not given."""
        device, version, error, impact, urgency = (str(values.get(n) or "") or None for n in FACT_NAMES)
        return cls(device=device, software_version=version, error_text=error, impact=impact, urgency=urgency)

    def missing(self) -> tuple[str, ...]:
        return tuple(n for n in FACT_NAMES if getattr(self, n) is None)

    def as_dict(self) -> dict[str, str]:
        out = {n: v for n in FACT_NAMES if (v := getattr(self, n)) is not None}
        out.update(self.extra)
        return out
