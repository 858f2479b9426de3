"""How a shared file travels inside a message's text: one `[attached: NAME LINK]` line per file.

Front ends that receive files (Slack) append these lines, so a screenshot posted without words
still reaches the engineer and the ticket says what was attached. The engine reads them back out:
a file name and a link are nothing to search the KB with, nor a device or an app to take facts from.
"""

from __future__ import annotations

import re

_LINE = re.compile(r"^\[attached: [^\]\n]*\][ \t]*$", re.MULTILINE)


def attachment_line(name: str, link: str | None) -> str:
    return f"[attached: {name}{f' {link}' if link else ''}]"


def without_attachments(text: str) -> str:
    """`text` without its attachment lines (the words the person wrote)."""
    return _LINE.sub("", text).strip()


def has_attachments(text: str) -> bool:
    return _LINE.search(text) is not None
