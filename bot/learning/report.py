"""`tierline report`: one self-contained folder (index.html, PNG charts, figures.json).

The HTML is deliberately plain (no scripts, no external assets) so it can be mailed, attached to
a ticket or served from any static host.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from bot.learning.figures import Figures, compute_figures
from bot.learning.health import (
    DEFAULT_GAP_SIMILARITY,
    DEFAULT_STALE_DAYS,
    ArticleHealth,
    KBGap,
    article_health,
    kb_gaps,
)
from kb_index.encoders import Encoder

SCORE_EXPLAINED = (
    "health = (solved + 1) / (solved + failed + 2), where failed = answers followed by Not solved or by "
    "a handoff before the next answer; 0.5 means no evidence. Weakest first."
)


@dataclass(frozen=True)
class Report:
    figures: Figures
    articles: list[ArticleHealth]
    gaps: list[KBGap]

    def to_json(self) -> dict[str, Any]:
        data = self.figures.to_json()
        data["kb_articles"] = [a.to_json() for a in self.articles]
        data["kb_gaps"] = [g.to_json() for g in self.gaps]
        return data


def build_report(
    session: Session,
    *,
    since: datetime,
    until: datetime,
    encoder: Encoder | str,
    gap_limit: int = 10,
    stale_days: int = DEFAULT_STALE_DAYS,
    gap_similarity: float = DEFAULT_GAP_SIMILARITY,
) -> Report:
    """The report's figures; `stale_days` and `gap_similarity` are the settings `kb health` uses
    (TIERLINE_KB_STALE_DAYS, TIERLINE_KB_GAP_SIMILARITY), so both views agree."""
    return Report(
        figures=compute_figures(session, since=since, until=until),
        articles=article_health(session, since=since, until=until, stale_days=stale_days),
        gaps=kb_gaps(
            session, since=since, until=until, encoder=encoder, similarity=gap_similarity, limit=gap_limit
        ),
    )


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _hours(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 60:.0f} min" if value < 1 else f"{value:.1f} h"


def headline(figures: Figures) -> list[tuple[str, str]]:
    """The tiles at the top of the report and of the App Home: (label, value)."""
    f = figures
    return [
        ("Tickets opened", str(f.tickets)),
        ("Median first response", _hours(f.first_response.median)),
        ("Median time to resolve", _hours(f.resolution.median)),
        ("Response SLA met", _pct(f.sla_response.rate)),
        ("Resolution SLA met", _pct(f.sla_resolution.rate)),
        ("CSAT (mean of 5)", "—" if f.csat_mean is None else f"{f.csat_mean:.2f} (n={f.csat_count})"),
        ("Deflection rate", _pct(f.deflection_rate)),
        ("Reopen rate", _pct(f.reopen_rate)),
    ]


def write_report(report: Report, out: Path) -> Path:
    """Write index.html, the PNGs and figures.json into `out`; returns the index path."""
    from bot.learning import charts  # matplotlib costs every other command a third of a second

    out.mkdir(parents=True, exist_ok=True)
    f = report.figures
    images = [
        (
            "Volume by category",
            charts.stacked_volume(
                f.volume_by_category, "Tickets opened by category", out / "volume_by_category.png", f.bucket
            ),
        ),
        (
            "Volume by tier",
            charts.stacked_volume(
                f.volume_by_tier,
                "Tickets opened by tier (current tier)",
                out / "volume_by_tier.png",
                f.bucket,
            ),
        ),
        (
            "First response time",
            charts.duration_histogram(f.first_response, "Time to first response", out / "first_response.png"),
        ),
        (
            "Resolution time",
            charts.duration_histogram(f.resolution, "Time to resolve", out / "resolution.png"),
        ),
        (
            "SLA attainment by tier",
            charts.sla_bars(
                {t: (f.sla_response_by_tier[t], f.sla_resolution_by_tier[t]) for t in f.sla_response_by_tier},
                "SLA attainment by tier",
                out / "sla_by_tier.png",
            ),
        ),
        (
            "SLA attainment by priority",
            charts.sla_bars(
                {
                    p: (f.sla_response_by_priority[p], f.sla_resolution_by_priority[p])
                    for p in f.sla_response_by_priority
                },
                "SLA attainment by priority",
                out / "sla_by_priority.png",
            ),
        ),
        ("Customer satisfaction", charts.csat_bars(f.csat_scores, f.csat_mean, out / "csat.png")),
        ("Deflection", charts.deflection_chart(f.deflection_by_bucket, f.bucket, out / "deflection.png")),
        ("KB gaps", charts.gaps_chart(report.gaps, out / "kb_gaps.png")),
    ]
    (out / "figures.json").write_text(
        json.dumps(report.to_json(), indent=2, ensure_ascii=False), encoding="utf-8"
    )
    index = out / "index.html"
    index.write_text(_html(report, images), encoding="utf-8")
    return index


def _table(headers: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return '<p class="note">No data in this period.</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html(report: Report, images: list[tuple[str, Path]]) -> str:
    f = report.figures
    period = f"{f.since:%Y-%m-%d %H:%M} – {f.until:%Y-%m-%d %H:%M} UTC"
    tiles = "".join(
        f'<div class="tile"><div class="v">{escape(v)}</div><div class="l">{escape(label)}</div></div>'
        for label, v in headline(f)
    )
    figures = "".join(
        f'<figure><img src="{escape(p.name)}" alt="{escape(title)}">'
        f"<figcaption>{escape(title)}</figcaption></figure>"
        for title, p in images
    )
    sla_rows = [
        [group, name, str(att.met), str(att.breached), _pct(att.rate)]
        for group, table in (("tier", f.sla_response_by_tier), ("priority", f.sla_response_by_priority))
        for name, att in table.items()
    ] + [
        [group, name + " (resolution)", str(att.met), str(att.breached), _pct(att.rate)]
        for group, table in (("tier", f.sla_resolution_by_tier), ("priority", f.sla_resolution_by_priority))
        for name, att in table.items()
    ]
    weak = [a for a in report.articles if a.shown > 0][:15]
    article_rows = [
        [
            a.article_id,
            a.title,
            str(a.shown),
            str(a.solved),
            str(a.not_solved),
            str(a.handoffs),
            f"{a.score:.2f}",
            "yes" if a.stale else "",
        ]
        for a in weak
    ]
    gap_rows = [[str(g.count), g.representative, " | ".join(g.examples)] for g in report.gaps]
    volume_rows = [[c, str(n)] for c, n in f.by_category.most_common()]
    backlog_rows = [[b.tier, b.age_bucket, str(b.count)] for b in f.backlog]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tierline service report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 1100px; }}
.tiles {{ display: flex; flex-wrap: wrap; gap: .8rem; }}
.tile {{ border: 1px solid #ddd; border-radius: 6px; padding: .7rem 1rem; min-width: 150px; }}
.tile .v {{ font-size: 1.4rem; font-weight: 600; }} .tile .l {{ color: #666; font-size: .85rem; }}
figure {{ margin: 1.5rem 0; }} img {{ max-width: 100%; border: 1px solid #eee; }}
table {{ border-collapse: collapse; margin: 1rem 0; font-size: .9rem; }}
th, td {{ border: 1px solid #ddd; padding: .3rem .6rem; text-align: left; vertical-align: top; }}
th {{ background: #f5f5f5; }} .note {{ color: #666; font-size: .85rem; }}
</style></head><body>
<h1>Tierline service report</h1>
<p>Period: {escape(period)}. Volume, first response and SLA attainment cover tickets
<em>opened</em> in the period; time to resolve, CSAT and reopen rate cover tickets <em>resolved</em>
in it; deflection covers conversations started in it. Durations are wall-clock hours.</p>
<div class="tiles">{tiles}</div>
<h2>Charts</h2>{figures}
<h2>Tickets by category</h2>{_table(["category", "tickets"], volume_rows)}
<h2>Open backlog (open now; age at the end of the period)</h2>
{_table(["tier", "age", "open tickets"], backlog_rows)}
<h2>SLA attainment (response unless marked)</h2>
<p class="note">A ticket counts once its clock is decided: met, or breached (late, or overdue at the end of
the period).</p>
{_table(["by", "group", "met", "breached", "attainment"], sla_rows)}
<h2>Weakest KB articles</h2><p class="note">{escape(SCORE_EXPLAINED)}</p>
{_table(["article", "title", "shown", "solved", "not solved", "handoffs", "health", "stale"], article_rows)}
<h2>KB gaps</h2>
<p class="note">Questions that got no article, grouped by meaning; write these articles next.</p>
{_table(["questions", "representative question", "other examples"], gap_rows)}
</body></html>
"""
