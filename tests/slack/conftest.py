"""The Slack harness: a fake Slack Web API and the app under test, both over real HTTP on 127.0.0.1.

Each test gets a migrated database (SQLite, and PostgreSQL when configured), a fresh fake Slack,
and the app served on a random port, wired to the real engine, workflow and triage service. The
knowledge base is three short articles under tests/slack/kb read by a small keyword searcher
(deterministic, no embedding model), because these tests are about the Slack layer.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from slack_bolt import App

from bot.desk import WorkflowDesk
from bot.engine import Engine
from bot.learning.incidents import IncidentMatcher
from bot.settings import Settings
from bot.slack.app import SlackServices, build_app
from bot.slack.client import make_web_client
from bot.slack.config import ChannelMode, SlackConfig
from bot.slack.learning import LearningHooks
from bot.slack.notifier import SlackNotifier
from bot.slack.server import ThreadingWSGIServer, make_http_server, make_wsgi_app, serve_in_thread
from bot.triage import TriageService
from bot.workflow import queries
from bot.workflow.routing import Routing
from kb_index.types import ArticleHit, Passage, SearchResult
from models import Role, Tier
from models.db import transaction
from tests.conftest import SHARED, TestDatabase
from tests.learning.fakes import BagOfWordsEncoder
from tests.slack.driver import SlackDriver
from tests.slack.fake_slack import FakeSlack

KB_DIR = Path(__file__).parent / "kb"
SPEC = SHARED / "slack" / "slack-api-specs" / "web-api" / "slack_web_openapi_v2_without_examples.json"
ENVELOPE_SCHEMA = (
    SHARED / "slack" / "slack-api-specs" / "events-api" / "slack_common_event_wrapper_schema.json"
)
SECRET = "test-signing-secret-0123456789"

SUPPORT, MENTION_ONLY, RANDOM = "CSUPPORT01", "CMENTION01", "CRANDOM001"
L1_CHANNEL, L2_CHANNEL, L3_CHANNEL = "CQUEUEL101", "CQUEUEL201", "CQUEUEL301"
REQUESTER, OTHER = "UREQUEST01", "UOTHERPP01"
ENGINEER_L1, ENGINEER_L2, ADMIN = "UENGINL101", "UENGINL201", "UADMINPP01"
L2_GROUP = "SL2GROUP01"
ANSWER_THRESHOLD = 0.5
_WORD = re.compile(r"[a-z0-9]{4,}")


class KeywordSearcher:
    """A tiny searcher over Markdown files: confidence = share of the question's words in the article.

    Implements the engine's `KnowledgeSearcher` protocol; `delay` simulates a slow model so tests can
    show that Slack is acknowledged before the work is done.
    """

    def __init__(self, folder: Path, delay: float = 0.0) -> None:
        self.delay = delay
        self.articles: list[tuple[str, str, str]] = []
        for path in sorted(folder.glob("*.md")):
            lines = path.read_text().splitlines()
            title = lines[0].lstrip("# ").strip()
            self.articles.append((path.stem, title, " ".join(line for line in lines[1:] if line).strip()))

    def search(
        self, query: str, *, audiences: frozenset[str] = frozenset({"public"}), k: int = 3
    ) -> SearchResult:
        time.sleep(self.delay)
        words = set(_WORD.findall(query.lower()))
        scored = []
        for article_id, title, text in self.articles:
            found = set(_WORD.findall(f"{title} {text}".lower()))
            score = len(words & found) / len(words) if words else 0.0
            if score > 0:
                scored.append((score, article_id, title, text))
        scored.sort(reverse=True)
        hits = tuple(
            ArticleHit(
                article_id=a,
                title=t,
                url=f"https://kb.example.test/{a}",
                audience="public",
                score=s,
                passages=(Passage(a, t, "", x, f"https://kb.example.test/{a}", "public", 1, s),),
            )
            for s, a, t, x in scored[:k]
        )
        return SearchResult(query, hits, hits[0].score if hits else 0.0, ANSWER_THRESHOLD)


@dataclass
class Stack:
    """Everything a Slack test touches."""

    db: TestDatabase
    fake: FakeSlack
    driver: SlackDriver
    app: App
    services: SlackServices
    server: ThreadingWSGIServer
    searcher: Any
    errors: list[str] = field(default_factory=list)

    def ticket(self, number: str) -> Any:
        with transaction(self.db.sessions) as session:
            ticket = queries.find_ticket(session, number)
            session.expunge(ticket)
            return ticket

    def thread_texts(self, channel: str, thread_ts: str) -> list[str]:
        return [str(c.args.get("text")) for c in self.fake.posts(channel, thread_ts)]


def envelope_schema() -> dict[str, Any] | None:
    return json.loads(ENVELOPE_SCHEMA.read_text()) if ENVELOPE_SCHEMA.exists() else None


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    server = FakeSlack.start(SPEC if SPEC.exists() else None, usergroups={L2_GROUP: [ENGINEER_L2]})
    try:
        yield server
    finally:
        server.stop()


def build_stack(
    db: TestDatabase,
    fake: FakeSlack,
    *,
    delay: float = 0.0,
    searcher: Any = None,
    threshold: float | None = ANSWER_THRESHOLD,
    socket_mode: bool = False,
    learning: LearningHooks | None = None,
    mentions_anywhere: bool = True,
) -> Stack:
    config = SlackConfig(
        bot_token="xoxb-test-token",
        signing_secret=SECRET,
        api_url=fake.url,
        support_channels={SUPPORT: ChannelMode.ALL, MENTION_ONLY: ChannelMode.MENTION},
        tier_channels={Tier.L1: L1_CHANNEL, Tier.L2: L2_CHANNEL, Tier.L3: L3_CHANNEL},
        tier_usergroups={Tier.L2: L2_GROUP},
        admins=frozenset({ADMIN}),
        mentions_anywhere=mentions_anywhere,
    )
    if socket_mode:  # no signing secret: Socket Mode authenticates the connection instead
        config = replace(config, signing_secret="", app_token="xapp-1-test")
    routing = Routing.default()
    triage = TriageService(db.sessions, category_threshold=0.45, priority_threshold=0.40)
    searcher = KeywordSearcher(KB_DIR, delay=delay)
    engine = Engine(
        searcher=searcher,
        triage=triage,
        desk=WorkflowDesk(routing),
        answer_threshold=ANSWER_THRESHOLD,
        known_issues=IncidentMatcher(BagOfWordsEncoder(), min_similarity=0.5),
    )
    client = make_web_client(config.bot_token, config.api_url, timeout=5)
    # The learning loop with a bag-of-words encoder: similar tickets and spikes without loading a model.
    learning = learning or LearningHooks(settings=Settings(), encoder=BagOfWordsEncoder())
    notifier = SlackNotifier(
        client,
        tier_channels=config.tier_channels,
        sessions=db.sessions,
        categories=tuple(routing.categories),
        learning=learning,
    )
    with transaction(db.sessions) as session:  # an L1 engineer known from the database (tierline users)
        queries.grant_tier(session, queries.ensure_user(session, ENGINEER_L1, role=Role.ENGINEER), Tier.L1)
    services = SlackServices(
        config=config,
        sessions=db.sessions,
        engine=engine,
        triage=triage,
        routing=routing,
        client=client,
        notifier=notifier,
        retrain=lambda: "Retraining finished: model `v-test` promoted.",
        learning=learning,
    )
    app = build_app(services)
    errors: list[str] = []

    @app.error
    def collect(error: Exception) -> None:
        errors.append(f"{type(error).__name__}: {error}")

    server = make_http_server(make_wsgi_app(app), host="127.0.0.1", port=0)
    serve_in_thread(server)
    driver = SlackDriver(
        f"http://127.0.0.1:{server.server_port}", SECRET, envelope_schema(), response_base=fake.response_base
    )
    return Stack(db, fake, driver, app, services, server, searcher, errors)


@pytest.fixture
def stack(db: TestDatabase, fake: FakeSlack) -> Iterator[Stack]:
    built = build_stack(db, fake)
    try:
        yield built
    finally:
        built.fake.settle(quiet=0.2, timeout=5)
        built.server.shutdown()
        built.server.server_close()
        assert built.fake.problems == [], built.fake.problems
        assert built.errors == [], built.errors
        from tests.slack.test_manifest import METHOD_SCOPES

        called = {c.method for c in built.fake.calls} - {"response_url"}  # a webhook: no scope
        assert called <= METHOD_SCOPES.keys(), (
            f"not declared in manifest checks: {called - METHOD_SCOPES.keys()}"
        )


def wait_quiet(seconds: float = 0.3) -> None:
    threading.Event().wait(seconds)


def hand_off(
    stack: Stack, channel: str = SUPPORT, text: str = "The VPN keeps disconnecting on my laptop"
) -> tuple[str, str]:
    """Ask, press "Talk to a person", and return (ticket number, requester thread ts)."""
    ts = stack.driver.say(
        REQUESTER, channel, text, channel_type="im" if channel.startswith("D") else "channel"
    )
    stack.fake.wait_for(lambda: stack.fake.posts(channel, ts), what="first reply")
    stack.driver.click(REQUESTER, "tl_human", f"slack:{channel}:{ts}", channel=channel)
    posts = stack.fake.wait_for(
        lambda: [c for c in stack.fake.posts(channel, ts) if re.search(r"IT-\d+", str(c.args.get("text")))],
        what="handoff reply",
    )
    number = re.search(r"IT-\d+", str(posts[0].args["text"])).group(0)  # type: ignore[union-attr]
    stack.fake.wait_for(lambda: stack.fake.posts(L1_CHANNEL), what="L1 card")
    return number, ts
