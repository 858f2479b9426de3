"""Routing rules from a YAML file: which tier starts each category, SLA targets per priority,
business hours, and the closure loop. Validated once at start-up with errors that name the key.

`Routing.default()` is the same content as `examples/routing.yml` (a test keeps them equal), so a
fresh checkout works without any file and the example documents what the defaults are.
"""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.workflow.calendar import BusinessCalendar, Calendar
from bot.workflow.durations import parse_duration
from bot.workflow.errors import RoutingError
from classifier.types import NEEDS_TRIAGE
from models import Priority, Tier

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Strict(BaseModel):
    # Unknown keys are refused, so a typo ("first_reponse") is an error rather than a silent default.
    model_config = ConfigDict(extra="forbid", frozen=True)


class SlaTarget(_Strict):
    first_response: Duration
    resolution: Duration
    # False: the clock runs round the clock (typical for critical); True: only in business hours.
    business_hours: bool = True

    @model_validator(mode="after")
    def _response_before_resolution(self) -> SlaTarget:
        if self.first_response > self.resolution:
            raise ValueError("first_response must not be longer than resolution")
        return self


class BusinessHours(_Strict):
    timezone: str = "UTC"
    days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri")
    start: time = time(9, 0)
    end: time = time(17, 0)
    holidays: tuple[date, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("days")
    @classmethod
    def _known_days(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        days = tuple(d.lower()[:3] for d in value)
        bad = [d for d, short in zip(value, days, strict=True) if short not in WEEKDAYS]
        if bad:
            raise ValueError(f"unknown day(s) {bad}; use {', '.join(WEEKDAYS)}")
        if not days:
            raise ValueError("at least one open day is needed")
        return days

    @model_validator(mode="after")
    def _opens_before_closing(self) -> BusinessHours:
        if self.start >= self.end:
            raise ValueError("start must be before end")
        return self

    def calendar(self) -> BusinessCalendar:
        return BusinessCalendar(
            timezone=self.timezone,
            weekdays=frozenset(WEEKDAYS.index(d) for d in self.days),
            start=self.start,
            end=self.end,
            holidays=frozenset(self.holidays),
        )


class SlaPolicy(_Strict):
    # Warn the tier when this fraction of a target has elapsed (0.75 = at 75 %).
    warn_fraction: float = Field(0.75, gt=0, lt=1)
    # Escalate one tier up when the first-response target is missed.
    auto_escalate_on_first_response_breach: bool = True


class Closure(_Strict):
    # A resolved ticket the requester does not answer is closed after this many days.
    auto_close_after_days: float = Field(5, gt=0)
    # A requester reply within this many days of the resolution reopens the ticket.
    reopen_window_days: float = Field(14, ge=0)


def _tier(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


TierName = Annotated[Tier, BeforeValidator(_tier)]


class Routing(_Strict):
    triage_tier: TierName = Tier.L1
    categories: dict[str, TierName]
    priorities: dict[Priority, SlaTarget]
    default_priority: Priority = Priority.MEDIUM
    sla: SlaPolicy = SlaPolicy()
    business_hours: BusinessHours | None = None
    closure: Closure = Closure()

    @field_validator("priorities")
    @classmethod
    def _every_priority(cls, value: dict[Priority, SlaTarget]) -> dict[Priority, SlaTarget]:
        missing = [p.value for p in Priority if p not in value]
        if missing:
            raise ValueError(f"missing SLA targets for {', '.join(missing)}")
        return value

    @field_validator("categories")
    @classmethod
    def _no_triage_key(cls, value: dict[str, Tier]) -> dict[str, Tier]:
        if NEEDS_TRIAGE in value:
            raise ValueError(f"'{NEEDS_TRIAGE}' is routed by triage_tier, not by categories")
        # Categories match regardless of case and spaces, so two spellings of one category
        # would silently overwrite each other: refuse them, naming both.
        routed: dict[str, Tier] = {}
        spelled: dict[str, str] = {}
        for key, tier in value.items():
            name = key.strip().lower()
            if name in spelled:
                raise ValueError(
                    f"{spelled[name]!r} and {key!r} are the same category (case and spaces are "
                    "ignored); keep one of them"
                )
            spelled[name], routed[name] = key, tier
        return routed

    # --- questions the workflow asks -------------------------------------------------------
    def tier_for(self, category: str) -> Tier:
        """Starting tier of a category; unknown categories and "needs triage" go to triage_tier."""
        return self.categories.get(category.strip().lower(), self.triage_tier)

    def priority_of(self, label: str | None) -> Priority:
        try:
            return Priority(label) if label else self.default_priority
        except ValueError:
            return self.default_priority

    def target(self, priority: str | Priority) -> SlaTarget:
        return self.priorities[self.priority_of(str(priority))]

    def calendar_for(self, priority: str | Priority) -> Calendar:
        if self.business_hours is None or not self.target(priority).business_hours:
            return Calendar()
        return self.business_hours.calendar()

    @classmethod
    def default(cls) -> Routing:
        return parse_routing(yaml.safe_load(DEFAULT_ROUTING_YAML), source="built-in default routing")


def _key_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def parse_routing(data: Any, *, source: str) -> Routing:
    """Validate already-parsed YAML; the error lists every bad key as a dotted path."""
    if not isinstance(data, dict):
        raise RoutingError(f"{source}: expected a mapping of keys at the top level")
    try:
        return Routing.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{_key_path(e['loc'])}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors()
        )
        raise RoutingError(f"{source}: invalid routing: {problems}") from None


def load_routing(path: Path) -> Routing:
    """Read and validate the routing file (TIERLINE_ROUTING). Meant to be called at start-up."""
    if not path.exists():
        raise RoutingError(
            f"routing file {path} does not exist; set TIERLINE_ROUTING to a file like examples/routing.yml"
        )
    if path.is_dir():
        raise RoutingError(
            f"TIERLINE_ROUTING is {path}, a folder; point it at a file like examples/routing.yml"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise RoutingError(
            f"{path}: not UTF-8 text (byte {exc.start}); save the routing file as UTF-8 YAML"
        ) from None
    except OSError as exc:
        raise RoutingError(f"cannot read routing file {path}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RoutingError(f"{path}: not valid YAML: {exc}") from None
    except ValueError as exc:
        # PyYAML reads an unquoted 2026-13-25 as a date and lets the calendar's error through.
        raise RoutingError(f"{path}: {_bad_value(text, exc)}") from None
    return parse_routing(data, source=str(path))


def _bad_value(text: str, exc: ValueError) -> str:
    """Where a scalar PyYAML could not convert is (it does not say): the first date-like token
    that is no date, with its line and key."""
    for number, line in enumerate(text.splitlines(), start=1):
        for match in re.finditer(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", line):
            try:
                date(*(int(part) for part in match.groups()))
            except ValueError:
                key = line.split(":", 1)[0].strip() if ":" in line else "a list item"
                return f"line {number}, {key}: {match.group(0)} is not a date ({exc})"
    return f"a value cannot be read ({exc})"


# Kept identical to examples/routing.yml (tests/test_workflow_routing.py checks it).
DEFAULT_ROUTING_YAML = """\
# Tierline routing rules (TIERLINE_ROUTING points at a file like this one).
# Every key is validated at start-up; an unknown or bad key stops the bot with an error naming it.

# The tier that takes tickets the classifier could not categorise ("needs triage")
# and tickets whose category is not listed below.
triage_tier: L1

# Category -> the tier that receives new tickets of that category (L1, L2 or L3).
categories:
  access: L1
  hardware: L1
  software: L1
  email: L1
  printing: L1
  onboarding: L1
  storage: L1
  network: L2
  security: L2
  infrastructure: L2

# Priority -> SLA targets. Durations: 30m, 4h, 2d, 1h30m (d = 24 h of clock time).
#   first_response: time until an engineer first answers the requester publicly.
#   resolution:     time until the ticket is resolved (paused while waiting on the requester).
#   business_hours: true counts only open hours (see business_hours below); false counts 24x7.
priorities:
  critical: {first_response: 15m, resolution: 4h, business_hours: false}
  high: {first_response: 1h, resolution: 8h, business_hours: false}
  medium: {first_response: 4h, resolution: 24h, business_hours: true}
  low: {first_response: 8h, resolution: 40h, business_hours: true}

# Used when the classifier's priority is missing or unknown.
default_priority: medium

sla:
  # Warn the tier's queue when this fraction of a target has elapsed.
  warn_fraction: 0.75
  # Missing the first-response target escalates the ticket one tier up (L1 -> L2 -> L3).
  auto_escalate_on_first_response_breach: true

# Opening hours for targets with business_hours: true. Remove this block to count 24x7.
business_hours:
  timezone: UTC
  days: [mon, tue, wed, thu, fri]
  start: "09:00"
  end: "17:00"
  holidays: [2026-12-25, 2027-01-01]

closure:
  # A resolved ticket is closed when the requester has not answered after this many days.
  auto_close_after_days: 5
  # A requester reply within this many days of the resolution reopens the ticket.
  reopen_window_days: 14
"""
