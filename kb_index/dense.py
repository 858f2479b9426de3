"""The FAISS side: exact inner product for small KBs, IVF above a size threshold.

Vectors are L2-normalised, so inner product is cosine. Exact search over 50k vectors of 384-d
costs about 2-5 ms on one core, well under one query encode; above that an IVF index keeps
search in the sub-millisecond-to-few-ms range (see bench/kb_bench.py for the measured trade-off).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

EXACT_LIMIT = 50_000


@dataclass(frozen=True)
class DenseParams:
    kind: str  # "flat" | "ivf" | "hnsw"
    nlist: int = 0
    nprobe: int = 0
    hnsw_m: int = 0
    ef_search: int = 0

    def as_dict(self) -> dict[str, int | str]:
        return {
            "kind": self.kind,
            "nlist": self.nlist,
            "nprobe": self.nprobe,
            "hnsw_m": self.hnsw_m,
            "ef_search": self.ef_search,
        }


def choose_params(n: int, exact_limit: int = EXACT_LIMIT, kind: str = "ivf") -> DenseParams:
    """Exact below `exact_limit`; otherwise IVF with ~4·√n lists (or HNSW when asked)."""
    if n <= exact_limit:
        return DenseParams("flat")
    if kind == "hnsw":
        return DenseParams("hnsw", hnsw_m=32, ef_search=64)
    nlist = int(2 ** round(math.log2(4 * math.sqrt(n))))
    return DenseParams("ivf", nlist=nlist, nprobe=max(8, nlist // 64))


def build_dense(vectors: np.ndarray, params: DenseParams, train_sample: int = 100_000, seed: int = 0) -> Any:
    dim = vectors.shape[1]
    index: Any
    if params.kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif params.kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, params.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = params.ef_search
    else:
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, params.nlist, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(seed)
        train_sample = max(train_sample, 40 * params.nlist)  # faiss wants ≥ 39 points per list
        sample = (
            vectors
            if len(vectors) <= train_sample
            else vectors[rng.choice(len(vectors), train_sample, replace=False)]
        )
        index.train(np.ascontiguousarray(sample, dtype=np.float32))
        index.nprobe = params.nprobe
    if len(vectors):
        for start in range(0, len(vectors), 100_000):
            index.add(np.ascontiguousarray(vectors[start : start + 100_000], dtype=np.float32))
    return index


def set_search_params(index: Any, params: DenseParams) -> None:
    if params.kind == "ivf":
        faiss.extract_index_ivf(index).nprobe = params.nprobe
    elif params.kind == "hnsw":
        index.hnsw.efSearch = params.ef_search


def save_dense(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def load_dense(path: Path, params: DenseParams) -> faiss.Index:
    index = faiss.read_index(str(path))
    set_search_params(index, params)
    return index
