"""Knowledge-base benchmark: every figure is a ratio against a baseline measured in this process.

    .venv/bin/python bench/kb_bench.py [--encoder minilm] [--scales 10000,100000,1000000] [--queries 200]

1. search latency p50/p99 vs the bare encode of the same query (ratio; target p50 ≤ 1.3×);
2. ingest throughput (chunks/s) vs bare batch encode of the same chunk texts (target ≥ 0.9×);
3. re-ingest of an unchanged KB vs the full ingest (target ≤ 5%);
4. dense search at scale on SYNTHETIC clustered vectors (not real embeddings): latency p50/p99,
   recall@10 against exact search, and resident memory of the index (target at 1M: p99 ≤ 10 ms,
   recall@10 ≥ 0.95, ≤ 2 GB).
The KB for 1-3 is examples/kb plus, when ../shared is present, the StackFAQ corpus (BEIR JSONL).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb_index.chunking import chunk_article  # noqa: E402
from kb_index.dense import build_dense, choose_params  # noqa: E402
from kb_index.encoders import load_encoder  # noqa: E402
from kb_index.ingest import build_index, load_sources  # noqa: E402
from kb_index.searcher import LiveSearcher  # noqa: E402

STACKFAQ = ROOT.parent / "shared" / "data" / "retrieval" / "stackfaq"


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def peak_rss_bytes() -> int:
    """Peak resident memory of this whole process so far (includes the model and the test data)."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def kb_sources() -> list[Path]:
    sources = [ROOT / "examples" / "kb"]
    if (STACKFAQ / "corpus.jsonl").exists():
        sources.append(STACKFAQ / "corpus.jsonl")
    return [s for s in sources if s.exists()]


