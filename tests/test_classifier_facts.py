"""Facts found in free text by rules: stated facts are found, unstated ones stay None (so they get asked)."""

from __future__ import annotations

from bot.triage import extract_facts
from classifier.facts import merge_facts
from classifier.types import Facts


def test_facts_stated_in_a_message_are_found() -> None:
    facts = extract_facts(
        'My MacBook Pro on macOS 14.2 shows the error "The VPN server did not respond". '
        "Only me, I have a workaround via my phone hotspot."
    )
    assert facts.device == "MacBook"
    assert facts.software_version == "macOS 14.2"
    assert facts.error_text == "The VPN server did not respond"
    assert facts.impact == "one"
    assert facts.urgency == "workaround"
    assert facts.missing() == ()


def test_nothing_is_invented_for_a_vague_message() -> None:
    facts = extract_facts("hi, something is weird, can you have a look")
    assert facts.missing() == ("device", "software_version", "error_text", "impact", "urgency")


def test_outage_wording_gives_impact_and_urgency() -> None:
    facts = extract_facts("Outlook is down for everyone in the company and we cannot work")
    assert facts.impact == "everyone"
    assert facts.urgency == "blocking"


def test_error_codes_and_versions_in_other_shapes() -> None:
    facts = extract_facts("Teams 1.6.00 crashes with error code 0x80090016 on Windows 11")
    assert facts.error_text == "0x80090016"
    assert facts.software_version is not None and "11" in facts.software_version


def test_answers_already_given_win_over_the_text() -> None:
    merged = merge_facts(Facts(impact="team"), extract_facts("everyone is affected, no rush"))
    assert merged.impact == "team"
    assert merged.urgency == "low"
