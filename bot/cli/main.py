"""Entry point of the `tierline` console script: imports every command module so they register."""

from __future__ import annotations

import importlib
import os
import pkgutil

# Nothing may download from a model hub at run time, and library progress bars are noise in a chat.
for _name, _value in (
    ("HF_HUB_OFFLINE", "1"),
    ("TRANSFORMERS_OFFLINE", "1"),
    ("HF_HUB_DISABLE_PROGRESS_BARS", "1"),
    ("TRANSFORMERS_VERBOSITY", "error"),
    ("TOKENIZERS_PARALLELISM", "false"),
):
    os.environ.setdefault(_name, _value)

import bot.cli  # noqa: E402
from bot.cli.apps import app  # noqa: E402

# Each module under bot/cli attaches its commands to a group in bot.cli.apps on import.
for _module in pkgutil.iter_modules(bot.cli.__path__):
    if _module.name not in {"apps", "main", "common"}:
        importlib.import_module(f"bot.cli.{_module.name}")

__all__ = ["app"]

if __name__ == "__main__":
    app()
