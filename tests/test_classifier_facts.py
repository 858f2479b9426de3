"""Facts found in free text by rules: stated facts are found, unstated ones stay None (so they get asked)."""

from __future__ import annotations

import pytest

from bot.triage import extract_facts
from classifier.facts import (
    describes_fault,
    facts_to_ask,
    is_service_request,
    merge_facts,
    names_app,
    reports_loss,
)
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


@pytest.mark.parametrize(
    ("text", "impact"),
    [
        ("email is down, nobody in the office can work", "everyone"),
        ("nobody on the second floor can get any work done", "many"),
        ("no one in finance can work since this morning", "many"),
    ],
)
def test_nobody_somewhere_able_to_work_is_that_many_people_blocked(text: str, impact: str) -> None:
    facts = extract_facts(text)
    assert (facts.impact, facts.urgency) == (impact, "blocking")


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("Excel freezes on big files", True),
        ("Teams has no sound", True),
        ("the office Wi-Fi is slow", False),
        ("I forgot a word of my password", False),
    ],
)
def test_a_text_names_its_app_only_by_an_apps_own_name(text: str, named: bool) -> None:
    assert names_app(text) is named


def test_cannot_log_into_anything_is_blocking() -> None:
    assert extract_facts("my password expired and now I can't log into anything").urgency == "blocking"
    assert extract_facts("I cannot sign into Teams").urgency == "blocking"


def test_error_codes_and_versions_in_other_shapes() -> None:
    facts = extract_facts("Teams 1.6.00 crashes with error code 0x80090016 on Windows 11")
    assert facts.error_text == "0x80090016"
    assert facts.software_version is not None and "11" in facts.software_version


def test_answers_already_given_win_over_the_text() -> None:
    merged = merge_facts(Facts(impact="team"), extract_facts("everyone is affected, no rush"))
    assert merged.impact == "team"
    assert merged.urgency == "low"


@pytest.mark.parametrize(
    "text",
    [
        "VPN drops every few minutes and there is no workaround",
        "No workaround, the app crashes on start",
        "We don't have a workaround for this",
        "It blocks my work",
        "I'm blocked since this morning",
        "I can’t do my job without the shared drive",  # typographic apostrophe, as Slack sends it
        "I can't do my job",
        "Nothing works after the update",
        "The whole office has no internet, nobody can work",
        "none of us are able to get any work done",
    ],
)
def test_blocked_wording_gives_blocking_urgency(text: str) -> None:
    assert extract_facts(text).urgency == "blocking"


@pytest.mark.parametrize(
    "text",
    [
        "The second monitor flickers, not urgent",
        "It's not urgent, whenever you can",
        "Could you look at it whenever you can?",
        "Not a blocker, just annoying",
        "No rush on this one",
    ],
)
def test_relaxed_wording_gives_low_urgency_even_when_it_names_urgency(text: str) -> None:
    assert extract_facts(text).urgency == "low"


def test_a_workaround_that_exists_is_still_a_workaround() -> None:
    assert (
        extract_facts("Excel crashes, for now I use the web version as a workaround").urgency == "workaround"
    )


@pytest.mark.parametrize(
    "text",
    [
        "Windows 11, just me, I can use webmail",
        "only me; we can use a colleague's laptop until it's fixed",
        "I can use my phone for Teams calls",
    ],
)
def test_another_way_to_work_said_plainly_is_a_workaround(text: str) -> None:
    assert extract_facts(text).urgency == "workaround"


def test_asking_how_to_use_something_is_no_workaround() -> None:
    assert extract_facts("how can I use webmail from home?").urgency is None


@pytest.mark.parametrize(
    ("text", "impact"),
    [
        ("Only me, my colleagues can print fine", "one"),
        ("It is just me, nobody else has it", "one"),
        ("My team cannot open the wiki", "team"),
        ("Everyone on my team gets the same error", "team"),
        ("The whole floor lost Wi-Fi", "many"),
        ("Everyone on the third floor lost Wi-Fi", "many"),
        ("Everyone in the office is affected", "everyone"),
        ("All of sales cannot reach the CRM", "many"),
        ("Everyone in finance sees the login loop", "many"),
        ("Everyone is affected", "everyone"),
        ("Email is down company-wide", "everyone"),
    ],
)
def test_who_is_affected_in_natural_phrasings(text: str, impact: str) -> None:
    assert extract_facts(text).impact == impact


@pytest.mark.parametrize(
    "text",
    [
        "All of my files are gone",
        "All of it is gone",
        "All of the accounts are locked",
        "All of a sudden the screen went black",
    ],
)
def test_all_of_something_that_is_not_a_group_says_nothing_about_impact(text: str) -> None:
    assert extract_facts(text).impact is None


def test_only_me_wins_over_the_people_it_excludes() -> None:
    assert extract_facts("Only me, everyone else in the office is fine").impact == "one"


