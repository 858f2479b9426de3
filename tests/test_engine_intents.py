"""Which short messages are read as feedback, a request for a person or small talk — and which stay
questions. Only whole messages count: a question that happens to contain "thanks" is a question."""

from __future__ import annotations

import pytest

from bot import intents
from bot.intents import Intent, read_intent


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("thanks, that fixed it!", Intent.SOLVED),
        ("That worked 👍", Intent.SOLVED),
        ("好了，谢谢", Intent.SOLVED),
        ("that didn’t work", Intent.NOT_SOLVED),  # typographic apostrophe, as Slack sends it
        ("Still not working.", Intent.NOT_SOLVED),
        ("还是不行", Intent.NOT_SOLVED),
        ("I'd like to speak with a real person", Intent.HUMAN),
        ("can I speak to someone from IT please", Intent.HUMAN),
        ("我要转人工", Intent.HUMAN),
        ("Hello?", Intent.GREETING),
        ("good morning team", Intent.GREETING),
        ("Thank you so much!", Intent.THANKS),
        ("ok, I'll try that", Intent.ACK),
        ("never mind, sorted it", Intent.CLOSE),
        ("算了", Intent.CLOSE),
        ("yes", Intent.YES),
        ("no", Intent.NO),
        ("👍", Intent.YES),  # emoji as typed on a phone, and as Slack writes them in the text
        (":+1::skin-tone-3:", Intent.YES),
        ("✅ fixed", Intent.SOLVED),
        ("👎", Intent.NO),
        (":pray:", Intent.THANKS),
        ("actually, can I talk to a person", Intent.HUMAN),  # after "solved": it was not, after all
        ("Actually I need a human instead", Intent.HUMAN),
        ("just escalate it please", Intent.HUMAN),
        ("actually it's not fixed", Intent.NOT_SOLVED),
        ("in that case, never mind", Intent.CLOSE),
    ],
)
def test_short_messages_are_read_for_what_they_mean(text: str, intent: Intent) -> None:
    assert read_intent(text) is intent


@pytest.mark.parametrize(
    "text",
    [
        "thanks, my vpn still drops every 5 minutes",
        "hi, my laptop will not start",
        "my printer is not working",
        "how do I talk to someone outside the company in Teams",
        "还是不行，屏幕黑了",
        "ok so the VPN asks for my password every hour",
        "actually my second monitor is not working either",
        "also the printer on floor 2 is not working",
    ],
)
def test_questions_containing_those_words_stay_questions(text: str) -> None:
    assert read_intent(text) is None


def test_a_wall_of_thanks_is_a_message_to_read_not_a_phrase_to_match() -> None:
    """Only short messages are phrases ("谢谢", "thanks, that fixed it"); a 40,000-character paste
    is not read as one (matching it against the phrase patterns cost seconds per message)."""
    assert read_intent("谢谢" * 3) is Intent.THANKS
    assert read_intent("谢谢" * 20_000 + "X") is None


@pytest.mark.parametrize(
    "text", ["what's the weather like tomorrow?", "tell me a joke", "where is the canteen", "明天天气怎么样"]
)
def test_chatter_is_told_apart(text: str) -> None:
    assert intents.is_chatter(text) and not intents.mentions_it(text)


@pytest.mark.parametrize(
    "text",
    [
        "My monitor shows strange green lines",
        "The Wi-Fi is slow",
        "Outlook keeps asking for my password",
        "the IT portal",
        "I need some help",
        "打印机卡纸了",
    ],
)
def test_it_words_are_found(text: str) -> None:
    assert intents.mentions_it(text)


@pytest.mark.parametrize(
    "text",
    [
        "change project manager role oracle",
        "port opening for the subcontractor machines",
        "something is weird",
    ],
)
def test_real_requests_without_it_words_are_no_chatter(text: str) -> None:
    assert not intents.is_chatter(text)


@pytest.mark.parametrize(
    ("text", "rating"),
    [
        ("5", (5, "")),
        ("4/5", (4, "")),
        ("4 out of 5", (4, "")),
        ("5 stars", (5, "")),
        ("I'd give it a 4", (4, "")),
        ("3 - took a while", (3, "took a while")),
        ("5/5 great job", (5, "great job")),
        ("⭐⭐⭐ ok", (3, "ok")),
        ("5分", (5, "")),
        ("2 more laptops have the same issue", None),  # news, not a rating
        ("3 people are affected", None),
        ("1, it is still broken", None),  # the problem is back: no rating
        ("10", None),
        ("0", None),
    ],
)
def test_a_typed_rating_is_told_from_a_message_that_starts_with_a_number(
    text: str, rating: tuple[int, str] | None
) -> None:
    assert intents.typed_rating(text) == rating


@pytest.mark.parametrize(
    ("text", "follows"),
    [
        ("I don't see the option you mention", True),
        ("step 3 gives me an error", True),
        ("already tried that, no luck", True),
        ("how do I book a parking space", False),
        ("where do I find the option to change my signature", False),
    ],
)
def test_words_that_point_back_at_the_answer_continue_its_case(text: str, follows: bool) -> None:
    assert intents.is_follow_up(text) is follows


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("what's the status of IT-1937?", "IT-1937"),
        ("any update on it-12", "IT-12"),
        ("IT-12?", "IT-12"),
        ("status of ticket IT-99 please", "IT-99"),
        ("is anyone looking at IT-5?", "IT-5"),
        ("when will IT-3 be fixed", "IT-3"),
        ("where is my request IT-9", "IT-9"),
        ("IT-2进展如何", "IT-2"),
    ],
)
def test_a_status_question_names_its_ticket(text: str, number: str) -> None:
    assert intents.named_ticket(text) == number


@pytest.mark.parametrize(
    "text",
    [
        "IT-5 still not working, the vpn drops again",  # more about the problem: not a status question
        "my windows-10 laptop will not boot",
        "IT-1 and IT-2 status",  # two tickets: not one to describe
        "reopen IT-3",
        "wifi-5 is slow in room 4",
    ],
)
def test_a_number_inside_other_words_is_no_status_question(text: str) -> None:
    assert intents.named_ticket(text) is None


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("please close IT-1937, it works now", "IT-1937"),
        ("cancel it-3 please", "IT-3"),
        ("IT-12 can be closed, thanks", "IT-12"),
        ("you can close ticket IT-4, not needed anymore", "IT-4"),
        ("withdraw my request IT-5", "IT-5"),
        ("关闭IT-2吧", "IT-2"),  # the number straight after Chinese
    ],
)
def test_a_request_to_close_names_its_ticket(text: str, number: str) -> None:
    assert intents.close_request(text) == number


@pytest.mark.parametrize(
    "text",
    [
        "close IT-3? it still drops",
        "IT-3 is still broken, please do not close it",
        "reopen IT-3",
        "close IT-3 and IT-4",
        "I cannot close the window that IT-3 opened",
    ],
)
def test_other_words_with_a_number_are_no_request_to_close(text: str) -> None:
    assert intents.close_request(text) is None
