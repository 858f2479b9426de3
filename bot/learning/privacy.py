"""Personal data in KB drafts: scrubbed when a draft is written, refused at approval if still there.

A draft is written from a requester's own words, and a published article is read by everyone, so
e-mail addresses, phone numbers, Slack mentions and the names of the people on the ticket must
not travel from one to the other. Scrubbing replaces them with a bracketed placeholder a reviewer
can see and reword; approval checks the (possibly hand-edited) text again, because a reviewer can
paste personal data back in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# An address, unless its local part names a shared mailbox ("servicedesk@…", "it-support@…"),
# which an article may well tell everyone to write to.
EMAIL = re.compile(
    r"(?<![\w.+-])(?!(?:it|helpdesk|help|servicedesk|service-desk|support|it-?support|itsupport"
    r"|security|noreply|no-reply|admin|hr|facilities)@)[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+",
    re.IGNORECASE,
)
# Slack's wire format for a person or a channel: <@U024BE7LH>, <@U024BE7LH|bob>, <#C024BE7LH|general>.
USER_MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")
CHANNEL_MENTION = re.compile(r"<#C[A-Z0-9]+(?:\|[^>]*)?>")
# 9-15 digits, optionally after "+", separated by spaces, dashes or parentheses. Dots, colons and
# slashes are not separators, nor may they join the number to more digits (versions, IP addresses,
# times); 8 digits or fewer are dates, ticket numbers and error codes far more often than phones.
PHONE = re.compile(r"(?<![\w+])(?<!\d[.:/])\+?\(?\d(?:[ ()-]{0,2}\d){8,14}(?!\w|[.:/]\d)")

PLACEHOLDERS = {
    "email": "[email address]",
    "phone": "[phone number]",
    "user": "[user]",
    "channel": "[channel]",
    "name": "[name]",
}
# Placeholders say something to a reviewer but nothing in an article id.
PLACEHOLDER = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS.values()))
_DESCRIPTIONS = {
    "email": "an e-mail address",
    "phone": "a phone number",
    "user": "a Slack user mention",
    "channel": "a Slack channel mention",
    "name": "the name of a person on the ticket",
}
# Name parts shorter than this ("Al", "Li") match too many ordinary words to replace on their own.
_MIN_NAME_PART = 3
# A word of a name: letters, possibly joined by an apostrophe or hyphen ("O'Brien", "Jean-Luc").
_NAME_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")


def _name_patterns(names: Iterable[str]) -> list[re.Pattern[str]]:
    """Whole names match in any case; a single part of a name ("John" of "John Smith") only when
    capitalised as a name, so that a person called "Will Mark" leaves "will" and "mark" alone."""
    patterns: list[re.Pattern[str]] = []
    for name in {" ".join(n.split()) for n in names if n and n.strip()}:
        if not re.search(r"[^\W\d_]", name):
            continue  # an id such as "U-1" is no name to look for in prose
        patterns.append(re.compile(rf"(?<!\w){re.escape(name)}(?!\w)", re.IGNORECASE))
        # The words of the name, without what display names wrap around them ("Alice (L1)",
        # "O'Brien, Sean"): prose says "Alice", never "Alice (L1)".
        parts = [p for p in _NAME_WORD.findall(name) if len(p) >= _MIN_NAME_PART and p[0].isupper()]
        if parts != [name]:
            patterns += [re.compile(rf"(?<!\w){re.escape(p)}(?!\w)") for p in parts]
    # Longest first, so "John Smith" becomes one placeholder rather than two.
    return sorted(patterns, key=lambda p: len(p.pattern), reverse=True)


def _patterns(names: Iterable[str]) -> list[tuple[str, re.Pattern[str]]]:
    """Mentions first (they may hold a name), then addresses and numbers, then names."""
    kinds: list[tuple[str, re.Pattern[str]]] = [
        ("user", USER_MENTION),
        ("channel", CHANNEL_MENTION),
        ("email", EMAIL),
        ("phone", PHONE),
    ]
    kinds += [("name", p) for p in _name_patterns(names)]
    return kinds


def scrub(text: str, names: Iterable[str] = ()) -> str:
    """`text` with e-mail addresses, phone numbers, Slack mentions and the given people's names
    replaced by placeholders such as "[email address]"."""
    for kind, pattern in _patterns(names):
        text = pattern.sub(PLACEHOLDERS[kind], text)
    return text


def personal_data_in(text: str, names: Iterable[str] = ()) -> list[str]:
    """What kinds of personal data `text` still holds, described for a sentence ("an e-mail address")."""
    found = [kind for kind, pattern in _patterns(names) if pattern.search(text)]
    return [_DESCRIPTIONS[k] for k in dict.fromkeys(found)]
