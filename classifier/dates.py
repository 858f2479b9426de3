"""Timestamps as ticket exports write them, read with one day/month order for the whole file.

Exports say "2025-03-04 10:00", "04/03/2025 10:00", "3/4/2025 10:00 AM", "04-Mar-2025 10:00" or
"Mar 4, 2025 10:00 AM". The numeric forms are ambiguous: "03/04/2025" is 3 April in Europe and
4 March in the US. Guessing that row by row would date some rows of one file day-first and others
month-first, so the order is decided once per file: from values that prove it (a first number
above 12 can only be a day), or given by the admin (`--date-order`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

DateOrder = Literal["dmy", "mdy"]
DATE_ORDERS: tuple[DateOrder, ...] = ("dmy", "mdy")
DEFAULT_DATE_ORDER: DateOrder = "dmy"

_TIMES = ("", " %H:%M", " %H:%M:%S", " %I:%M %p", " %I:%M:%S %p", " %I:%M%p", " %I%p")
_NAMED_DATES = (
    "%d %b %Y",
    "%d %B %Y",
    "%d-%b-%Y",
    "%d-%b-%y",
    "%d/%b/%Y",
    "%d/%b/%y",  # Jira: 04/Mar/25 10:00 AM
    "%b %d, %Y",
    "%B %d, %Y",
    "%b %d %Y",
    "%a, %d %b %Y",
    "%Y/%m/%d",
)
_ZONE_SUFFIX = re.compile(r"\s*(UTC|GMT|Z)$", re.IGNORECASE)
# Every non-ISO form above starts with a number and a separator or names a month. Anything else
# is refused before the ~160 formats are tried: a column mapped by mistake (ticket ids, "n/a")
# would otherwise cost a millisecond per row.
_DATE_SHAPE = re.compile(r"^\d{1,4}[/.\- ]|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec", re.IGNORECASE)
_YEAR_COMMA = re.compile(r"(\d{4}),")  # "Mar 4, 2025, 10:00 AM"
_NUMERIC_DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{2}|\d{4})\b")


def _formats(order: DateOrder) -> tuple[str, ...]:
    first, second = ("%d", "%m") if order == "dmy" else ("%m", "%d")
    numeric = tuple(f"{first}{sep}{second}{sep}{year}" for sep in "/.-" for year in ("%Y", "%y"))
    return tuple(date + time for date in (*numeric, *_NAMED_DATES) for time in _TIMES)


@dataclass
class TimestampReader:
    """Parses one file's timestamps; remembers the format that last worked, since an export
    writes every value the same way (so a 50k-row file costs one strptime per value)."""

    order: DateOrder = DEFAULT_DATE_ORDER
    _last: str | None = None

    def __post_init__(self) -> None:
        self._candidates = _formats(self.order)

    def parse(self, value: str) -> datetime | None:
        """The UTC timestamp of `value`; None when it is not a timestamp in a known form."""
        text = " ".join(_ZONE_SUFFIX.sub("", value.strip()).split())
        if not text:
            return None
        parsed: datetime | None
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            if not _DATE_SHAPE.search(text):
                return None
            parsed = self._strptime(_YEAR_COMMA.sub(r"\1", text))
        if parsed is None:
            return None
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)

    def _strptime(self, text: str) -> datetime | None:
        tried = (self._last, *self._candidates) if self._last else self._candidates
        for fmt in tried:
            if fmt is None:
                continue
            try:
                parsed = datetime.strptime(text, fmt)
            except ValueError:
                continue
            self._last = fmt
            return parsed
        return None


@dataclass(frozen=True)
class OrderEvidence:
    """What a file's values say about their day/month order."""

    order: DateOrder | None  # None: nothing decides it, or the file contradicts itself
    day_first_example: str | None = None
    month_first_example: str | None = None
    ambiguous_example: str | None = None  # such as "03/04/2025", which reads both ways

    @property
    def contradictory(self) -> bool:
        return self.day_first_example is not None and self.month_first_example is not None


def infer_date_order(values: Iterable[str]) -> OrderEvidence:
    """The order the numeric dates prove: "25/03/2025" only reads day-first, "03/25/2025" only
    month-first. Values such as "03/04/2025" prove nothing; ISO and named months need no order."""
    day_first: str | None = None
    month_first: str | None = None
    ambiguous: str | None = None
    for value in values:
        match = _NUMERIC_DATE.match(value.strip())
        if match is None:
            continue
        a, b = int(match.group(1)), int(match.group(2))
        if a > 12 >= b and day_first is None:
            day_first = value.strip()
        elif b > 12 >= a and month_first is None:
            month_first = value.strip()
        elif a != b and max(a, b) <= 12 and ambiguous is None:
            ambiguous = value.strip()
        if day_first and month_first:
            break
    order: DateOrder | None = None
    if day_first and not month_first:
        order = "dmy"
    elif month_first and not day_first:
        order = "mdy"
    return OrderEvidence(order, day_first, month_first, ambiguous)
