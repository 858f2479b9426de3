"""Slack front end: a thin slack-bolt adapter over `bot.engine` and `bot.workflow`.

Modules, each with one job:

* `config`   — Slack settings parsed once (support channels and their mode, tier channels, admins).
* `client`   — the WebClient on SLACK_API_URL with slack_sdk's 429 / 5xx / connection retry handlers.
* `app`      — the bolt listeners (messages, buttons, modals, /tierline, shortcut, App Home).
* `blocks`   — Block Kit rendering within Slack's limits (pure functions).
* `notifier` — delivers outbox rows: tier-queue cards, requester-thread updates, relays, CSAT.
* `store`    — handled-post receipts (dedupe across processes) and ticket ↔ Slack thread links.
* `facts`    — the missing structured facts asked after a handoff.
* `home`     — the App Home tab per role.
* `server`, `runtime` — HTTP (/slack/events, /healthz, /metrics) or Socket Mode, for `tierline serve`.

Only this package imports slack_bolt / slack_sdk (import-linter enforces it).
"""
