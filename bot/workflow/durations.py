"""Human-readable durations ("15m", "4h", "3d") used by the routing file."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str | int | float) -> timedelta:
    """'1h30m' -> 90 minutes. A bare number means minutes, the unit SLA targets are usually quoted in."""
    if isinstance(text, bool):
        raise ValueError("expected a duration such as '30m', '4h' or '2d'")
    if isinstance(text, int | float):
        if text <= 0:
            raise ValueError("a duration must be positive")
        return timedelta(minutes=float(text))
    cleaned = text.strip().lower().replace(" ", "")
    parts = _PART.findall(cleaned)
    if not parts or "".join(f"{n}{u}" for n, u in parts) != cleaned:
        raise ValueError(f"{text!r} is not a duration such as '30m', '4h' or '2d'")
    seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:  # more days than a timedelta holds
        raise ValueError(f"{text!r} is too long a duration") from None


def format_duration(delta: timedelta) -> str:
    """The inverse for display: 5400 s -> '1h30m'."""
    seconds = int(delta.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    out = []
    for unit in ("d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds >= size:
            out.append(f"{seconds // size}{unit}")
            seconds %= size
    return sign + ("".join(out) or f"{seconds}s")
