"""People's own words shown to others stay words: no links in disguise, no @channel pings."""

from __future__ import annotations

import json

from bot.slack import blocks
from tests.slack.conftest import ENGINEER_L1, L1_CHANNEL, REQUESTER, SUPPORT, Stack, hand_off

DISGUISED = "<https://evil.example/login|https://sso.corp.example> <!channel> VPN keeps disconnecting"


def _home_of(stack: Stack, user: str) -> str:
    before = len(stack.fake.calls_to("views.publish"))
    stack.driver.send_event({"type": "app_home_opened", "user": user, "channel": "DHOME00001", "tab": "home"})
    stack.fake.wait_for(lambda: len(stack.fake.calls_to("views.publish")) > before, what="home view")
    return json.dumps(stack.fake.calls_to("views.publish")[-1].args["view"])


def test_a_subject_that_looks_like_a_link_or_a_ping_is_shown_as_typed_on_app_home(stack: Stack) -> None:
    stack.driver.submit_view(
        REQUESTER,
        blocks.REPORT_VIEW,
        {"subject": DISGUISED, "details": "since Monday"},  # form values arrive as typed
        json.dumps({"channel": None}),
    )
    stack.fake.wait_for(lambda: stack.fake.posts(L1_CHANNEL), what="card")
    for person in (REQUESTER, ENGINEER_L1):
        home = _home_of(stack, person)
        assert "<https://evil.example" not in home and "<!channel>" not in home, person
        assert "&lt;https://evil.example" in home


def test_a_category_that_is_not_on_the_menu_is_refused(stack: Stack) -> None:
    number, _ = hand_off(stack, SUPPORT, DISGUISED)
    card = stack.fake.posts(L1_CHANNEL)[0]
    before = stack.ticket(number).category
    stack.driver.click(
        ENGINEER_L1,
        blocks.CORRECT_CATEGORY,
        "",
        channel=L1_CHANNEL,
        message_ts=card.ts,
        selected=f"{number}|<!channel> pwned",
    )
    refusal = stack.fake.wait_for(lambda: stack.fake.calls_to("chat.postEphemeral"), what="refusal")[0]
    assert "not a category" in str(refusal.args["text"])
    assert stack.ticket(number).category == before


def test_a_category_on_a_card_is_shown_as_text() -> None:
    _, body = blocks.ticket_card(
        number="IT-1001",
        subject="VPN",
        body="drops",
        category="<!channel> imported",
        priority="high",
        tier="L1",
        status="new",
        requester="<@U1>",
        assignee=None,
        response_due=None,
        categories=[],
    )
    assert "<!channel>" not in json.dumps(body) and "&lt;!channel&gt; imported" in json.dumps(body)
