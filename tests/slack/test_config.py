"""Slack settings are parsed once, and a typo stops start-up with a sentence naming the entry."""

from __future__ import annotations

import pytest

from bot.settings import Settings
from bot.slack.config import (
    ChannelMode,
    SlackConfig,
    SlackConfigError,
    parse_support_channels,
    parse_tier_map,
)
from models import Tier


def test_channels_tiers_and_admins_are_parsed() -> None:
    settings = Settings(
        SLACK_BOT_TOKEN="xoxb-1",
        SLACK_SIGNING_SECRET="s",
        TIERLINE_SUPPORT_CHANNELS="C1, C2:mention",
        TIERLINE_TIER_CHANNELS="L1=C111,l2=C222",
        TIERLINE_ADMINS="U1,U2",
        SLACK_API_URL="http://127.0.0.1:9/api",
    )
    config = SlackConfig.from_settings(settings, tier_usergroups="L3=S333")
    assert config.support_channels == {"C1": ChannelMode.ALL, "C2": ChannelMode.MENTION}
    assert config.tier_channels == {Tier.L1: "C111", Tier.L2: "C222"}
    assert config.tier_usergroups == {Tier.L3: "S333"}
    assert config.admins == {"U1", "U2"}
    assert config.api_url == "http://127.0.0.1:9/api/"
    assert config.channel_mode("C999") is None and config.tier_of_channel("C222") is Tier.L2


@pytest.mark.parametrize(
    ("parse", "raw", "named"),
    [
        (parse_support_channels, "C1:sometimes", "C1:sometimes"),
        (lambda raw: parse_tier_map(raw, "TIERLINE_TIER_CHANNELS"), "L4=C1", "L4=C1"),
        (lambda raw: parse_tier_map(raw, "TIERLINE_TIER_CHANNELS"), "L1:C1", "L1:C1"),
    ],
)
def test_bad_entries_are_named(parse, raw: str, named: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SlackConfigError, match=named):
        parse(raw)


def test_missing_tokens_are_explained() -> None:
    with pytest.raises(SlackConfigError, match="SLACK_BOT_TOKEN"):
        SlackConfig.from_settings(Settings(SLACK_BOT_TOKEN=None))
    with pytest.raises(SlackConfigError, match="SLACK_SIGNING_SECRET"):
        SlackConfig.from_settings(
            Settings(SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET=None, SLACK_APP_TOKEN=None)
        )
