"""`tierline serve` that cannot start on Slack says which setting to check, in one sentence."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from bot.settings import get_settings
from tests.conftest import TestDatabase
from tests.slack.conftest import SECRET
from tests.slack.fake_slack import FakeSlack


@pytest.fixture
def serve_env(db: TestDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DATABASE_URL", db.url)
    monkeypatch.setenv("TIERLINE_DATA_DIR", str(tmp_path / "var"))  # no KB index: starts quickly
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-revoked")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("PORT", "0")
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_a_token_slack_refuses_names_the_token_setting(
    serve_env: None, fake: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_API_URL", fake.url)
    fake.refuse_next("auth.test", "invalid_auth", times=10)
    result = CliRunner().invoke(app, ["serve", "--host", "127.0.0.1"])
    said = " ".join(result.output.split())
    assert result.exit_code == 1, said
    assert "Slack refused the bot token" in said and "check SLACK_BOT_TOKEN" in said
    assert "Traceback" not in said
