"""The import rules cover the whole tree: a new module under bot/ cannot slip past the Slack fence."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_bot_module_except_slack_is_fenced_off_from_slack() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    fence = next(c for c in config["contracts"] if c["name"] == "only bot.slack talks to Slack")
    fenced = set(fence["source_modules"])
    modules = {
        f"bot.{p.stem if p.is_file() else p.name}"
        for p in (ROOT / "bot").iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p.is_dir() and (p / "__init__.py").exists())
    }
    assert modules - {"bot.slack"} <= fenced, (
        f"add to the import-linter fence: {modules - {'bot.slack'} - fenced}"
    )
    assert {"classifier", "kb_index", "models"} <= fenced
