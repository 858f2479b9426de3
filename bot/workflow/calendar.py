"""Business-hours arithmetic: SLA clocks that only run while the service desk is open.

Two operations are enough for every SLA rule: `add` (a due time from a start and a target) and
`between` (how much open time passed, e.g. while a ticket waited on its requester).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


class Calendar:
    """Round the clock: every second counts."""

    def add(self, start: datetime, seconds: float) -> datetime:
        return start + timedelta(seconds=seconds)

    def between(self, start: datetime, end: datetime) -> float:
        return max(0.0, (end - start).total_seconds())


@dataclass(frozen=True)
class BusinessCalendar(Calendar):
    """Open `start`–`end` local time on `weekdays` (0 = Monday), closed on `holidays`."""

    timezone: str
    weekdays: frozenset[int]
    start: time
    end: time
    holidays: frozenset[date]

    def _windows(self, since: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals (UTC) from the local day of `since` onwards, in order."""
        zone = ZoneInfo(self.timezone)
        day = since.astimezone(zone).date()
        while True:
            if day.weekday() in self.weekdays and day not in self.holidays:
                opens = datetime.combine(day, self.start, zone).astimezone(UTC)
                closes = datetime.combine(day, self.end, zone).astimezone(UTC)
                if closes > since:
                    yield max(opens, since), closes
            day += timedelta(days=1)

    def add(self, start: datetime, seconds: float) -> datetime:
        remaining = seconds
        for opens, closes in self._windows(start):
            span = (closes - opens).total_seconds()
            if remaining <= span:
                return opens + timedelta(seconds=remaining)
            remaining -= span
        raise AssertionError("unreachable: business windows never end")  # pragma: no cover

    def between(self, start: datetime, end: datetime) -> float:
        if end <= start:
            return 0.0
        total = 0.0
        for opens, closes in self._windows(start):
            if opens >= end:
                break
            total += (min(closes, end) - opens).total_seconds()
        return total
