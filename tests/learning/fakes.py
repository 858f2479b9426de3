"""A small, deterministic stand-in for the embedding model: bag of words hashed into 256 dims.

Texts sharing most words get a cosine near 1, unrelated texts near 0, which is all the learning
loop's plumbing needs; the tests that judge *semantic* similarity use the real MiniLM model.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "to",
        "of",
        "in",
        "on",
        "my",
        "is",
        "and",
        "or",
        "for",
        "it",
        "i",
        "me",
        "we",
        "our",
        "at",
        "with",
        "from",
        "not",
        "after",
    ]
)


class BagOfWordsEncoder:
    key = "fake-bow"
    name = "fake bag-of-words"
    revision = "1"
    dim = 256
    multilingual = False

    def __init__(self) -> None:
        self.calls = 0
        self.texts_encoded = 0

    def _encode(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        self.texts_encoded += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                if word in STOP:
                    continue
                h = int(hashlib.md5(word.encode()).hexdigest()[:8], 16)
                out[i, h % self.dim] += 1.0
            norm = np.linalg.norm(out[i])
            if norm:
                out[i] /= norm
        return out

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)
