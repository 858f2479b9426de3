"""`tierline kb ingest|search|calibrate|eval`: build, query and measure the knowledge base."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from bot.cli.apps import kb_app
from bot.cli.common import console, emit_json, fail, settings, unit_of_work
from bot.kb_service import calibrate_configured, ingest_configured, open_searcher
from kb_index.calibration import Calibration, default_calibration
from kb_index.encoders import load_encoder
from kb_index.errors import KBError
from kb_index.evaluation import evaluate_beir


@kb_app.command("ingest")
def ingest(
    paths: list[Path] = typer.Argument(
        None, help="Files or folders (default: TIERLINE_KB_SOURCES + approved drafts)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Ingest help articles (Markdown, HTML, text, FAQ CSV/JSONL); unchanged chunks are not re-embedded.

    The given sources are the whole knowledge base: articles that are no longer in them are removed.
    """
    cfg = settings()
    try:
        with unit_of_work(cfg) as session:
            report = ingest_configured(cfg, session, list(paths) if paths else None, progress=not as_json)
    except KBError as exc:
        fail(str(exc))
    if as_json:
        emit_json(report.as_dict())
        return
    for path, reason in report.skipped:
        console.print(f"[yellow]skipped[/] {path}: {reason}")
    console.print(
        f"[bold]{len(report.added)}[/] added, [bold]{len(report.updated)}[/] updated, "
        f"[bold]{len(report.unchanged)}[/] unchanged, [bold]{len(report.removed)}[/] removed; "
        f"{report.chunks_embedded} chunks embedded, {report.chunks_reused} reused; "
        f"{len(report.skipped)} files skipped; build {report.build_id} in {report.seconds:.1f}s "
        f"at {report.index_path}"
    )
    if report.carried_over:
        console.print(f"kept unchanged because their file failed to parse: {', '.join(report.carried_over)}")


@kb_app.command("search")
def search(
    query: str = typer.Argument(..., help="The question, as a user would ask it."),
    internal: bool = typer.Option(
        False, "--internal", help="Search as an engineer (includes internal articles)."
    ),
    k: int = typer.Option(0, "--k", help="Articles to show (default: TIERLINE_KB_TOP_K)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Search the knowledge base and say whether the engine would answer."""
    cfg = settings()
    audiences = frozenset({"public", "internal"}) if internal else frozenset({"public"})
    try:
        result = open_searcher(cfg).search(query, audiences=audiences, k=k or cfg.kb_top_k)
    except KBError as exc:
        fail(str(exc))
    if as_json:
        emit_json(
            {
                "query": result.query,
                "confidence": result.confidence,
                "threshold": result.threshold,
                "answerable": result.answerable(),
                "diagnostics": result.diagnostics,
                "hits": [
                    {
                        "article_id": h.article_id,
                        "title": h.title,
                        "url": h.url,
                        "audience": h.audience,
                        "score": h.score,
                        "passages": [
                            {"section": p.section, "text": p.text, "version": p.version, "score": p.score}
                            for p in h.passages
                        ],
                    }
                    for h in result.hits
                ],
            }
        )
        return
    verdict = (
        "[green]would answer[/]" if result.answerable() else "[yellow]would abstain (clarify or hand off)[/]"
    )
    console.print(f"confidence {result.confidence:.2f} (threshold {result.threshold:.2f}): {verdict}")
    table = Table("article", "score", "section", "passage")
    for hit in result.hits:
        best = hit.best
        table.add_row(
            f"{hit.title}\n[dim]{hit.article_id} v{best.version} {hit.audience}[/]",
            f"{hit.score:.3f}",
            best.section,
            best.text[:240],
        )
    console.print(table)


@kb_app.command("calibrate")
def calibrate(
    beir: Path | None = typer.Option(
        None, "--beir", help="BEIR folder: calibrate on a temporary index of its corpus."
    ),
    queries: Path | None = typer.Option(
        None, "--queries", help="queries.jsonl to run against the current index."
    ),
    qrels: Path | None = typer.Option(
        None, "--qrels", help="qrels TSV (queries without a line are out-of-KB)."
    ),
    target_precision: float = typer.Option(0.95, "--target-precision", min=0.5, max=1.0),
) -> None:
    """Fit the confidence model and choose the answer threshold that reaches the target precision."""
    if beir is None and (queries is None or qrels is None):
        fail("give --beir DIR, or both --queries FILE and --qrels FILE")
    cfg = settings()
    try:
        calibration = calibrate_configured(cfg, queries, qrels, target_precision, beir=beir)
    except KBError as exc:
        fail(str(exc))
    m = calibration.metrics
    console.print(
        f"threshold [bold]{calibration.threshold:.3f}[/] for answered precision ≥ {target_precision:.2f} "
        f"(on {int(m.get('queries', 0))} queries: "
        f"in-KB answer rate {m.get('answer_rate', 0):.2f}, "
        + (f"out-of-KB abstain rate {m['abstain_rate']:.2f}, " if "abstain_rate" in m else "")
        + f"answered precision {m.get('answered_precision', 0):.3f}); saved beside {cfg.kb_index_path}"
    )
    if "held_out_articles" in m:
        console.print(
            "every question has an answer in the knowledge base, so "
            f"{int(m['held_out_articles'])} of the articles they point to were held out and their "
            f"{int(m.get('out_of_kb_queries', 0))} questions stood in for questions it cannot answer"
        )
    if m.get("refitted") == 1.0:
        console.print("the confidence model was refitted on these questions")
    elif "refitted" in m:
        console.print("the shipped confidence model was kept; only the threshold was fitted")
    if calibration.threshold >= 1.0:
        console.print(
            "[yellow]the target precision was not reachable: the engine will hand off every question[/]"
        )


@kb_app.command("eval")
def evaluate(
    beir: Path = typer.Option(
        ..., "--beir", help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/test.tsv."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
    remove_fraction: float = typer.Option(
        0.0, "--remove-fraction", help="Drop this share of documents (their queries become out-of-KB)."
    ),
    seed: int = typer.Option(0, "--seed"),
    target_precision: float = typer.Option(0.95, "--target-precision", min=0.5, max=1.0),
) -> None:
    """Evaluate retrieval and abstention on a BEIR folder with the configured encoder."""
    cfg = settings()
    try:
        encoder = load_encoder(cfg.kb_encoder)
        stored = Calibration.load(cfg.kb_index_path)
        usable = stored is not None and stored.encoder.replace("-onnx", "") == encoder.key.replace(
            "-onnx", ""
        )
        calibration = stored if stored is not None and usable else default_calibration(encoder.key)
        with console.status("evaluating", spinner="dots") as status:
            result = evaluate_beir(
                beir,
                encoder,
                calibration=calibration,
                remove_fraction=remove_fraction,
                seed=seed,
                target_precision=target_precision,
                on_stage=lambda s: status.update(s),
            )
    except KBError as exc:
        fail(str(exc))
    if as_json:
        emit_json(result)
        return
    table = Table("metric", "value")
    for key, value in result.items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)
