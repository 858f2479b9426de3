"""`tierline classifier train|evaluate|list|promote|rollback|corrections-report`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from bot.cli.apps import classifier_app
from bot.cli.common import console, emit_json, err_console, fail, settings, unit_of_work
from bot.cli.tickets_import import build_mapping, require_export_file
from classifier.dataset import (
    ColumnMapping,
    HistoryRow,
    TrainingRows,
    mapping_hints,
    read_history_csv,
    rows_from_history,
    training_rows_from_db,
)
from classifier.errors import ClassifierError
from classifier.evaluation import corrected_rows, evaluate_rows, plot_confusion
from classifier.export_file import encoding_hint
from classifier.history import ImportReport
from classifier.model import CATEGORY, PRIORITY, TriageModel, load_model
from classifier.recipe import TrainConfig, abstention_at
from classifier.registry import active_model, list_models, promote, rollback, train_and_register

TEXT_COLS = typer.Option("subject,body", help="Comma-separated text columns; the first is the subject.")
CATEGORY_COL = typer.Option("category", help="Column with the category.")
PRIORITY_COL = typer.Option(None, help="Column with the priority (P1..P4, 1..4, words).")
PRIORITY_MAP = typer.Option(None, help='Export values to priorities, e.g. "0=critical,1=high".')


ENCODING = typer.Option("utf-8", help="Text encoding of the file (rows with invalid bytes are skipped).")


def _csv_rows(csv_path: Path, mapping: ColumnMapping, encoding: str) -> tuple[TrainingRows, int]:
    """The export's usable rows and how many were skipped (`tickets import` says why)."""
    require_export_file(csv_path)
    good: list[HistoryRow] = []
    skips = ImportReport()  # the import's own bookkeeping of what was skipped and why
    try:
        for row in read_history_csv(csv_path, mapping, encoding=encoding):
            if isinstance(row, HistoryRow):
                good.append(row)
            else:
                skips.skip(row.line, row.reason, row.unmapped)
    except LookupError:
        fail(f"unknown encoding {encoding!r}")
    skipped = skips.skipped_total
    hints = [encoding_hint(csv_path, encoding) if skipped else None, *mapping_hints(skips.unmapped)]
    for hint in filter(None, hints):
        err_console.print(f"[yellow]hint:[/] {hint}")
    return rows_from_history(good, with_priority=mapping.priority_col is not None), skipped


