"""Matplotlib charts for the HTML report: one PNG per figure, labelled with units.

Uses the non-interactive Agg backend so the report renders on a server without a display.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bot.learning.figures import Attainment, Distribution
from bot.learning.health import KBGap

DPI = 110
SIZE = (9.0, 4.2)
# matplotlib's "tab10" palette, spelled out so the charts look the same under any style.
COLORS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip


# Past ten series (a demo history has eleven categories) colours repeat; a hatch tells them apart.
HATCHES = ("", "//", "..", "xx")
# Fonts with Chinese/Japanese/Korean glyphs, tried after DejaVu Sans for the characters it lacks:
# without one a Chinese category or question is drawn as empty boxes.
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "PingFang SC",
    "SimHei",
    "Arial Unicode MS",
)


def series_style(index: int) -> tuple[str, str]:
    """Colour and hatch of the `index`-th series: distinct for the first 40 series."""
    return COLORS[index % len(COLORS)], HATCHES[(index // len(COLORS)) % len(HATCHES)]


def installed_cjk_fonts() -> list[str]:
    """The CJK fonts of `CJK_FONTS` this machine has, in order of preference."""
    names = {f.name for f in font_manager.fontManager.ttflist}
    return [name for name in CJK_FONTS if name in names]


# Only installed fonts are listed: matplotlib warns about every family it cannot find.
plt.rcParams["font.family"] = ["DejaVu Sans", *installed_cjk_fonts()]


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def _empty(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=12, color="grey")
    ax.set_xticks([])
    ax.set_yticks([])


def stacked_volume(series: dict[str, Counter[str]], title: str, path: Path, bucket: str) -> Path:
    """Tickets opened per day/week, stacked by category or tier."""
    fig, ax = plt.subplots(figsize=SIZE)
    labels = list(series)
    keys = sorted({k for counts in series.values() for k in counts})
    if not keys:
        _empty(ax, "no tickets in this period")
    else:
        bottom = [0] * len(labels)
        for i, key in enumerate(keys):
            values = [series[label][key] for label in labels]
            color, hatch = series_style(i)
            ax.bar(
                range(len(labels)),
                values,
                bottom=bottom,
                label=key,
                color=color,
                hatch=hatch,
                edgecolor="white" if hatch else None,
            )
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        step = max(1, len(labels) // 12)
        ax.set_xticks(range(0, len(labels), step))
        ax.set_xticklabels(labels[::step], rotation=45, ha="right", fontsize=8)
        ax.set_ylabel(f"tickets opened per {bucket}")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=8, ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(title)
    return _save(fig, path)


def duration_histogram(dist: Distribution, title: str, path: Path) -> Path:
    """Distribution of durations in hours, with median and 90th percentile marked."""
    fig, ax = plt.subplots(figsize=SIZE)
    if not dist.hours:
        _empty(ax, "no tickets with this time yet")
    else:
        bins: int | list[float] = min(40, max(5, len(dist.hours) // 3))
        positive = [h for h in dist.hours if h > 0]
        skewed = positive and dist.median and max(positive) > 10 * dist.median
        if skewed:  # a long tail squeezes everything into one bar on a linear axis
            low = max(min(positive), 1 / 60)
            bins = list(np.geomspace(low, max(positive), 30))
            ax.set_xscale("log")
        values = [max(h, 1 / 60) for h in dist.hours] if skewed else dist.hours
        ax.hist(values, bins=bins, color=COLORS[0], edgecolor="white")
        if dist.median is not None:
            ax.axvline(dist.median, color=COLORS[1], linestyle="--", label=f"median {dist.median:.1f} h")
        if dist.p90 is not None:
            ax.axvline(dist.p90, color=COLORS[3], linestyle=":", label=f"90th percentile {dist.p90:.1f} h")
        ax.set_xlabel("hours (wall-clock, log scale)" if skewed else "hours (wall-clock)")
        ax.set_ylabel("tickets")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=9)
    ax.set_title(f"{title} (n = {dist.count})")
    return _save(fig, path)


def sla_bars(by_group: dict[str, tuple[Attainment, Attainment]], title: str, path: Path) -> Path:
    """Share of decided SLA clocks met, response and resolution side by side, per group."""
    fig, ax = plt.subplots(figsize=SIZE)
    groups = list(by_group)
    width = 0.38
    series = []
    for j, name in enumerate(("response", "resolution")):
        points = [
            (i + (j - 0.5) * width, 100 * att.rate, f"{att.met}/{att.decided}")
            for i, group in enumerate(groups)
            if (att := by_group[group][j]).rate is not None
        ]
        series.append((name, j, points))
    if not any(points for _, _, points in series):
        _empty(ax, "no SLA clock decided yet")
    else:
        for name, j, points in series:
            bars = ax.bar(
                [x for x, _, _ in points],
                [y for _, y, _ in points],
                width=width,
                label=f"{name} SLA met",
                color=COLORS[j],
            )
            for bar, (_, _, note) in zip(bars, points, strict=True):
                ax.annotate(
                    note,
                    (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center",
                    va="bottom",
                    fontsize=7,
                )
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels(groups)
        ax.set_ylim(0, 125)  # headroom for the legend above the 100% bars
        ax.set_yticks(range(0, 101, 20))
        ax.set_ylabel("% of decided tickets within SLA")
        ax.legend(fontsize=9, loc="upper center", ncol=2)
    ax.set_title(title)
    return _save(fig, path)


def csat_bars(scores: Counter[int], mean: float | None, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6.0, 3.8))
    values = [scores[s] for s in range(1, 6)]
    if not sum(values):
        _empty(ax, "no satisfaction ratings yet")
    else:
        colors = [COLORS[3], COLORS[1], COLORS[7], COLORS[2], COLORS[2]]
        ax.bar(range(1, 6), values, color=colors)
        ax.set_xticks(range(1, 6))
        ax.set_xlabel("rating (1 = very dissatisfied, 5 = very satisfied)")
        ax.set_ylabel("ratings")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    suffix = f" — mean {mean:.2f} / 5" if mean is not None else ""
    ax.set_title(f"Customer satisfaction (n = {sum(values)}){suffix}")
    return _save(fig, path)


def deflection_chart(by_bucket: dict[str, tuple[int, int]], bucket: str, path: Path) -> Path:
    """Conversations per bucket (bars) and the share solved from the KB (line, right axis)."""
    fig, ax = plt.subplots(figsize=SIZE)
    labels = list(by_bucket)
    totals = [by_bucket[label][0] for label in labels]
    if not sum(totals):
        _empty(ax, "no self-service conversations in this period")
    else:
        solved = [by_bucket[label][1] for label in labels]
        ax.bar(range(len(labels)), totals, color=COLORS[7], label="conversations")
        ax.bar(range(len(labels)), solved, color=COLORS[2], label="solved from the KB")
        ax.set_ylabel(f"conversations per {bucket}")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        # Daily counts are small, so a trailing window keeps the rate line readable.
        span = 7 if bucket == "day" else 1
        rates = []
        for i in range(len(labels)):
            t, s = sum(totals[max(0, i - span + 1) : i + 1]), sum(solved[max(0, i - span + 1) : i + 1])
            rates.append(100 * s / t if t else float("nan"))
        rate_ax = ax.twinx()
        what = "deflection rate, trailing 7 days" if span > 1 else "deflection rate"
        rate_ax.plot(range(len(labels)), rates, color=COLORS[3], marker=".", label=what)
        rate_ax.set_ylim(0, 105)
        rate_ax.set_ylabel("deflection rate (%)")
        step = max(1, len(labels) // 12)
        ax.set_xticks(range(0, len(labels), step))
        ax.set_xticklabels(labels[::step], rotation=45, ha="right", fontsize=8)
        handles = ax.get_legend_handles_labels()[0] + rate_ax.get_legend_handles_labels()[0]
        ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.08, 1.0))
    ax.set_title("Deflection: questions solved by the knowledge base")
    return _save(fig, path)


def gaps_chart(gaps: list[KBGap], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=SIZE)
    if not gaps:
        _empty(ax, "every question found an article")
    else:
        shown = list(reversed(gaps))
        names = [
            g.representative if len(g.representative) <= 60 else g.representative[:57] + "..." for g in shown
        ]
        ax.barh(range(len(shown)), [g.count for g in shown], color=COLORS[4])
        ax.set_yticks(range(len(shown)))
        ax.set_yticklabels(names, fontsize=8)
        ax.set_xlabel("unanswered questions in the cluster")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title("Top KB gaps: questions no article answered")
    return _save(fig, path)
