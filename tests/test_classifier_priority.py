"""ITIL priority: the matrix decides when impact and urgency are known; outage wording raises a guess."""

from __future__ import annotations

import pytest

from classifier.priority import (
    DEFAULT_MATRIX,
    IMPACTS,
    PRIORITIES,
    URGENCIES,
    decide_priority,
    matrix_priority,
    reports_compromise,
    reports_widespread_outage,
    validate_matrix,
)


def test_default_matrix_covers_every_pair_and_grows_with_impact_and_urgency() -> None:
    validate_matrix(DEFAULT_MATRIX)
    for urgency in URGENCIES:
        ranks = [PRIORITIES.index(matrix_priority(i, urgency)) for i in IMPACTS]
        assert ranks == sorted(ranks, reverse=True), f"more people affected never lowers priority ({urgency})"
    for impact in IMPACTS:
        ranks = [PRIORITIES.index(matrix_priority(impact, u)) for u in URGENCIES]
        assert ranks == sorted(ranks, reverse=True), f"more urgency never lowers priority ({impact})"
    assert matrix_priority("everyone", "blocking") == "critical"
    assert matrix_priority("one", "low") == "low"


def test_answered_impact_and_urgency_override_the_model() -> None:
    priority, reason, by_matrix = decide_priority("low", "printer is slow", "many", "blocking")
    assert (priority, by_matrix) == ("critical", True)
    assert "impact many" in reason and "urgency blocking" in reason


def test_a_replacement_matrix_is_used_and_an_incomplete_one_refused() -> None:
    flat = {key: "medium" for key in DEFAULT_MATRIX}
    assert decide_priority("low", "x", "everyone", "blocking", flat)[0] == "medium"
    broken = dict(flat)
    del broken[("team", "low")]
    with pytest.raises(ValueError, match="impact=team, urgency=low"):
        validate_matrix(broken)


def test_without_answers_the_model_stands_unless_the_wording_says_outage() -> None:
    assert decide_priority("medium", "my mouse is a bit slow", None, None)[0] == "medium"
    raised, reason, _ = decide_priority("medium", "email is down for everyone, we cannot work", None, None)
    assert PRIORITIES.index(raised) < PRIORITIES.index("medium")
    assert "outage wording" in reason
    assert decide_priority("critical", "everyone is down", None, None)[0] == "critical"


@pytest.mark.parametrize(
    "text",
    ["my laptop won't turn on, I can't work", "my screen stays black and I am unable to work"],
)
def test_one_person_blocked_is_raised_to_high_but_never_to_critical_by_wording(text: str) -> None:
    assert decide_priority("high", text, None, None)[0] == "high"
    assert decide_priority("medium", text, None, None)[0] == "high"
    assert decide_priority("critical", text, None, None)[0] == "critical"  # the model's own guess stands


def test_one_answer_alone_does_not_invoke_the_matrix() -> None:
    assert decide_priority("low", "question about fonts", "everyone", None) == ("low", "model: low", False)


@pytest.mark.parametrize(
    "text",
    [
        "Alle Mitarbeiter können nicht arbeiten, das Netzwerk ist komplett ausgefallen",
        "整个公司都无法上网，网络中断",
        "the whole office is down, nobody can work",
    ],
)
def test_an_outage_is_heard_in_english_german_and_chinese(text: str) -> None:
    assert decide_priority("medium", text, None, None)[0] == "critical"


@pytest.mark.parametrize(
    "text",
    [
        "only my laptop is affected, not everyone",
        "nobody answered my last ticket about a mouse",
        "just me: my screen is down to 800x600 since the update",
        "Störung im Drucker im 2. Stock",
        "nobody can hear me in Teams calls since this morning",
        "no one can see my screen when I share it",
        "niemand kann mich in Teams hören",
        "会议里没有人能听到我说话",
    ],
)
def test_one_persons_problem_is_not_an_outage(text: str) -> None:
    assert decide_priority("medium", text, None, None)[0] == "medium"


def test_nobody_able_to_do_something_is_still_an_outage() -> None:
    for text in ("nobody can log in to the VPN", "niemand kann drucken", "没有人能打印"):
        assert decide_priority("medium", text, None, None)[0] == "high", text


@pytest.mark.parametrize(
    ("text", "widespread"),
    [
        ("the whole office has no internet", True),
        ("nobody can log in to the VPN", True),
        ("email is down and we cannot work", True),
        ("所有人都上不了网", True),
        ("no one on the 3rd floor can print", True),
        ("none of us can reach the wiki", True),
        ("teams calls keep dropping, whole sales team affected", True),  # a group named in between
        ("the entire finance department has no email", True),
        ("I read the whole support article", False),
        ("I can't log in", False),
        ("nobody can hear me in Teams", False),
        ("my laptop is down", False),
        ("it's down only for me, nobody else", False),
    ],
)
def test_a_widespread_outage_is_many_people_or_two_kinds_of_outage_wording(
    text: str, widespread: bool
) -> None:
    assert reports_widespread_outage(text) is widespread


@pytest.mark.parametrize(
    "text",
    [
        "I clicked a link in a phishing email and entered my password",
        "my account was hacked",
        "I think my laptop has a virus",
        "someone logged into my account from another country",
        "all my files are encrypted and there is a ransom note",
        "I gave my password to a fake IT support caller",
        "我点了钓鱼邮件里的链接",
        "电脑中毒了",
    ],
)
def test_a_possible_compromise_is_at_least_high_whatever_the_model_or_the_matrix_says(text: str) -> None:
    assert reports_compromise(text)
    priority, reason, by_matrix = decide_priority("low", text, None, None)
    assert priority == "high" and "compromise" in reason and not by_matrix
    # "only me, I can still work" puts one person's problem at low, not an attacker's access.
    assert decide_priority("low", text, "one", "workaround")[0] == "high"
    assert decide_priority("critical", text, None, None)[0] == "critical"  # never lowered


@pytest.mark.parametrize(
    "text",
    [
        "I received a phishing email, how do I report it",
        "how do I run a virus scan",
        "I got a suspicious sign-in alert",
        "is this email fake?",
    ],
)
def test_a_suspicious_email_received_or_a_question_about_security_is_no_compromise(text: str) -> None:
    assert not reports_compromise(text)
    assert decide_priority("low", text, None, None)[0] == "low"
