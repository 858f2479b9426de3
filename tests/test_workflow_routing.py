"""Routing rules: the documented example is the default, and bad files are refused by key."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from bot.workflow.calendar import BusinessCalendar
from bot.workflow.errors import RoutingError
from bot.workflow.routing import Routing, load_routing
from models import Priority, Tier
from tests.conftest import EXAMPLES

DEMO_CATEGORIES = [
    "access",
    "hardware",
    "software",
    "network",
    "email",
    "printing",
    "security",
    "onboarding",
    "storage",
    "infrastructure",
]


def test_example_file_is_the_default() -> None:
    assert load_routing(EXAMPLES / "routing.yml") == Routing.default()


def test_every_demo_category_and_priority_is_routed() -> None:
    routing = Routing.default()
    assert set(DEMO_CATEGORIES) == set(routing.categories)
    assert set(routing.priorities) == set(Priority)
    assert routing.tier_for("needs_triage") == routing.triage_tier == Tier.L1
    assert routing.tier_for("quantum-teleporter") == Tier.L1
    assert routing.tier_for("Network") == Tier.L2


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "routing.yml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _example() -> dict[str, object]:
    data = yaml.safe_load((EXAMPLES / "routing.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize(
    ("mutate", "named_key"),
    [
        (lambda d: d["priorities"]["high"].update(first_reponse="1h"), "priorities.high.first_reponse"),
        (lambda d: d["priorities"]["low"].update(resolution="soon"), "priorities.low.resolution"),
        (lambda d: d["categories"].update(network="L4"), "categories.network"),
        (lambda d: d["priorities"].pop("critical"), "missing SLA targets for critical"),
        (lambda d: d["sla"].update(warn_fraction=1.5), "sla.warn_fraction"),
        (lambda d: d["business_hours"].update(timezone="Mars/Olympus"), "business_hours.timezone"),
        (lambda d: d.update(triage_tierr="L1"), "triage_tierr"),
    ],
)
def test_bad_key_is_named(tmp_path: Path, mutate: object, named_key: str) -> None:
    data = _example()
    mutate(data)  # type: ignore[operator]
    with pytest.raises(RoutingError, match=named_key.replace(".", r"\.")):
        load_routing(_write(tmp_path, data))


def test_missing_file_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(RoutingError, match=r"does not exist.*TIERLINE_ROUTING"):
        load_routing(tmp_path / "nope.yml")


def test_invalid_yaml_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "routing.yml"
    path.write_text("categories: [unclosed\n", encoding="utf-8")
    with pytest.raises(RoutingError, match="not valid YAML"):
        load_routing(path)


def _example_text(old: str, new: str) -> str:
    text = (EXAMPLES / "routing.yml").read_text(encoding="utf-8")
    assert old in text
    return text.replace(old, new)


def test_an_impossible_holiday_names_the_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "routing.yml"
    path.write_text(_example_text("holidays: [2026-12-25, 2027-01-01]", "holidays: [2026-13-25]"))
    with pytest.raises(RoutingError, match=r"routing.yml: line \d+, holidays: 2026-13-25 is not a date"):
        load_routing(path)


def test_a_file_that_is_not_utf8_text_is_named(tmp_path: Path) -> None:
    path = tmp_path / "routing.yml"
    path.write_bytes("categories: {r\u00e9seau: L2}\n".encode("utf-16"))
    with pytest.raises(RoutingError, match=r"routing\.yml: not UTF-8 text"):
        load_routing(path)


def test_a_folder_instead_of_a_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(RoutingError, match=re.escape(f"TIERLINE_ROUTING is {tmp_path}, a folder")):
        load_routing(tmp_path)


def test_categories_differing_only_in_case_are_refused_naming_both(tmp_path: Path) -> None:
    path = tmp_path / "routing.yml"
    path.write_text(_example_text("  network: L2\n", "  Network: L2\n  network: L3\n"))
    with pytest.raises(RoutingError, match="'Network' and 'network' are the same category"):
        load_routing(path)


def test_business_hours_skip_nights_weekends_and_holidays() -> None:
    calendar = Routing.default().calendar_for(Priority.MEDIUM)
    assert isinstance(calendar, BusinessCalendar)
    friday_4pm = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
    # one open hour on Friday, then the next two open hours are on Monday
    assert calendar.add(friday_4pm, 3 * 3600) == datetime(2026, 11, 30, 11, 0, tzinfo=UTC)
    assert calendar.between(friday_4pm, datetime(2026, 11, 30, 11, 0, tzinfo=UTC)) == 3 * 3600
    christmas_eve_4pm = datetime(2026, 12, 24, 16, 0, tzinfo=UTC)  # Thursday; Friday 25th is a holiday
    assert calendar.add(christmas_eve_4pm, 2 * 3600) == datetime(2026, 12, 28, 10, 0, tzinfo=UTC)
    # critical counts round the clock
    critical = Routing.default().calendar_for(Priority.CRITICAL)
    assert critical.add(friday_4pm, 3 * 3600) == friday_4pm + timedelta(hours=3)
