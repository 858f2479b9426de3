"""Slack settings are parsed once, and a typo stops start-up with a sentence naming the entry."""

from __future__ import annotations

from urllib.error import URLError

import pytest
from slack_bolt.error import BoltError

from bot.settings import Settings
from bot.slack.config import (
    ChannelMode,
    SlackConfig,
    SlackConfigError,
    explain_startup_error,
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
    assert config.channel_mode("C999") is ChannelMode.MENTION  # @mentions are answered anywhere
    assert config.tier_of_channel("C222") is Tier.L2
    quiet = SlackConfig.from_settings(settings.model_copy(update={"slack_mentions_anywhere": False}))
    assert quiet.channel_mode("C999") is None and quiet.channel_mode("C2") is ChannelMode.MENTION


@pytest.mark.parametrize(
    ("parse", "raw", "named"),
    [
        (parse_support_channels, "C1:sometimes", "C1:sometimes"),
        (lambda raw: parse_tier_map(raw, "TIERLINE_TIER_CHANNELS"), "L4=C1", "L4=C1"),
        (lambda raw: parse_tier_map(raw, "TIERLINE_TIER_CHANNELS"), "L1:C1", "L1:C1"),
        # ';' instead of ',': not a channel "C1;L2=C2" for L1
        (
            lambda raw: parse_tier_map(raw, "TIERLINE_TIER_CHANNELS"),
            "L1=C1;L2=C2",
            "'C1;L2=C2' is not a Slack id",
        ),
        # the same tier twice: neither entry is silently dropped
        (
            lambda raw: parse_tier_map(raw, "TIERLINE_TIER_USERGROUPS"),
            "L1=S1,l1=S2",
            r"names L1 twice \(L1=S1 and l1=S2\)",
        ),
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


def test_slack_start_up_failures_name_the_setting_to_check() -> None:
    refused = BoltError("`token` is invalid (auth.test result: {'ok': False, 'error': 'invalid_auth'})")
    assert "check SLACK_BOT_TOKEN" in (explain_startup_error(refused) or "")
    unreachable = URLError(ConnectionRefusedError(111, "Connection refused"))
    assert "check SLACK_API_URL" in (explain_startup_error(unreachable) or "")
    assert explain_startup_error(KeyError("a bug")) is None  # a bug keeps its traceback