@classifier_app.command("train")
def train_command(
    csv_path: Path | None = typer.Option(
        None, "--csv", help="Train from this export instead of the database."
    ),
    text_cols: str = TEXT_COLS,
    category_col: str = CATEGORY_COL,
    priority_col: str | None = PRIORITY_COL,
    priority_map: str | None = PRIORITY_MAP,
    encoding: str = ENCODING,
    out: Path | None = typer.Option(
        None, "--out", help="Model directory to create (default: under the models dir)."
    ),
    force: bool = typer.Option(
        False, help="Train even when the data has not changed since the active model."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
) -> None:
    """Train category and priority heads, register the model, and promote it if it passes the gate."""
    cfg = settings()
    try:
        with unit_of_work(cfg) as session:
            if csv_path is not None:
                mapping = build_mapping(text_cols, category_col, priority_col, priority_map=priority_map)
                rows, skipped = _csv_rows(csv_path, mapping, encoding)
                source = f"csv:{csv_path.name}"
                if skipped and not as_json:
                    console.print(
                        f"{skipped} rows of {csv_path.name} skipped (see `tierline tickets import` for why)"
                    )
            else:
                rows, source = training_rows_from_db(session), "database"
            if len(rows) == 0 and csv_path is not None:
                fail(
                    f"no usable rows in {csv_path.name} ({skipped} skipped;"
                    f" `tierline tickets import {csv_path}` shows why)"
                )
            if len(rows) == 0:
                fail(
                    "no labelled tickets to train on: import history first"
                    " (`tierline tickets import FILE.csv`)"
                )
            with console.status(f"training on {len(rows)} tickets…", spinner="dots") as status:
                outcome = train_and_register(
                    session,
                    rows,
                    models_dir=cfg.models_path,
                    tolerance=cfg.promotion_tolerance,
                    config=TrainConfig(rare_label_min=cfg.rare_label_min),
                    out_dir=out,
                    source=source,
                    force=force,
                    progress=lambda phase: status.update(f"training on {len(rows)} tickets: {phase}…"),
                )
    except ClassifierError as exc:
        fail(str(exc))
    result = outcome.result
    thresholds = {CATEGORY: cfg.category_threshold, PRIORITY: cfg.priority_threshold}
    at_threshold = {
        head: point
        for head, curve in (result.abstention.items() if result else [])
        if (point := abstention_at(curve, thresholds.get(head, 0.0))) is not None
    }
    if as_json:
        emit_json(
            {
                "status": outcome.status,
                "message": outcome.message,
                "version": outcome.row.version if outcome.row else None,
                "path": outcome.row.path if outcome.row else None,
                "cv": result.cv_metrics if result else None,
                "at_threshold": {
                    head: {"threshold": t, "coverage": cov, "selective_accuracy": acc}
                    for head, (t, cov, acc) in at_threshold.items()
                },
                "warnings": list(result.warnings) if result else [],
                "seconds": round(result.seconds, 2) if result else 0.0,
            }
        )
        return
    if result is not None:
        for note in result.warnings:
            console.print(f"[yellow]warning:[/] {note}")
        for head, m in result.cv_metrics.items():
            folds, fits = int(m["folds"]), int(m.get("fold_fits", m["folds"]))
            scheme = f"{folds}-fold CV" if fits == folds else f"{fits} of {folds} CV folds"
            console.print(
                f"{head}: {scheme} accuracy {m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f}, "
                f"ECE {m['ece']:.3f} ({int(m.get('rows_scored', 0))} tickets scored out of fold)"
            )
            if head in at_threshold:
                t, coverage, accuracy = at_threshold[head]
                rest = "go to L1 triage" if head == CATEGORY else "get the default priority"
                console.print(
                    f"  at its threshold {t:.2f} (TIERLINE_{head.upper()}_THRESHOLD): {coverage:.0%} of"
                    f" tickets get the model's {head}, {accuracy:.0%} of those right; the rest {rest}"
                )
        console.print(
            f"model {outcome.row.version if outcome.row else '?'} trained in {result.seconds:.1f} s "
            f"→ {result.path}"
        )
    colour = {"promoted": "green", "kept": "yellow", "unchanged": "cyan"}[outcome.status]
    console.print(f"[{colour}]{outcome.message}[/]")


def _load(model_dir: Path | None) -> TriageModel:
    try:
        if model_dir is not None:
            return load_model(model_dir)
        with unit_of_work() as session:
            row = active_model(session)
            if row is None:
                fail("no active model: train one (`tierline classifier train`) or pass --model DIR")
            path = Path(row.path)
        return load_model(path)
    except ClassifierError as exc:
        fail(str(exc))


def _print_report(title: str, reports: dict[str, Any]) -> None:
    for head, r in reports.items():
        console.print(
            f"[bold]{title} — {head}[/] on {r['n']} tickets: accuracy {r['accuracy']:.3f}, macro-F1 "
            f"{r['macro_f1']:.3f}, ECE {r['ece']:.3f}; at threshold {r['threshold']:.2f}: coverage "
            f"{r['coverage']:.3f}, accuracy {r['selective_accuracy']:.3f}"
            + (
                f"; {r['unknown_labels']} tickets have labels the model never saw (scored as misses)"
                if r["unknown_labels"]
                else ""
            )
            + (
                f"; {r['folded_labels']} tickets have rare labels its training folded into 'other'"
                " (scored as 'other')"
                if r["folded_labels"]
                else ""
            )
        )
        table = Table("label", "precision", "recall", "F1", "support")
        for label, m in r["per_class"].items():
            table.add_row(
                label, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}", str(m["support"])
            )
        console.print(table)


def _json_report(reports: dict[str, Any], version: str) -> dict[str, Any]:
    """Category figures at the top level (the documented keys), the priority head nested."""
    keys = (
        "n",
        "accuracy",
        "macro_f1",
        "ece",
        "coverage",
        "selective_accuracy",
        "threshold",
        "per_class",
        "labels",
        "confusion",
        "unknown_labels",
        "folded_labels",
    )
    out: dict[str, Any] = {"model_version": version}
    if CATEGORY in reports:
        out.update({k: reports[CATEGORY][k] for k in keys})
    if PRIORITY in reports:
        out[PRIORITY] = {k: reports[PRIORITY][k] for k in keys}
    return out


