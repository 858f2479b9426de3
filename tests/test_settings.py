"""Configuration a deployer sees: every setting documented, bad values explained."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def _env_names(field_name: str) -> list[str]:
    alias = Settings.model_fields[field_name].validation_alias
    if isinstance(alias, str):
        return [alias]
    return [str(choice) for choice in getattr(alias, "choices", [])]


def test_every_setting_is_documented_in_env_example() -> None:
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.M))
    missing = [name for name in Settings.model_fields if not set(_env_names(name)) & documented]
    assert missing == [], f"settings without a line in .env.example: {missing}"


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:8888/api")
    monkeypatch.setenv("TIERLINE_DATA_DIR", "/tmp/tl")
    cfg = Settings(_env_file=None)  # type: ignore[call-arg]
    assert cfg.database_url.startswith("postgresql")
    assert cfg.slack_api_url == "http://127.0.0.1:8888/api/"  # trailing slash kept for slack_sdk
    assert cfg.kb_index_path == Path("/tmp/tl/kb_index")
    assert not cfg.slack_enabled


def test_a_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERLINE_KB_TOP_K", "many")
    with pytest.raises(ValidationError, match="TIERLINE_KB_TOP_K"):
        Settings(_env_file=None)  # type: ignore[call-arg]
