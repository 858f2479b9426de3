"""Entry point of the `tierline` console script: imports every command module so they register."""

from __future__ import annotations

import importlib
import pkgutil

import bot.cli
from bot.cli.apps import app

# Each module under bot/cli attaches its commands to a group in bot.cli.apps on import.
for _module in pkgutil.iter_modules(bot.cli.__path__):
    if _module.name not in {"apps", "main", "common"}:
        importlib.import_module(f"bot.cli.{_module.name}")

__all__ = ["app"]

if __name__ == "__main__":
    app()
