"""The Slack app over the real knowledge index (hybrid search, calibrated confidence) on our small KB."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kb_index.encoders import load_encoder
from kb_index.ingest import ingest_paths
from kb_index.searcher import LiveSearcher
from tests.conftest import TestDatabase
from tests.slack.conftest import KB_DIR, REQUESTER, SUPPORT, Stack, build_stack
from tests.slack.fake_slack import FakeSlack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live_searcher(tmp_path_factory: pytest.TempPathFactory) -> LiveSearcher:
    encoder = load_encoder("minilm")  # cached per process: loaded once per test session
    root = tmp_path_factory.mktemp("slack-kb") / "index"
    ingest_paths(root, [KB_DIR], encoder)
    return LiveSearcher(root, encoder)


@pytest.fixture
def real_stack(db: TestDatabase, fake: FakeSlack, live_searcher: LiveSearcher) -> Iterator[Stack]:
    built = build_stack(db, fake, searcher=live_searcher, threshold=None)  # the index's calibrated threshold
    try:
        yield built
    finally:
        fake.settle(quiet=0.2)
        built.server.shutdown()
        built.server.server_close()
        assert fake.problems == [] and built.errors == []


def test_real_index_answer_cites_the_article(real_stack: Stack, tmp_path: Path) -> None:
    ts = real_stack.driver.say(REQUESTER, SUPPORT, "I forgot my password, how can I reset it?")
    reply = real_stack.fake.wait_for(lambda: real_stack.fake.posts(SUPPORT, ts), timeout=60, what="reply")[0]
    context = [b for b in reply.args["blocks"] if b["type"] == "context"]
    assert context and "Reset your password" in context[0]["elements"][0]["text"]
    assert "self-service portal" in reply.args["text"]


def test_real_index_does_not_guess_on_an_unrelated_question(real_stack: Stack) -> None:
    ts = real_stack.driver.say(REQUESTER, SUPPORT, "Can I expense a standing desk for my home office?")
    reply = real_stack.fake.wait_for(lambda: real_stack.fake.posts(SUPPORT, ts), timeout=60, what="reply")[0]
    ids = {e["action_id"] for b in reply.args["blocks"] if b["type"] == "actions" for e in b["elements"]}
    assert "tl_solved" not in ids  # a clarifying question (with "Talk to a person"), not an answer
