"""Timestamps in ticket exports: the forms spreadsheets and ticket tools write, one day/month
order per file, decided by the values that prove it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from classifier.dates import TimestampReader, infer_date_order

MARCH_4 = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        "2025-03-04T10:00:00Z",
        "2025-03-04 10:00:00 UTC",
        "2025-03-04T11:00:00+01:00",
        "04/03/2025 10:00",
        "4.3.2025 10:00",
        "04-03-2025 10:00:00",
        "04/03/25 10:00 AM",
        "04-Mar-2025 10:00",
        "04/Mar/25 10:00 AM",  # Jira
        "Mar 4, 2025 10:00 AM",
        "Mar 4, 2025, 10:00 AM",
        "Tue, 04 Mar 2025 10:00:00",
        "2025/03/04 10:00:00",
    ],
)
def test_day_first_files_read_every_common_form(value: str) -> None:
    assert TimestampReader("dmy").parse(value) == MARCH_4


@pytest.mark.parametrize(
    "value", ["03/04/2025 10:00", "3/4/2025 10:00 AM", "03-04-2025 10:00", "Mar 4, 2025 10:00 AM"]
)
def test_month_first_files_read_the_same_instant(value: str) -> None:
    assert TimestampReader("mdy").parse(value) == MARCH_4


@pytest.mark.parametrize("value", ["", "  ", "n/a", "soon", "31/02/2025", "25/03/2025 25:00"])
def test_values_that_are_no_timestamp_read_as_none(value: str) -> None:
    assert TimestampReader("dmy").parse(value) is None


def test_a_value_only_one_order_can_read_decides_the_file() -> None:
    day_first = infer_date_order(["03/04/2025 10:00", "25/03/2025 09:00", "2025-01-01"])
    assert (day_first.order, day_first.day_first_example) == ("dmy", "25/03/2025 09:00")
    month_first = infer_date_order(["3/4/2025 1:00 PM", "3/25/2025 9:00 AM"])
    assert (month_first.order, month_first.month_first_example) == ("mdy", "3/25/2025 9:00 AM")


def test_a_file_that_proves_nothing_or_both_orders_is_undecided_and_says_why() -> None:
    ambiguous = infer_date_order(["03/04/2025", "2025-01-01", "Mar 4, 2025"])
    assert (ambiguous.order, ambiguous.ambiguous_example) == (None, "03/04/2025")
    assert not ambiguous.contradictory
    mixed = infer_date_order(["25/03/2025", "03/25/2025"])
    assert mixed.order is None and mixed.contradictory
    assert infer_date_order(["2025-03-04", ""]).ambiguous_example is None