def questions(limit: int) -> list[str]:
    path = STACKFAQ / "queries.jsonl"
    if path.exists():
        rows = [json.loads(line)["text"] for line in path.read_text("utf-8").splitlines() if line.strip()]
    else:
        rows = [
            "how do I reset my password",
            "vpn keeps disconnecting",
            "printer paper jam",
            "set up MFA on a new phone",
        ]
    return (rows * (limit // len(rows) + 1))[:limit]


def bench_pipeline(encoder_name: str, n_queries: int) -> dict[str, float]:
    encoder = load_encoder(encoder_name)
    loaded = load_sources(kb_sources())
    texts: list[str] = []
    for article in loaded.articles:
        texts.extend(c.search_text for c in chunk_article(article))
    unique = list(dict.fromkeys(texts))
    encoder.encode_passages(unique[:32])  # warm-up

    start = time.perf_counter()
    encoder.encode_passages(unique)
    bare_s = time.perf_counter() - start
    bare_tp = len(unique) / bare_s

    with tempfile.TemporaryDirectory(prefix="kb-bench-") as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        full = build_index(root, loaded.articles, encoder)
        full_s = time.perf_counter() - start
        ingest_tp = full.chunks_embedded / full_s
        start = time.perf_counter()
        again = build_index(root, load_sources(kb_sources()).articles, encoder)  # re-read sources too
        reingest_s = time.perf_counter() - start

        searcher = LiveSearcher(root, encoder)
        qs = questions(n_queries)
        for q in qs[:10]:
            searcher.search(q)
            encoder.encode_queries([q])
        search_ms, encode_ms = [], []
        for q in qs:  # interleaved so background load hits both equally
            t0 = time.perf_counter()
            encoder.encode_queries([q])
            t1 = time.perf_counter()
            searcher.search(q)
            t2 = time.perf_counter()
            encode_ms.append((t1 - t0) * 1000)
            search_ms.append((t2 - t1) * 1000)
    return {
        "articles": len(loaded.articles),
        "chunks": full.chunks_embedded,
        "bare_encode_chunks_per_s": bare_tp,
        "ingest_chunks_per_s": ingest_tp,
        "ingest_vs_bare_encode": ingest_tp / bare_tp,
        "full_ingest_s": full_s,
        "unchanged_reingest_s": reingest_s,
        "reingest_vs_full": reingest_s / full_s,
        "reingest_chunks_embedded": float(again.chunks_embedded),
        "encode_p50_ms": statistics.median(encode_ms),
        "encode_p99_ms": percentile(encode_ms, 99),
        "search_p50_ms": statistics.median(search_ms),
        "search_p99_ms": percentile(search_ms, 99),
        "search_vs_encode_p50": statistics.median(search_ms) / statistics.median(encode_ms),
        "search_vs_encode_p99": percentile(search_ms, 99) / percentile(encode_ms, 99),
    }


def synthetic(n: int, centers: np.ndarray, rng: np.random.Generator, noise: float = 0.06) -> np.ndarray:
    """Clustered unit vectors: a topic centre plus noise (cosine to the centre about 0.6-0.7)."""
    picks = rng.integers(0, len(centers), n)
    out = centers[picks] + rng.normal(0.0, noise, (n, centers.shape[1])).astype(np.float32)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out.astype(np.float32)


def bench_scale(n: int, n_queries: int, dim: int = 384, seed: int = 0) -> dict[str, float | str]:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(max(100, n // 200), dim)).astype(np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    queries = synthetic(n_queries, centers, rng)
    params = choose_params(n)
    batch = max(100_000, 40 * params.nlist)  # the first batch also trains IVF
    start = time.perf_counter()
    first = synthetic(min(n, batch), centers, rng)
    index = build_dense(first, params)  # trains on the first batch (IVF), adds it
    # exact ground truth kept incrementally, so the 1M vectors are never held twice
    gt_scores = np.full((n_queries, 10), -np.inf, dtype=np.float32)
    gt_ids = np.zeros((n_queries, 10), dtype=np.int64)

    def merge(block: np.ndarray, offset: int) -> None:
        nonlocal gt_scores, gt_ids
        sims = queries @ block.T
        top = np.argpartition(-sims, 10, axis=1)[:, :10]
        scores = np.take_along_axis(sims, top, axis=1)
        all_s = np.hstack([gt_scores, scores])
        all_i = np.hstack([gt_ids, top + offset])
        keep = np.argsort(-all_s, axis=1)[:, :10]
        gt_scores = np.take_along_axis(all_s, keep, axis=1)
        gt_ids = np.take_along_axis(all_i, keep, axis=1)

    merge(first, 0)
    added = len(first)
    del first
    while added < n:
        block = synthetic(min(batch, n - added), centers, rng)
        index.add(block)
        merge(block, added)
        added += len(block)
        del block
    build_s = time.perf_counter() - start
    # bytes of the index's data structures (what it occupies in RAM), via faiss' own serialiser
    ram = int(faiss.serialize_index(index).nbytes)
    faiss.omp_set_num_threads(1)
    for q in queries[:10]:
        index.search(q[None, :], 10)
    lat, found = [], []
    for q in queries:
        t0 = time.perf_counter()
        _, ids = index.search(q[None, :], 10)
        lat.append((time.perf_counter() - t0) * 1000)
        found.append(ids[0])
    recall = float(
        np.mean([len(set(f.tolist()) & set(g.tolist())) / 10 for f, g in zip(found, gt_ids, strict=True)])
    )
    return {
        "vectors": n,
        "index": json.dumps(params.as_dict()),
        "build_s": build_s,
        "search_p50_ms": statistics.median(lat),
        "search_p99_ms": percentile(lat, 99),
        "recall@10_vs_exact": recall,
        "index_ram_gb": ram / 1e9,
        "process_peak_rss_gb": peak_rss_bytes() / 1e9,
    }


def show(figures: dict[str, float] | dict[str, float | str]) -> None:
    for key, value in figures.items():
        print(f"{key:28s} {value:.4f}" if isinstance(value, float) else f"{key:28s} {value}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--encoder", default="minilm")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--scales", default="10000,100000,1000000")
    parser.add_argument("--skip-pipeline", action="store_true")
    args = parser.parse_args()
    if not args.skip_pipeline:
        print(f"# pipeline ({args.encoder}) — KB: {', '.join(str(s) for s in kb_sources())}")
        show(bench_pipeline(args.encoder, args.queries))
    for n in [int(s) for s in args.scales.split(",") if s]:
        print(f"# scale: {n} SYNTHETIC clustered 384-d vectors (dense side only; not real embeddings)")
        show(bench_scale(n, args.queries))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
