"""Building and incrementally updating an index from knowledge-base sources.

Re-ingest is incremental: a chunk whose content hash is already in the live build reuses its
vector (no encoder call), so an unchanged KB re-ingests in a small fraction of a full ingest.
Articles that disappeared from the sources disappear from the index; articles of a file that
failed to parse are carried over unchanged, so a typo in one file never empties the KB.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kb_index.chunking import chunk_article
from kb_index.dense import EXACT_LIMIT, build_dense, choose_params
from kb_index.documents import (
    SUPPORTED_SUFFIXES,
    Article,
    display_path,
    iter_source_files,
    load_file,
    unsupported_files,
)
from kb_index.encoders import Encoder
from kb_index.errors import KBError, SourceError, SourcesMissingError
from kb_index.lexical import LexicalIndex
from kb_index.store import ChunkRecord, LoadedIndex, current_build_id, load_index, read_manifest, write_build

ProgressCallback = Callable[[int, int], None]
EMBED_BATCH = 32


@dataclass
class SourceLoad:
    articles: list[Article]
    skipped: list[tuple[str, str]]  # (path, reason)
    files: int
    # Article ids whose original was replaced by a file in an override folder (e.g. approved drafts).
    overridden: list[str] = field(default_factory=list)


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    carried_over: list[str] = field(default_factory=list)  # kept from a file that failed to parse
    chunks_embedded: int = 0
    chunks_reused: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    build_id: str | None = None
    index_path: str = ""
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "carried_over": self.carried_over,
            "chunks_embedded": self.chunks_embedded,
            "chunks_reused": self.chunks_reused,
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "build_id": self.build_id,
            "index_path": self.index_path,
            "seconds": round(self.seconds, 3),
        }


def load_sources(paths: Iterable[Path], overrides: Iterable[Path] = ()) -> SourceLoad:
    """Read every supported file; a bad file is recorded with its reason and skipped.

    Articles read from `overrides` (folders of deliberately published versions, such as approved
    KB drafts) replace the article with the same id in `paths` instead of clashing with it; two
    files with one id anywhere else is an error that skips the later file.
    """
    override_roots = [p for p in overrides if p.exists()]
    first = _load_roots(override_roots, required=False)
    rest = _load_roots([p for p in paths if p not in override_roots], required=True)
    articles = first.articles + [a for a in rest.articles if a.id not in first.ids()]
    overridden = sorted({a.id for a in rest.articles} & first.ids())
    return SourceLoad(articles, first.skipped + rest.skipped, first.files + rest.files, overridden)


@dataclass
class _RootsLoad:
    articles: list[Article]
    skipped: list[tuple[str, str]]
    files: int

    def ids(self) -> set[str]:
        return {a.id for a in self.articles}


UNSUPPORTED = "not read: ingest reads Markdown, HTML, text and FAQ CSV/JSONL files"
READABLE = "Markdown, HTML, text or FAQ CSV/JSONL"


def _load_roots(paths: Iterable[Path], *, required: bool) -> _RootsLoad:
    """Load files under `paths`; two files with one id skip the later file.

    A `required` path that is missing or holds no readable file is refused (SourcesMissingError)
    before anything is read: a mistyped path would otherwise empty the knowledge base."""
    articles: list[Article] = []
    skipped: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    files = 0
    for root in paths:
        if not root.exists() and required:
            raise SourcesMissingError(
                f"{display_path(root)}: no such file or folder; nothing was changed (ingest would have "
                "removed every article that came from it)"
            )
        readable = list(iter_source_files([root]))
        if root.is_dir():
            skipped.extend((display_path(p), UNSUPPORTED) for p in unsupported_files(root))
        unreadable = not readable or (root.is_file() and root.suffix.lower() not in SUPPORTED_SUFFIXES)
        if unreadable and required:
            raise SourcesMissingError(
                f"{display_path(root)} holds no knowledge-base files ({READABLE}); nothing was changed"
            )
        base = root if root.is_dir() else root.parent
        for path in readable:
            files += 1
            try:
                loaded = load_file(path, base)
                for article in loaded:
                    if article.id in seen:
                        raise SourceError(
                            f"{display_path(path)}: article id {article.id!r} is already used by "
                            f"{seen[article.id]}"
                        )
            except SourceError as exc:
                skipped.append((display_path(path), str(exc)))
                continue
            for article in loaded:
                seen[article.id] = display_path(path)
            articles.extend(loaded)
    return _RootsLoad(articles, skipped, files)


def _previous(root: Path, encoder: Encoder) -> LoadedIndex | None:
    """The live build, if it was made with this encoder (else everything is embedded afresh)."""
    if current_build_id(root) is None:
        return None
    try:
        return load_index(root, encoder)
    except KBError:
        return None


def build_index(
    root: Path,
    articles: list[Article],
    encoder: Encoder,
    *,
    versions: dict[str, int] | None = None,
    skipped: list[tuple[str, str]] | None = None,
    progress: ProgressCallback | None = None,
    exact_limit: int = EXACT_LIMIT,
    ann_kind: str = "ivf",
) -> IngestReport:
    """Build a new index build from `articles` (reusing vectors of unchanged chunks) and swap it in.

    `versions` (from the database) wins over the index's own version count when given.
    """
    started = time.perf_counter()
    report = IngestReport(skipped=list(skipped or []), index_path=str(root))
    previous = _previous(root, encoder)
    old_manifest = previous.manifest if previous else _readable_manifest(root)
    old_articles: dict[str, dict[str, Any]] = dict((old_manifest or {}).get("articles", {}))

    # Articles of files that failed to parse stay as they were (bad input loses nothing).
    bad_files = {path for path, _ in report.skipped}
    current_ids = {a.id for a in articles}
    carried = {
        aid
        for aid, meta in old_articles.items()
        if meta.get("source_path") in bad_files and aid not in current_ids
    }

    article_meta: dict[str, dict[str, Any]] = {}
    records: list[ChunkRecord] = []
    for article in articles:
        old = old_articles.get(article.id)
        if versions is not None and article.id in versions:
            version = versions[article.id]
        elif old is None:
            version = 1
        else:
            version = int(old["version"]) + (0 if old["hash"] == article.content_hash else 1)
        if old is None:
            report.added.append(article.id)
        elif old["hash"] == article.content_hash:
            report.unchanged.append(article.id)
        else:
            report.updated.append(article.id)
        article_meta[article.id] = {
            "title": article.title,
            "hash": article.content_hash,
            "version": version,
            "audience": article.audience,
            "url": article.url,
            "tags": list(article.tags),
            "source_path": article.source_path,
        }
        records.extend(ChunkRecord.from_chunk(c) for c in chunk_article(article, version))
    report.removed = sorted(set(old_articles) - current_ids - carried)

    reuse: dict[str, np.ndarray] = {}
    if previous is not None:
        for record in previous.chunks:
            if record.article_id in carried:
                records.append(record)
                article_meta[record.article_id] = old_articles[record.article_id]
        report.carried_over = sorted(carried)
        wanted = {r.content_hash for r in records}
        for row, record in enumerate(previous.chunks):
            if record.content_hash in wanted and record.content_hash not in reuse:
                reuse[record.content_hash] = np.asarray(previous.vectors[row])

    vectors = _embed(records, reuse, encoder, report, progress)
    params = choose_params(len(records), exact_limit, ann_kind)
    dense = build_dense(vectors, params)
    lexical = LexicalIndex.build([_search_text(r) for r in records])
    report.build_id = write_build(
        root,
        encoder=encoder,
        chunks=records,
        vectors=vectors,
        dense=dense,
        dense_params=params,
        lexical=lexical,
        articles=article_meta,
    )
    report.seconds = time.perf_counter() - started
    return report


def _readable_manifest(root: Path) -> dict[str, Any] | None:
    """The live manifest for version numbers, or None when the live build is unreadable:
    a fresh ingest is how a damaged index gets repaired, so it must not fail on it."""
    try:
        return read_manifest(root)
    except KBError:
        return None


def _search_text(record: ChunkRecord) -> str:
    head = (
        record.title
        if not record.section or record.section == record.title
        else f"{record.title} — {record.section}"
    )
    return f"{head}: {record.text}" if record.text else head


def _embed(
    records: list[ChunkRecord],
    reuse: dict[str, np.ndarray],
    encoder: Encoder,
    report: IngestReport,
    progress: ProgressCallback | None,
) -> np.ndarray:
    """Vectors for all records: reused by content hash, the rest encoded in length-sorted batches."""
    vectors = np.zeros((len(records), encoder.dim), dtype=np.float32)
    todo: dict[str, list[int]] = {}
    for row, record in enumerate(records):
        if record.content_hash in reuse:
            vectors[row] = reuse[record.content_hash]
            report.chunks_reused += 1
        else:
            todo.setdefault(record.content_hash, []).append(row)
    texts = {h: _search_text(records[rows[0]]) for h, rows in todo.items()}
    # Similar lengths per batch waste less padding (what sentence-transformers does internally).
    order = sorted(texts, key=lambda h: len(texts[h]))
    total = len(order)
    if progress:
        progress(0, total)
    for start in range(0, total, EMBED_BATCH):
        batch = order[start : start + EMBED_BATCH]
        encoded = encoder.encode_passages([texts[h] for h in batch])
        for h, vector in zip(batch, encoded, strict=True):
            for row in todo[h]:
                vectors[row] = vector
        if progress:
            progress(min(start + EMBED_BATCH, total), total)
    report.chunks_embedded = sum(len(rows) for rows in todo.values())
    return vectors


def ingest_paths(
    root: Path,
    paths: list[Path],
    encoder: Encoder,
    *,
    versions: dict[str, int] | None = None,
    progress: ProgressCallback | None = None,
) -> IngestReport:
    """Read sources and build the index: the whole ingest without a database."""
    loaded = load_sources(paths)
    return build_index(
        root, loaded.articles, encoder, versions=versions, skipped=loaded.skipped, progress=progress
    )
