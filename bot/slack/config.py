"""Slack settings parsed once into typed values: which channels the bot may talk in, and how.

The raw settings are comma lists (`TIERLINE_SUPPORT_CHANNELS="C1,C2:mention"`,
`TIERLINE_TIER_CHANNELS="L1=C111,L2=C222"`, `TIERLINE_ADMINS="U1,U2"`); a typo must fail at start-up
with a sentence naming the bad entry, not silently leave a channel unanswered.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from bot.settings import Settings
from models import Tier

# One Slack id (C…, G…, S…): a value holding a separator is entries joined the wrong way.
SLACK_ID = re.compile(r"[^\s;:=|/]+")


class SlackConfigError(ValueError):
    """A Slack setting cannot be understood; the message names the setting and the bad entry."""


class ChannelMode(enum.StrEnum):
    """How the bot behaves in a support channel."""

    ALL = "all"  # every top-level post is a question
    MENTION = "mention"  # only posts that @mention the bot


@dataclass(frozen=True)
class SlackConfig:
    bot_token: str
    signing_secret: str
    app_token: str | None = None
    api_url: str = "https://slack.com/api/"
    support_channels: dict[str, ChannelMode] = field(default_factory=dict)
    tier_channels: dict[Tier, str] = field(default_factory=dict)
    # Tier membership from a Slack user group, e.g. {"L2": "S0123"}; read with usergroups.users.list.
    tier_usergroups: dict[Tier, str] = field(default_factory=dict)
    admins: frozenset[str] = frozenset()
    # Whether an @mention is answered in a channel not listed in support_channels: the person
    # addressed the bot by name in a channel it was invited to, and silence reads as broken.
    mentions_anywhere: bool = True

    def tier_of_channel(self, channel: str) -> Tier | None:
        for tier, channel_id in self.tier_channels.items():
            if channel_id == channel:
                return tier
        return None

    def channel_mode(self, channel: str) -> ChannelMode | None:
        """The behaviour in `channel`; None means the bot must stay silent there. A channel that is
        not a support channel answers @mentions only (or nothing, without `mentions_anywhere`)."""
        mode = self.support_channels.get(channel)
        if mode is None and self.mentions_anywhere:
            return ChannelMode.MENTION
        return mode

    @classmethod
    def from_settings(cls, settings: Settings, *, tier_usergroups: str | None = None) -> SlackConfig:
        if not settings.slack_bot_token:
            raise SlackConfigError("SLACK_BOT_TOKEN is not set; Slack mode needs the bot token (xoxb-...).")
        if not settings.slack_signing_secret and not settings.slack_app_token:
            raise SlackConfigError(
                "Set SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (Socket Mode) to run on Slack."
            )
        return cls(
            bot_token=settings.slack_bot_token,
            signing_secret=settings.slack_signing_secret or "",
            app_token=settings.slack_app_token,
            api_url=settings.slack_api_url,
            support_channels=parse_support_channels(settings.slack_support_channels),
            tier_channels=parse_tier_map(settings.slack_tier_channels, "TIERLINE_TIER_CHANNELS"),
            tier_usergroups=parse_tier_map(
                tier_usergroups if tier_usergroups is not None else settings.slack_tier_usergroups,
                "TIERLINE_TIER_USERGROUPS",
            ),
            admins=frozenset(_items(settings.slack_admins)),
            mentions_anywhere=settings.slack_mentions_anywhere,
        )


def _items(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def parse_support_channels(raw: str) -> dict[str, ChannelMode]:
    """`"C1,C2:mention"` → {C1: all, C2: mention}."""
    channels: dict[str, ChannelMode] = {}
    for item in _items(raw):
        channel, _, mode = item.partition(":")
        try:
            channels[channel.strip()] = ChannelMode(mode.strip() or ChannelMode.ALL.value)
        except ValueError:
            raise SlackConfigError(
                f"TIERLINE_SUPPORT_CHANNELS entry {item!r}: the mode after ':' must be 'all' or 'mention'."
            ) from None
    return channels


def parse_tier_map(raw: str, setting: str) -> dict[Tier, str]:
    """`"L1=C111,L2=C222"` → {Tier.L1: "C111", Tier.L2: "C222"}.

    A value is one Slack id, so anything that is not (`L1=C1;L2=C2`, with the wrong separator) is
    refused rather than taken as a channel that never exists; a tier named twice is refused too,
    since keeping either one would silently drop the other."""
    mapping: dict[Tier, str] = {}
    for item in _items(raw):
        tier, sep, value = item.partition("=")
        value = value.strip()
        if not sep or not value:
            raise SlackConfigError(f"{setting} entry {item!r} should look like L1=C0123456.")
        if not SLACK_ID.fullmatch(value):
            raise SlackConfigError(
                f"{setting} entry {item!r}: {value!r} is not a Slack id; separate entries with commas, "
                "e.g. L1=C0123456,L2=C0654321."
            )
        try:
            key = Tier(tier.strip().upper())
        except ValueError:
            raise SlackConfigError(f"{setting} entry {item!r}: the tier must be L1, L2 or L3.") from None
        if key in mapping:
            raise SlackConfigError(
                f"{setting} names {key.value} twice ({key.value}={mapping[key]} and {item.strip()}); "
                "give each tier one entry."
            )
        mapping[key] = value
    return mapping


def explain_startup_error(exc: BaseException) -> str | None:
    """One sentence for why the Slack app could not start, naming the setting to check; None when
    `exc` is not a Slack start-up problem (then it is a bug and keeps its traceback).

    Lives here so `bot.cli` never imports the Slack libraries itself."""
    from urllib.error import URLError

    from slack_bolt.error import BoltError
    from slack_sdk.errors import SlackApiError, SlackClientError

    if isinstance(exc, SlackApiError | BoltError) and _auth_failure(str(exc)):
        return (
            f"Slack refused the bot token ({_first_line(exc)}); check SLACK_BOT_TOKEN "
            "(and SLACK_APP_TOKEN in Socket Mode)"
        )
    if isinstance(exc, URLError | ConnectionError | TimeoutError):
        reason = getattr(exc, "reason", None) or exc
        return f"cannot reach the Slack Web API ({reason}); check SLACK_API_URL and the network"
    if isinstance(exc, SlackApiError | BoltError | SlackClientError):
        return f"Slack refused to start the app ({_first_line(exc)}); check the SLACK_* settings"
    return None


AUTH_ERRORS = ("invalid_auth", "not_authed", "token_revoked", "account_inactive", "token_expired")


def _auth_failure(text: str) -> bool:
    return any(code in text for code in AUTH_ERRORS)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
