"""Configuration a deployer sees: every setting documented, bad values explained."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from bot.cli.main import app
from bot.settings import Settings, get_settings

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


def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the .env file speaks: no setting from the shell running the tests."""
    for name in Settings.model_fields:
        for env in _env_names(name):
            monkeypatch.delenv(env, raising=False)


def test_a_copy_of_env_example_works_as_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _clean_environment(monkeypatch)
    (tmp_path / ".env").write_text((ROOT / ".env.example").read_text())
    monkeypatch.chdir(tmp_path)
    cfg = Settings()
    # Blank lines mean "the default", never an empty number or the current folder.
    assert cfg.kb_answer_threshold is None
    assert cfg.kb_index_path == Path("var/kb_index") and cfg.models_path == Path("var/models")
    assert cfg.slack_bot_token is None and not cfg.slack_enabled
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["db", "upgrade"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "database at revision" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [".env", "var"]  # nothing else written here


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TIERLINE_KB_THRESHOLD", "-1"),
        ("TIERLINE_KB_THRESHOLD", "5"),
        ("TIERLINE_KB_TOP_K", "0"),
        ("TIERLINE_KB_TOP_K", "-2"),
        ("TIERLINE_WORKER_INTERVAL", "-5"),
        ("TIERLINE_WORKER_INTERVAL", "0"),
        ("TIERLINE_CATEGORY_THRESHOLD", "1.5"),
        ("TIERLINE_SPIKE_MIN_TICKETS", "1"),
        ("TIERLINE_SIMILAR_MIN", "-0.1"),
        ("PORT", "70000"),
    ],
)
def test_an_out_of_range_number_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["db", "current"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert f"invalid configuration ({variable}: Input should be" in said and "Traceback" not in said


def test_an_unknown_log_level_is_refused_and_a_known_one_read_in_any_case(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TIERLINE_LOG_LEVEL", "bogus")
    with pytest.raises(ValidationError, match="unknown log level 'bogus'; use one of DEBUG"):
        Settings(_env_file=None)  # type: ignore[call-arg]
    monkeypatch.setenv("TIERLINE_LOG_LEVEL", "debug")
    assert Settings(_env_file=None).log_level == "DEBUG"  # type: ignore[call-arg]
