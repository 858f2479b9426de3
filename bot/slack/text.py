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

from bot.attachments import attachment_line

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


def message_text(event: dict[str, Any], bot_user_id: str | None = None) -> str:
    """What a message event says: its `text`, or, when a client sent only blocks (some clients
    and workflow steps post rich text with an empty `text`), the words of its rich_text blocks."""
    said = from_slack(str(event.get("text") or ""), bot_user_id)
    if said or not isinstance(event.get("blocks"), list):
        return said
    lines = [_rich_text(block, bot_user_id) for block in event["blocks"] if isinstance(block, dict)]
    return re.sub(r"[ \t]{2,}", " ", "\n".join(line for line in lines if line.strip())).strip()


def _rich_text(node: dict[str, Any], bot_user_id: str | None) -> str:
    """One rich_text node as plain text (its text is raw, not entity-escaped)."""
    kind = node.get("type")
    if kind == "text":
        return str(node.get("text") or "")
    if kind == "link":
        url, label = str(node.get("url") or ""), str(node.get("text") or "")
        return f"{label} ({url})" if label and label != url else url
    if kind == "user":
        user = str(node.get("user_id") or "")
        return "" if user == bot_user_id else f"<@{user}>"
    if kind == "channel":
        return f"#{node.get('channel_id') or ''}"
    if kind == "emoji":
        return f":{node.get('name') or ''}:"
    if kind == "broadcast":
        return f"@{node.get('range') or 'here'}"
    children = [c for c in node.get("elements") or [] if isinstance(c, dict)]
    parts = [_rich_text(child, bot_user_id) for child in children]
    # sections run inline; lists, quotes, code blocks and the block itself break lines
    joiner = "" if kind == "rich_text_section" else "\n"
    return joiner.join(part for part in parts if part)


def mentions_user(event: dict[str, Any], user_id: str) -> bool:
    """Whether the message mentions `user_id`, in its text or in its rich_text blocks."""
    if not user_id:
        return False
    if f"<@{user_id}>" in str(event.get("text") or ""):
        return True
    return any(_mentions(block, user_id) for block in event.get("blocks") or [] if isinstance(block, dict))


def _mentions(node: dict[str, Any], user_id: str) -> bool:
    if node.get("type") == "user":
        return node.get("user_id") == user_id
    children = node.get("elements") or []
    return any(_mentions(child, user_id) for child in children if isinstance(child, dict))


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
        lines.append(attachment_line(name, str(link) if link else None))
    return "\n".join(lines)


_MD_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__")
_MD_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")
_MD_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_MD_QUOTE = re.compile(r"^&gt;[ \t]?", re.MULTILINE)
_MD_BULLET = re.compile(r"^([ \t]*)[*+-][ \t]+", re.MULTILINE)


def markdown_to_mrkdwn(text: str) -> str:
    """A KB passage (Markdown) as Slack shows it: escaped, then **bold** as *bold*, [label](url)
    as a link, headings bold, list items as bullets and `>` lines as quotes. Slack's mrkdwn is
    not Markdown: left as it is, the asterisks show and a quote becomes a literal '>'."""
    out = escape(text)
    out = _MD_LINK.sub(lambda m: f"<{m.group(2)}|{m.group(1)}>", out)
    out = _MD_BOLD.sub(lambda m: f"*{m.group(1) or m.group(2)}*", out)
    out = _MD_HEADING.sub(lambda m: f"*{m.group(1)}*", out)
    out = _MD_BULLET.sub(lambda m: f"{m.group(1)}• ", out)
    return _MD_QUOTE.sub("> ", out)