@classifier_app.command("evaluate")
def evaluate_command(
    model_dir: Path | None = typer.Option(
        None, "--model", help="Model directory (default: the active model)."
    ),
    csv_path: Path | None = typer.Option(None, "--csv", help="Labelled tickets to evaluate on."),
    text_cols: str = TEXT_COLS,
    category_col: str = CATEGORY_COL,
    priority_col: str | None = PRIORITY_COL,
    priority_map: str | None = PRIORITY_MAP,
    encoding: str = ENCODING,
    corrections: bool = typer.Option(False, "--corrections", help="Evaluate on tickets engineers corrected."),
    plot: Path | None = typer.Option(None, "--plot", help="Write the category confusion matrix to this PNG."),
    as_json: bool = typer.Option(False, "--json", help="Print figures as JSON."),
) -> None:
    """Accuracy, macro-F1, per-class figures, calibration (ECE), coverage at the abstention threshold."""
    if (csv_path is None) == (not corrections):
        fail("give exactly one of --csv FILE or --corrections")
    cfg = settings()
    model = _load(model_dir)
    if csv_path is not None:
        mapping = build_mapping(text_cols, category_col, priority_col, priority_map=priority_map)
        try:
            rows, _skipped = _csv_rows(csv_path, mapping, encoding)
        except ClassifierError as exc:
            fail(str(exc))
        title = csv_path.name
    else:
        with unit_of_work(cfg) as session:
            rows = corrected_rows(session)
        title = "corrected tickets"
    if len(rows) == 0:
        fail(f"no labelled tickets in {title}")
    reports = evaluate_rows(model, rows, {CATEGORY: cfg.category_threshold, PRIORITY: cfg.priority_threshold})
    if plot is not None and CATEGORY in reports:
        plot_confusion(reports[CATEGORY], plot, f"{model.version} on {title}")
    if as_json:
        emit_json(_json_report(reports, model.version))
        return
    _print_report(f"{model.version} on {title}", reports)
    if plot is not None:
        console.print(f"confusion matrix written to {plot}")


@classifier_app.command("corrections-report")
def corrections_report(as_json: bool = typer.Option(False, "--json")) -> None:
    """How the active model does on tickets whose category or priority an engineer corrected."""
    evaluate_command(
        model_dir=None,
        csv_path=None,
        text_cols="",
        category_col="",
        priority_col=None,
        priority_map=None,
        encoding="utf-8",
        corrections=True,
        plot=None,
        as_json=as_json,
    )


@classifier_app.command("list")
def list_command(as_json: bool = typer.Option(False, "--json")) -> None:
    """Every trained model, newest last, with its figures and why it is (not) active."""
    with unit_of_work() as session:
        rows = list_models(session)
        data = [
            {
                "version": r.version,
                "active": r.active,
                "rows": r.rows,
                "created_at": r.created_at,
                "promoted_at": r.promoted_at,
                "category_macro_f1": r.metrics.get("cv", {}).get(CATEGORY, {}).get("macro_f1"),
                "decision": r.decision,
                "path": r.path,
            }
            for r in rows
        ]
    if as_json:
        emit_json(data)
        return
    if not data:
        console.print("no models yet: `tierline classifier train`")
        return
    table = Table("")
    # A version is what `promote` takes: it is never cut, whatever the terminal's width.
    table.add_column("version", no_wrap=True, min_width=max(len(str(d["version"])) for d in data))
    for heading in ("rows", "CV macro-F1", "created", "decision"):
        table.add_column(heading)
    for d in data:
        f1 = d["category_macro_f1"]
        table.add_row(
            "●" if d["active"] else "",
            str(d["version"]),
            str(d["rows"]),
            f"{f1:.3f}" if isinstance(f1, float) else "-",
            f"{d['created_at']:%Y-%m-%d %H:%M}",
            str(d["decision"] or ""),
        )
    console.print(table)


@classifier_app.command("promote")
def promote_command(version: str = typer.Argument(..., help="Version to make active.")) -> None:
    """Make a registered model active (its artifact is verified first)."""
    try:
        with unit_of_work() as session:
            row = promote(session, version)
            console.print(f"[green]{row.version} is now active[/]; serving picks it up within seconds")
    except ClassifierError as exc:
        fail(str(exc))


@classifier_app.command("rollback")
def rollback_command() -> None:
    """Re-activate the model that was active before the current one."""
    try:
        with unit_of_work() as session:
            now_active, retired = rollback(session)
            console.print(
                f"[green]rolled back[/]: {now_active.version} is active again (was {retired.version})"
            )
    except ClassifierError as exc:
        fail(str(exc))