@pytest.mark.parametrize(
    "text",
    [
        "Here is a screenshot of what I see",  # not a screen
        "Chrome keeps crashing when I open the wiki",
        "The sign-in token expired while I was away",  # an auth token, not a hardware key
        "The displayed total in the report is wrong",
        "My MAC address is blocked on the guest network",
    ],
)
def test_a_device_word_inside_another_word_is_not_a_device(text: str) -> None:
    assert extract_facts(text).device is None


@pytest.mark.parametrize(
    ("text", "device"),
    [
        ("Outlook for Mac 16.80 keeps crashing", "Mac"),
        ("My work computer will not start", "computer"),
        ("The YubiKey is not recognised", "security key"),
        ("Both screens are black", "monitor"),
        ("我的笔记本连不上网", "laptop"),
    ],
)
def test_devices_people_name(text: str, device: str) -> None:
    assert extract_facts(text).device == device


def test_app_for_mac_version_is_the_software_version() -> None:
    assert extract_facts("Outlook for Mac 16.80 keeps crashing").software_version == "Outlook for Mac 16.80"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("Outlook shows the error “Can’t connect to server”", "Can’t connect to server"),  # Slack's quotes
        ("It says 'can't open file' every time", "can't open file"),
        ('The dialog says "Access denied"', "Access denied"),
    ],
)
def test_quoted_error_messages_keep_their_apostrophes(text: str, error: str) -> None:
    assert extract_facts(text).error_text == error


def test_apostrophes_in_ordinary_words_are_not_quotes() -> None:
    facts = extract_facts("The error window won't open and I can't see the message, it doesn't say")
    assert facts.error_text is None


def test_facts_in_a_chinese_message_with_latin_names() -> None:
    facts = extract_facts("我的MacBook上Outlook 16.8报错0x800CCC0E，无法发送邮件")
    assert facts.device == "MacBook"
    assert facts.software_version == "Outlook 16.8"
    assert facts.error_text == "0x800CCC0E"


@pytest.mark.parametrize(
    ("text", "impact"),
    [
        ("Everyone else on my team has the same issue", "team"),
        ("Everyone else is fine, only my laptop", "one"),
        ("所有人都连不上VPN", "many"),
        ("全部门都打不开共享盘", "many"),
        ("整个团队都收不到邮件", "many"),
        ("只有我一个人这样", "one"),
    ],
)
def test_who_else_is_affected_in_more_phrasings(text: str, impact: str) -> None:
    assert extract_facts(text).impact == impact


@pytest.mark.parametrize(
    ("text", "urgency"),
    [
        ("电脑坏了，无法工作", "blocking"),
        ("很紧急，客户在等", "blocking"),
        ("不紧急，有空再看", "low"),  # contains 紧急 but says the opposite
        ("没有临时办法", "blocking"),
        ("暂时可以用网页版", "workaround"),
        ("Windows 11，只有我一个人，可以用网页版", "workaround"),
        ("邮件客户端还能用，就是很慢", "workaround"),
        ("不能用网页版，也打不开客户端", None),  # can NOT use the web version: no workaround
    ],
)
def test_chinese_urgency(text: str, urgency: str | None) -> None:
    assert extract_facts(text).urgency == urgency


def test_an_error_line_is_found_after_thousands_of_blank_lines() -> None:
    text = "my vpn" + "\n" * 40_000 + "error: 809 the network connection could not be established"
    assert "809" in (extract_facts(text).error_text or "")


@pytest.mark.parametrize(
    ("paste", "error"),
    [
        (
            "Client log:\n2025-03-04 10:01:22 [ERROR] AnyConnect: The VPN connection was disconnected\n"
            "2025-03-04 10:01:23 [INFO] reconnecting\nanyway my vpn keeps dropping",
            "AnyConnect: The VPN connection was disconnected",
        ),
        ("10:01:09 host app FATAL: cannot open the settings database\n", "cannot open the settings database"),
        (
            'Exception in thread "main" javax.net.ssl.SSLHandshakeException: PKIX path building failed\n'
            "\tat sun.security.ssl.Alerts.getSSLException(Alerts.java:192)\nour tool cannot connect",
            "javax.net.ssl.SSLHandshakeException: PKIX path building failed",
        ),
        (
            'Traceback (most recent call last):\n  File "sync.py", line 3, in <module>\n'
            "PermissionError: [Errno 13] Permission denied: 'S:/reports'",
            "PermissionError: [Errno 13] Permission denied: 'S:/reports'",
        ),
    ],
)
def test_the_error_in_a_pasted_log_or_stack_trace_is_found(paste: str, error: str) -> None:
    """Someone who pasted the log has given the error: the ticket must not ask them for it."""
    facts = extract_facts(paste)
    assert facts.error_text == error
    assert "error_text" not in facts.missing()


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("it says access denied when I open the S: drive", "access denied"),
        ("Outlook says cannot connect to server", "cannot connect to server"),
        ("it said my account is locked.", "my account is locked"),
        ("the screen shows no signal", "no signal"),
        ("it says Microsoft Excel has stopped working, on Windows 11", "Microsoft Excel has stopped working"),
        ("printer on 2nd floor says offline", "offline"),
        ("the Wi-Fi icon shows no internet access since this morning", "no internet access"),
    ],
)
def test_an_unquoted_message_after_it_says_is_the_error_text(text: str, error: str) -> None:
    assert extract_facts(text).error_text == error


