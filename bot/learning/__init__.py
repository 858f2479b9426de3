"""The learning loop: every solved case feeds the KB, common problems surface from the stream of
requests, and the desk's figures are watched. Slack-free; front ends call these:

* `similar.similar_tickets(session, ticket, k=3, encoder=...)` — engineer card; `link_duplicate`;
* `drafts.create_draft_from_ticket` / `approve_draft` / `reject_draft` — KB drafts from tickets;
* `spikes.detect_spikes` (one session) / `sweep_spikes` (worker, own transaction) — spike alerts;
* `incidents.declare_incident` / `post_update` / `resolve_incident` — major incidents (L3);
* `health.article_health` / `kb_gaps` — weak and stale articles, unanswered questions;
* `report.build_report` / `write_report` and `dashboard.dashboard` — the figures.

Helpers take the caller's session and never commit (except `sweep_spikes`, a worker step).
"""
