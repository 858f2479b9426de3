"""Slack's message text format, both ways: what people typed, and what we may post.

Slack sends text with `&`, `<` and `>` escaped as entities and with links, channels and mentions
as `<...>` control sequences (https://api.slack.com/reference/surfaces/formatting). The engine,
the classifier and the ticket must see what the person typed ("VPN & Wi-Fi: <error 809>"), not
entities; and what we post must be escaped again, or Slack reads a stray `<` as the start of a
link and swallows the text after it.
"""

from __future__ import annotations

import re
from typing import Any

_CONTROL = re.compile(r"<([^<>\s][^<>]*)>")
# A user mention as we post it ourselves (`<@U123>`): the one control sequence we keep in text.
_USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^<>]*)?>")
_KEPT_MENTION = re.compile(r"(<@[UW][A-Z0-9]+>)")


def from_slack(text: str, bot_user_id: str | None = None) -> str:
    """A message as the person wrote it: the bot's own mention removed, links as `label (url)`,
    `#channel` and `@here` as words, entities decoded. Other people's mentions stay `<@U…>` so a
    relay to the other side still notifies them."""

    def replace(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            user = target[1:]
            if bot_user_id and user == bot_user_id:
                return ""
            return f"<@{user}>" if re.fullmatch(r"[UW][A-Z0-9]+", user) else match.group(0)
        if target.startswith("#"):
            return f"#{label}" if label else target
        if target.startswith("!"):
            command = target[1:]
            if command in {"here", "channel", "everyone"}:
                return f"@{command}"
            return label or command.split("^", 1)[0]  # subteams, dates: their fallback text
        if target.startswith("mailto:"):
            return label or target[len("mailto:") :]
        if label and label != target:
            return f"{label} ({target})"
        return target

    plain = _CONTROL.sub(replace, text)
    plain = plain.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return re.sub(r"[ \t]{2,}", " ", plain).strip()


def escape(text: str) -> str:
    """Text that is safe to post as mrkdwn: `& < >` escaped, user mentions (`<@U…>`) kept."""
    parts = _KEPT_MENTION.split(_USER_MENTION.sub(r"<@\1>", text))
    return "".join(
        part if index % 2 else part.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        for index, part in enumerate(parts)
    )


def with_attachments(text: str, files: Any) -> str:
    """`text` plus one line per shared file (name and link): a screenshot posted with no words
    still reaches the engineer, and the ticket says what was attached."""
    lines = [text] if text else []
    for item in files if isinstance(files, list) else []:
        if not isinstance(item, dict):
            continue
        name = str(item.get("name") or item.get("title") or "file")
        link = item.get("permalink") or item.get("url_private")
        lines.append(f"[attached: {name}{f' {link}' if link else ''}]")
    return "\n".join(lines)
