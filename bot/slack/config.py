"""Slack settings parsed once into typed values: which channels the bot may talk in, and how.

The raw settings are comma lists (`TIERLINE_SUPPORT_CHANNELS="C1,C2:mention"`,
`TIERLINE_TIER_CHANNELS="L1=C111,L2=C222"`, `TIERLINE_ADMINS="U1,U2"`); a typo must fail at start-up
with a sentence naming the bad entry, not silently leave a channel unanswered.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from bot.settings import Settings
from models import Tier


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

    def tier_of_channel(self, channel: str) -> Tier | None:
        for tier, channel_id in self.tier_channels.items():
            if channel_id == channel:
                return tier
        return None

    def channel_mode(self, channel: str) -> ChannelMode | None:
        """The behaviour in `channel`; None means the bot must stay silent there."""
        return self.support_channels.get(channel)

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
    """`"L1=C111,L2=C222"` → {Tier.L1: "C111", Tier.L2: "C222"}."""
    mapping: dict[Tier, str] = {}
    for item in _items(raw):
        tier, sep, value = item.partition("=")
        if not sep or not value.strip():
            raise SlackConfigError(f"{setting} entry {item!r} should look like L1=C0123456.")
        try:
            mapping[Tier(tier.strip().upper())] = value.strip()
        except ValueError:
            raise SlackConfigError(f"{setting} entry {item!r}: the tier must be L1, L2 or L3.") from None
    return mapping
