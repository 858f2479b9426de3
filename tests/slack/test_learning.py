"""The learning loop in Slack: similar tickets on the card, KB drafts from resolved cards, spike
alerts in the L3 channel with "Declare major incident", and the learning figures on the admin home.

Runs over the real-HTTP fake Slack with the bag-of-words encoder (tests/learning/fakes.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from bot.learning.incidents import declare_incident
from bot.learning.spikes import sweep_spikes
from bot.settings import Settings
from bot.slack import blocks
from bot.slack.learning import LearningHooks
from bot.workflow.outbox import deliver_pending
from models import (
    AlertStatus,
    DraftStatus,
    IncidentTicket,
    KBDraft,
    MajorIncident,
    Role,
    SpikeAlert,
    TicketLink,
    TicketStatus,
    Tier,
    User,
    utcnow,
)
from models.db import transaction
from tests.conftest import TestDatabase
from tests.learning import factories as make
from tests.learning.fakes import BagOfWordsEncoder
from tests.slack.conftest import (
    ADMIN,
    ENGINEER_L1,
    L1_CHANNEL,
    L3_CHANNEL,
    REQUESTER,
    SUPPORT,
    Stack,
    build_stack,
    hand_off,
)
from tests.slack.fake_slack import FakeSlack

VPN = "The VPN keeps disconnecting on my laptop"


def element_ids(call_blocks: list[dict[str, Any]]) -> set[str]:
    """action_ids of buttons and menus, in actions blocks and as section accessories."""
    ids = {e.get("action_id") for b in call_blocks if b["type"] == "actions" for e in b["elements"]}
    ids |= {b["accessory"].get("action_id") for b in call_blocks if "accessory" in b}
    return {i for i in ids if i}


def ephemerals_to(stack: Stack, user: str) -> list[str]:
    calls = stack.fake.calls_to("chat.postEphemeral")
    return [str(c.args.get("text")) for c in calls if c.args["user"] == user]


def _resolved_vpn_ticket(stack: Stack) -> str:
    with transaction(stack.db.sessions) as session:
        ticket = make.ticket(
            session,
            "VPN keeps disconnecting on laptop",
            at=utcnow() - timedelta(days=2),
            status=TicketStatus.RESOLVED,
            resolution="Reinstalled the VPN client and reset the network adapter",
        )
        return str(ticket.number)


def _stop(stack: Stack) -> None:
    stack.fake.settle(quiet=0.2, timeout=5)
    stack.server.shutdown()
    stack.server.server_close()
    assert stack.fake.problems == [], stack.fake.problems
    assert stack.errors == [], stack.errors


# ---------------------------------------------------------------------------- similar tickets
def test_card_shows_a_similar_resolved_ticket_with_its_fix_and_marks_duplicates(stack: Stack) -> None:
    earlier = _resolved_vpn_ticket(stack)
    number, _ = hand_off(stack, text=VPN)
    card = stack.fake.posts(L1_CHANNEL)[0]
    text = json.dumps(card.args["blocks"])
    assert earlier in text and "Reinstalled the VPN client" in text
    assert blocks.LINK_DUPLICATE in element_ids(card.args["blocks"])

    stack.driver.click(
        REQUESTER, blocks.LINK_DUPLICATE, f"{number}|{earlier}", channel=L1_CHANNEL, message_ts=card.ts
    )
    stack.fake.wait_for(lambda: ephemerals_to(stack, REQUESTER), what="refusal")
    stack.driver.click(
        ENGINEER_L1, blocks.LINK_DUPLICATE, f"{number}|{earlier}", channel=L1_CHANNEL, message_ts=card.ts
    )
    stack.fake.wait_for(
        lambda: any("duplicate of" in t for t in ephemerals_to(stack, ENGINEER_L1)), what="confirmation"
    )
    with transaction(stack.db.sessions) as session:
        links = list(session.scalars(select(TicketLink)))
        assert [link.kind for link in links] == ["duplicate"]
        marker = session.get(User, links[0].created_by_id)
        assert marker is not None and marker.external_id == ENGINEER_L1


class BrokenEncoder(BagOfWordsEncoder):
    def _encode(self, texts: list[str]) -> np.ndarray:
        raise RuntimeError("embedding service down")


@pytest.fixture
def broken_stack(db: TestDatabase, fake: FakeSlack) -> Iterator[Stack]:
    built = build_stack(db, fake, learning=LearningHooks(settings=Settings(), encoder=BrokenEncoder()))
    try:
        yield built
    finally:
        _stop(built)


def test_a_failing_similarity_search_never_blocks_the_card(broken_stack: Stack) -> None:
    _resolved_vpn_ticket(broken_stack)
    number, _ = hand_off(broken_stack, text=VPN)
    card = broken_stack.fake.posts(L1_CHANNEL)[0]
    assert number in card.args["text"]
    assert blocks.CLAIM in element_ids(card.args["blocks"])
    assert blocks.LINK_DUPLICATE not in element_ids(card.args["blocks"])


# ---------------------------------------------------------------------------- KB drafts
class RecordingReindex:
    """Stands in for the incremental re-index: remembers that it ran (the KB tests cover indexing)."""

    def __init__(self) -> None:
        self.runs = 0

    def __call__(self, session: object) -> object:
        self.runs += 1
        return None


@pytest.fixture
def publishing_stack(db: TestDatabase, fake: FakeSlack, tmp_path: Path) -> Iterator[tuple[Stack, Path, Any]]:
    reindex = RecordingReindex()
    hooks = LearningHooks(
        settings=Settings(),
        encoder=BagOfWordsEncoder(),
        reindex=reindex,
        published_dir=tmp_path / "kb_published",
    )
    built = build_stack(db, fake, learning=hooks)
    try:
        yield built, tmp_path / "kb_published", reindex
    finally:
        _stop(built)


def _resolve(stack: Stack, number: str, card_ts: str) -> None:
    stack.driver.click(ENGINEER_L1, blocks.CLAIM, number, channel=L1_CHANNEL, message_ts=card_ts)
    stack.fake.wait_for(lambda: stack.ticket(number).status.value == "in_progress", what="claim")
    stack.driver.click(ENGINEER_L1, blocks.RESOLVE, number, channel=L1_CHANNEL, message_ts=card_ts)
    stack.fake.wait_for(lambda: stack.fake.calls_to("views.open"), what="resolve modal")
    stack.driver.submit_view(
        ENGINEER_L1, blocks.RESOLVE_VIEW, {"resolution": "Switched the VPN profile to TCP 443"}, number
    )
    stack.fake.wait_for(lambda: stack.ticket(number).status.value == "resolved", what="resolved")


def test_resolved_card_creates_a_kb_draft_and_an_admin_approves_it(
    publishing_stack: tuple[Stack, Path, RecordingReindex],
) -> None:
    stack, published, reindex = publishing_stack
    number, _ = hand_off(stack, text=VPN)
    card = stack.fake.posts(L1_CHANNEL)[0]
    assert blocks.CREATE_DRAFT not in element_ids(card.args["blocks"])  # not resolved yet
    _resolve(stack, number, card.ts)
    resolved_card = stack.fake.wait_for(
        lambda: [
            c
            for c in stack.fake.calls_to("chat.update")
            if c.args["ts"] == card.ts and blocks.CREATE_DRAFT in element_ids(c.args["blocks"])
        ],
        what="resolved card with the draft button",
    )
    assert resolved_card

    stack.driver.click(REQUESTER, blocks.CREATE_DRAFT, number, channel=L1_CHANNEL, message_ts=card.ts)
    stack.fake.wait_for(lambda: ephemerals_to(stack, REQUESTER), what="requester refused")
    stack.driver.click(ENGINEER_L1, blocks.CREATE_DRAFT, number, channel=L1_CHANNEL, message_ts=card.ts)
    told = stack.fake.wait_for(
        lambda: [
            c
            for c in stack.fake.calls_to("chat.postEphemeral")
            if c.args["user"] == ENGINEER_L1 and "KB draft #" in str(c.args.get("text"))
        ],
        what="draft notice",
    )[0]
    with transaction(stack.db.sessions) as session:
        draft = session.scalars(select(KBDraft)).one()
        draft_id = draft.id
    assert f"tierline kb drafts approve {draft_id}" in told.args["text"]
    assert blocks.APPROVE_DRAFT not in element_ids(told.args["blocks"])  # engineers do not publish

    stack.driver.click(ADMIN, blocks.CREATE_DRAFT, number, channel=L1_CHANNEL, message_ts=card.ts)
    for_admin = stack.fake.wait_for(
        lambda: [c for c in stack.fake.calls_to("chat.postEphemeral") if c.args["user"] == ADMIN],
        what="admin notice",
    )[0]
    assert f"KB draft #{draft_id}" in for_admin.args["text"]  # the same pending draft, not a second one
    assert blocks.APPROVE_DRAFT in element_ids(for_admin.args["blocks"])
    # the admin reads the draft itself before the button that publishes it
    assert draft.body.split("\n")[0][:40] in for_admin.args["blocks"][1]["text"]["text"]
    stack.driver.click(ENGINEER_L1, blocks.APPROVE_DRAFT, str(draft_id), channel=L1_CHANNEL)
    stack.driver.click(ADMIN, blocks.APPROVE_DRAFT, str(draft_id), channel=L1_CHANNEL)
    stack.fake.wait_for(
        lambda: any("published" in t for t in ephemerals_to(stack, ADMIN)), what="published notice"
    )
    with transaction(stack.db.sessions) as session:
        drafts = list(session.scalars(select(KBDraft)))
        assert [d.status for d in drafts] == [DraftStatus.APPROVED]
    files = list(published.glob("*.md"))
    assert len(files) == 1 and "TCP 443" in files[0].read_text()
    assert reindex.runs == 1
    assert any("admins" in t for t in ephemerals_to(stack, ENGINEER_L1))


def test_draft_refusals_are_explained(stack: Stack) -> None:
    number, _ = hand_off(stack, text=VPN)
    stack.driver.click(ENGINEER_L1, blocks.CREATE_DRAFT, number, channel=L1_CHANNEL)
    stack.fake.wait_for(
        lambda: any("resolve it before drafting" in t for t in ephemerals_to(stack, ENGINEER_L1)),
        what="not resolved refusal",
    )
    with transaction(stack.db.sessions) as session:
        assert session.scalars(select(KBDraft)).first() is None


# ---------------------------------------------------------------------------- spike alerts
BURST = [
    "VPN disconnects every few minutes at home",
    "VPN disconnects every few minutes from home office",
    "VPN disconnects every few minutes since this morning",
    "Home VPN disconnects every few minutes",
    "VPN disconnects every few minutes, please help",
]


def _spike(stack: Stack) -> int:
    now = utcnow()
    with transaction(stack.db.sessions) as session:
        for i, subject in enumerate(BURST):
            person = make.user(session, f"USPIKE{i:04d}")
            make.ticket(session, subject, at=now - timedelta(minutes=20 - i), requester=person)
        l3 = make.user(session, "UENGINL301", role=Role.ENGINEER, tiers=(Tier.L3,))
        assert l3.id
    report = sweep_spikes(
        stack.db.sessions, now=now, encoder=BagOfWordsEncoder(), min_tickets=len(BURST), similarity=0.5
    )
    assert len(report.raised) == 1
    deliver_pending(stack.db.sessions, stack.services.notifier, worker_id="test-worker")
    return report.raised[0]


def test_spike_alert_reaches_l3_and_only_l3_or_admins_declare_the_incident(stack: Stack) -> None:
    alert_id = _spike(stack)
    post = stack.fake.wait_for(lambda: stack.fake.posts(L3_CHANNEL), what="spike alert in L3")[0]
    assert "Possible major incident" in post.args["text"]
    listed = json.dumps(post.args["blocks"])
    assert all(subject.split(",")[0] in listed for subject in BURST)
    assert blocks.DECLARE_INCIDENT in element_ids(post.args["blocks"])

    stack.driver.click(ENGINEER_L1, blocks.DECLARE_INCIDENT, str(alert_id), channel=L3_CHANNEL)
    stack.fake.wait_for(lambda: any("L3" in t for t in ephemerals_to(stack, ENGINEER_L1)), what="refusal")
    assert not stack.fake.calls_to("views.open")

    stack.driver.click(
        "UENGINL301", blocks.DECLARE_INCIDENT, str(alert_id), channel=L3_CHANNEL, message_ts=post.ts
    )
    modal = stack.fake.wait_for(lambda: stack.fake.calls_to("views.open"), what="declare modal")[0]
    assert modal.args["view"]["callback_id"] == blocks.DECLARE_VIEW
    response = stack.driver.submit_view(
        "UENGINL301",
        blocks.DECLARE_VIEW,
        {"title": "VPN outage", "message": "The VPN gateway is down; we are restarting it."},
        modal.args["view"]["private_metadata"],
    )
    assert response.status == 200
    stack.fake.wait_for(
        lambda: any("[MI-" in str(c.args.get("text")) for c in stack.fake.posts(L3_CHANNEL)),
        what="L3 copy of the first update",
    )

    def told() -> list[Any]:
        calls = stack.fake.calls_to("chat.postMessage")
        return [c for c in calls if "VPN gateway is down" in c.args["text"]]

    dms = stack.fake.wait_for(lambda: told() if len(told()) > len(BURST) else None, what="everyone told")
    assert {c.args["channel"] for c in dms} >= {f"DSPIKE{i:04d}" for i in range(len(BURST))}
    with transaction(stack.db.sessions) as session:
        incident = session.scalars(select(MajorIncident)).one()
        assert incident.title == "VPN outage"
        assert len(list(session.scalars(select(IncidentTicket)))) == len(BURST)
        alert = session.get(SpikeAlert, alert_id)
        assert alert is not None and alert.incident_id == incident.id

    closed = stack.fake.wait_for(
        lambda: [c for c in stack.fake.calls_to("chat.update") if c.args["ts"] == post.ts],
        what="alert closed",
    )[-1]
    assert "Declared as major incident MI-" in json.dumps(closed.args["blocks"])
    assert blocks.DECLARE_INCIDENT not in element_ids(closed.args["blocks"])
    again = stack.driver.submit_view("UENGINL301", blocks.DECLARE_VIEW, {"message": "again"}, str(alert_id))
    assert "already" in again.body


def test_a_new_report_of_a_declared_incident_joins_it_and_its_card_says_so(stack: Stack) -> None:
    alert_id = _spike(stack)
    with transaction(stack.db.sessions) as session:
        l3 = session.scalars(select(User).where(User.external_id == "UENGINL301")).one()
        incident = declare_incident(
            session, actor=l3, title="VPN outage", message="The VPN gateway is down.", alert_id=alert_id
        )
        label = f"MI-{incident.id}"
    ts = stack.driver.say(REQUESTER, SUPPORT, "VPN disconnects every few minutes at home again")
    reply = stack.fake.wait_for(
        lambda: [c for c in stack.fake.posts(SUPPORT, ts) if label in str(c.args.get("text"))],
        what="handoff reply naming the incident",
    )[0]
    assert "The VPN gateway is down." in reply.args["text"]
    card = stack.fake.wait_for(
        lambda: [c for c in stack.fake.posts(L1_CHANNEL) if f"major incident *{label}" in json.dumps(c.args)],
        what="card saying it is part of the incident",
    )[0]
    assert "VPN outage" in json.dumps(card.args["blocks"])
    with transaction(stack.db.sessions) as session:
        assert len(list(session.scalars(select(IncidentTicket)))) == len(BURST) + 1


def test_a_false_alarm_is_dismissed_by_l3_only(stack: Stack) -> None:
    alert_id = _spike(stack)
    post = stack.fake.wait_for(lambda: stack.fake.posts(L3_CHANNEL), what="spike alert in L3")[0]
    assert blocks.DISMISS_ALERT in element_ids(post.args["blocks"])
    stack.driver.click(
        ENGINEER_L1, blocks.DISMISS_ALERT, str(alert_id), channel=L3_CHANNEL, message_ts=post.ts
    )
    stack.fake.wait_for(lambda: any("L3" in t for t in ephemerals_to(stack, ENGINEER_L1)), what="refusal")
    stack.driver.click(ADMIN, blocks.DISMISS_ALERT, str(alert_id), channel=L3_CHANNEL, message_ts=post.ts)
    closed = stack.fake.wait_for(
        lambda: [c for c in stack.fake.calls_to("chat.update") if c.args["ts"] == post.ts],
        what="alert closed",
    )[0]
    assert "Dismissed" in json.dumps(closed.args["blocks"])
    with transaction(stack.db.sessions) as session:
        alert = session.get(SpikeAlert, alert_id)
        assert alert is not None and alert.status is AlertStatus.DISMISSED
        assert session.scalars(select(MajorIncident)).first() is None


# ---------------------------------------------------------------------------- App Home
def test_admin_home_shows_the_learning_figures(stack: Stack) -> None:
    _spike(stack)
    stack.driver.send_event(
        {
            "type": "app_home_opened",
            "user": ADMIN,
            "channel": "DHOME00001",
            "tab": "home",
            "event_ts": stack.driver.next_ts(),
        }
    )
    view = stack.fake.wait_for(lambda: stack.fake.calls_to("views.publish"), what="admin home")[0]
    text = json.dumps(view.args["view"])
    assert "KB drafts waiting for review" in text
    assert "Spike alert" in text