@pytest.mark.parametrize(
    "text",
    ["it shows my calendar twice", "Teams shows my status as away", "Teams shows my status as offline"],
)
def test_what_a_screen_shows_is_no_error_text_unless_it_reads_like_one(text: str) -> None:
    assert extract_facts(text).error_text is None


@pytest.mark.parametrize("text", ["I got an error when printing", "there was an Error on my screen today"])
def test_the_word_error_in_prose_is_no_error_text(text: str) -> None:
    assert extract_facts(text).error_text is None


@pytest.mark.parametrize(
    "text",
    [
        "I need a new monitor for my desk",
        "Please grant me access to the finance share",
        "Can I get a second docking station?",
        "We have a new starter on Monday who needs a laptop",
        "I would like Visio installed",
        "我想申请一台新的显示器",
    ],
)
def test_a_service_request_is_asked_none_of_the_fault_facts(text: str) -> None:
    assert is_service_request(text)
    assert facts_to_ask(text, extract_facts(text)) == ()


@pytest.mark.parametrize(
    "text",
    [
        "I need help, Outlook keeps crashing",
        "I need access to the shared drive, it says access denied",
        "Can I get a new laptop? Mine is broken",
        "I need the meeting room screen fixed, it shows no signal",
        "我需要帮助，打印机无法打印",
    ],
)
def test_a_fault_worded_as_a_request_is_still_asked_about(text: str) -> None:
    assert not is_service_request(text)
    assert "impact" in facts_to_ask(text, extract_facts(text))


def test_an_outage_for_many_people_is_not_asked_about_one_persons_device() -> None:
    text = "the CRM is down for everyone in sales"
    assert facts_to_ask(text, extract_facts(text)) == ("error_text", "urgency")
    one = "the CRM is down on my laptop"
    assert "device" not in facts_to_ask(one, extract_facts(one))  # given: "laptop"
    assert "software_version" in facts_to_ask(one, extract_facts(one))


def test_only_the_facts_not_given_are_asked_and_no_version_for_a_monitor() -> None:
    assert facts_to_ask("my laptop fan is very loud", extract_facts("my laptop fan is very loud")) == (
        "software_version",
        "error_text",
        "impact",
        "urgency",
    )
    assert facts_to_ask("my monitor flickers", extract_facts("my monitor flickers")) == (
        "error_text",
        "impact",
        "urgency",
    )


@pytest.mark.parametrize(
    "text",
    ["my laptop won't turn on", "the desktop is completely dead, no lights", "我的笔记本开不了机"],
)
def test_a_device_that_does_not_power_on_is_not_asked_for_a_version_or_an_error_message(text: str) -> None:
    asked = facts_to_ask(text, extract_facts(text))
    assert "software_version" not in asked and "error_text" not in asked
    assert "impact" in asked


@pytest.mark.parametrize(
    "text", ["I lost my work phone on the train", "my laptop was stolen from my car", "我的手机丢了"]
)
def test_a_lost_or_stolen_device_is_not_asked_for_a_version_or_an_error_message(text: str) -> None:
    assert reports_loss(text)
    asked = facts_to_ask(text, extract_facts(text))
    assert "software_version" not in asked and "error_text" not in asked


@pytest.mark.parametrize(
    "text",
    ["I lost wifi on my laptop", "my laptop lost its connection to the VPN", "I left my laptop at home"],
)
def test_losing_a_connection_is_no_lost_device(text: str) -> None:
    assert not reports_loss(text)


def test_an_os_version_given_says_the_device() -> None:
    text = "my teams keeps crashing\nWindows 11"
    asked = facts_to_ask(text, extract_facts(text))
    assert "device" not in asked and "software_version" not in asked
    app_only = "teams 24.1 keeps crashing"  # an app's version says nothing of the device
    assert "device" in facts_to_ask(app_only, extract_facts(app_only))


def test_an_app_that_will_not_start_is_still_asked_for_its_version() -> None:
    text = "Outlook won't start on my laptop"
    assert "software_version" in facts_to_ask(text, extract_facts(text))


@pytest.mark.parametrize(
    "text",
    ["my laptop does not turn on", "the vpn will not connect", "it did not print", "Teams doesn't start"],
)
def test_a_fault_spelled_out_reads_as_one_as_its_contraction_does(text: str) -> None:
    assert describes_fault(text)


@pytest.mark.parametrize(
    "text", ["the printer on floor 3 keeps jamming", "printer toner is empty", "打印机卡纸了"]
)
def test_a_printers_paper_or_toner_is_not_asked_for_an_app_or_os_version(text: str) -> None:
    asked = facts_to_ask(text, extract_facts(text))
    assert "software_version" not in asked and "impact" in asked


def test_a_printer_driver_problem_is_still_asked_for_the_os_version() -> None:
    text = "the printer driver will not install on my laptop"
    assert "software_version" in facts_to_ask(text, extract_facts(text))
