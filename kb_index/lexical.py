"""The BM25 side (bm25s) over the same chunk texts the encoder sees, with CJK-aware tokens."""

from __future__ import annotations

from pathlib import Path

import bm25s
import numpy as np

from kb_index.tokenize import query_terms, tokenize

# In a question mixing scripts, the CJK n-grams' BM25 is scaled by this before adding the Latin
# words'. One Chinese word yields several tokens (a 2-character word: 2 unigrams + 1 bigram), one
# Latin word yields one, so unscaled the Chinese filler around "VPN" or "Outlook" outvoted it.
CJK_WEIGHT_IN_MIXED = 0.5


class LexicalIndex:
    """BM25 scores for every chunk; an empty query or an empty index scores all zeros."""

    def __init__(self, retriever: bm25s.BM25 | None, size: int) -> None:
        self._retriever = retriever
        self.size = size

    @classmethod
    def build(cls, texts: list[str]) -> LexicalIndex:
        tokens = [tokenize(t) for t in texts]
        if not any(tokens):
            return cls(None, len(texts))
        retriever = bm25s.BM25()
        retriever.index(tokens, show_progress=False)
        return cls(retriever, len(texts))

    def scores(self, query: str) -> np.ndarray:
        terms = query_terms(query)
        if not terms.latin or not terms.cjk:
            return self._scores(terms.latin or terms.cjk)
        return self._scores(terms.latin) + CJK_WEIGHT_IN_MIXED * self._scores(terms.cjk)

    def _scores(self, tokens: list[str]) -> np.ndarray:
        if self._retriever is None or not tokens:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._retriever.get_scores(tokens), dtype=np.float32)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        if self._retriever is not None:
            self._retriever.save(str(directory))

    @classmethod
    def load(cls, directory: Path, size: int) -> LexicalIndex:
        if not (directory / "params.index.json").exists():
            return cls(None, size)
        return cls(bm25s.BM25.load(str(directory)), size)
