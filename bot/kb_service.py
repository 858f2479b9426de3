"""The knowledge base as the engine and the CLI see it: configured by Settings, built from
`kb_index`, recorded in the database.

`open_searcher` gives a searcher that follows index swaps; `ingest_configured` reads the
configured sources (plus approved drafts in <data_dir>/kb_published), records article versions
in the caller's session (no commit) and builds the index; `calibrate_configured` fits the
confidence model on the live index.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from bot.settings import Settings
from kb_index.calibration import Calibration, default_calibration
from kb_index.catalog import sync_catalog
from kb_index.encoders import load_encoder
from kb_index.errors import IndexMissingError
from kb_index.evaluation import calibrate_on_beir, calibrate_on_index
from kb_index.ingest import IngestReport, build_index, load_sources
from kb_index.searcher import LiveSearcher
from kb_index.store import current_build_id
from kb_index.types import SearchResult

__all__ = [
    "IngestReport",
    "KnowledgeSearcher",
    "calibrate_configured",
    "configured_sources",
    "ingest_configured",
    "open_searcher",
]

ProgressCallback = Callable[[int, int], None]


class KnowledgeSearcher:
    """Hybrid search with calibrated confidence; picks up a re-ingested index without restart."""

    def __init__(self, live: LiveSearcher, top_k: int) -> None:
        self._live = live
        self._top_k = top_k

    def search(
        self, query: str, *, audiences: frozenset[str] = frozenset({"public"}), k: int | None = None
    ) -> SearchResult:
        return self._live.search(query, audiences=audiences, k=k or self._top_k)

    @property
    def build_id(self) -> str:
        return self._live.current.index.build_id

    @property
    def calibration(self) -> Calibration:
        return self._live.current.calibration


def _missing_message(settings: Settings) -> str:
    return f"no knowledge base index at {settings.kb_index_path} — run `tierline kb ingest examples/kb`"


def open_searcher(settings: Settings) -> KnowledgeSearcher:
    """Open the index at settings.kb_index_path with the configured encoder.

    Raises IndexMissingError when nothing was ingested yet, EncoderMismatchError when the index was
    built with another encoder.
    """
    root = settings.kb_index_path
    if current_build_id(root) is None:
        raise IndexMissingError(_missing_message(settings))
    encoder = load_encoder(settings.kb_encoder)
    return KnowledgeSearcher(LiveSearcher(root, encoder, settings.kb_answer_threshold), settings.kb_top_k)


def configured_sources(settings: Settings) -> list[Path]:
    """The KB sources from TIERLINE_KB_SOURCES (approved drafts come on top, see `published_sources`)."""
    return [Path(p.strip()) for p in settings.kb_sources.split(",") if p.strip()]


def published_sources(settings: Settings) -> list[Path]:
    """Approved KB drafts: always part of the KB, and they replace an article with the same id."""
    published = settings.data_dir / "kb_published"
    return [published] if published.exists() else []


def ingest_configured(
    settings: Settings,
    session: Session,
    paths: list[Path] | None = None,
    progress: bool | ProgressCallback = False,
) -> IngestReport:
    """Ingest `paths` (default: the configured sources) into the index and the article catalog.

    The given sources are the whole KB: articles no longer in them are removed (articles of a file
    that failed to parse stay as they were). `progress=True` shows a Rich progress bar.
    """
    sources = list(paths) if paths else configured_sources(settings)
    encoder = load_encoder(settings.kb_encoder)
    loaded = load_sources(sources, overrides=published_sources(settings))
    bad_files = {path for path, _ in loaded.skipped}
    changes = sync_catalog(session, loaded.articles, keep_sources=bad_files)
    if callable(progress):
        report = build_index(
            settings.kb_index_path,
            loaded.articles,
            encoder,
            versions=changes.versions,
            skipped=loaded.skipped,
            progress=progress,
        )
    elif progress:
        report = _with_progress_bar(settings, loaded.articles, encoder, changes.versions, loaded.skipped)
    else:
        report = build_index(
            settings.kb_index_path,
            loaded.articles,
            encoder,
            versions=changes.versions,
            skipped=loaded.skipped,
        )
    # The database is the record of versions: report its view of what changed.
    report.added, report.updated = changes.added, changes.updated
    report.unchanged, report.removed = changes.unchanged, changes.removed
    return report


def _with_progress_bar(
    settings: Settings,
    articles: list[Any],
    encoder: Any,
    versions: dict[str, int],
    skipped: list[tuple[str, str]],
) -> IngestReport:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("embedding chunks"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task("embed", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return build_index(
            settings.kb_index_path, articles, encoder, versions=versions, skipped=skipped, progress=update
        )


def calibrate_configured(
    settings: Settings,
    queries: Path | None = None,
    qrels: Path | None = None,
    target_precision: float = 0.95,
    *,
    beir: Path | None = None,
) -> Calibration:
    """Fit confidence + threshold and store it beside the index (the searcher picks it up).

    With queries + qrels: on the CURRENT index (queries without a qrels line are out-of-KB
    negatives). With `beir`: on a temporary index of beir/corpus.jsonl with 20% of documents held
    out as out-of-KB.
    """
    encoder = load_encoder(settings.kb_encoder)
    base = default_calibration(encoder.key)
    root = settings.kb_index_path
    if beir is not None:
        return calibrate_on_beir(beir, encoder, root, target_precision=target_precision, base=base)
    if queries is None or qrels is None:
        raise ValueError("calibrate needs either beir or both queries and qrels")
    if current_build_id(root) is None:
        raise IndexMissingError(_missing_message(settings))
    return calibrate_on_index(root, encoder, queries, qrels, target_precision=target_precision, base=base)
