"""Fenced code blocks (``` or ~~~) in Markdown-ish article bodies.

A line inside a fence is code: `# Stop the spooler service` there is a PowerShell comment, not a
heading, and a passage should not end half-way through the block.
"""

from __future__ import annotations

import re
from itertools import groupby

_FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


def fence_ids(lines: list[str]) -> list[int]:
    """For each line, 0 outside fences, else the number (1, 2, …) of the fenced block it is in.

    The fence lines belong to their block. A fence closes on a line of the same character at
    least as long as the opener with nothing after it; an unclosed fence runs to the end of the
    text, as CommonMark renders it.
    """
    ids: list[int] = []
    opener: str | None = None
    block = 0
    for line in lines:
        match = _FENCE_RE.match(line)
        if opener is None:
            if match and not (match.group(1)[0] == "`" and "`" in match.group(2)):
                opener = match.group(1)
                block += 1
            ids.append(block if opener else 0)
            continue
        ids.append(block)
        closing = match is not None and not match.group(2).strip()
        if (
            closing
            and match is not None
            and match.group(1)[0] == opener[0]
            and len(match.group(1)) >= len(opener)
        ):
            opener = None
    return ids


def split_fences(text: str) -> list[tuple[str, bool]]:
    """The text as (part, is_fenced_block) pieces in reading order; blank parts are dropped."""
    lines = text.splitlines()
    parts = []
    for block, group in groupby(zip(fence_ids(lines), lines, strict=True), key=lambda pair: pair[0]):
        part = "\n".join(line for _, line in group).strip("\n")
        if part.strip():
            parts.append((part, block != 0))
    return parts
