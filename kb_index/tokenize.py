"""Lexical tokens for BM25: Latin words stemmed, CJK runs as character unigrams and bigrams.

Chinese has no spaces, so whitespace tokenisation would make a whole sentence one token; unigrams
plus bigrams of each CJK run match words without a dictionary (the usual trick for CJK BM25).
"""

from __future__ import annotations

import importlib
import re
from functools import lru_cache
from typing import Any

import bm25s.stopwords

_TOKEN_RE = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]+|[^\W_]+(?:['’][^\W_]+)?",
    re.UNICODE,
)
_CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")
_STOPWORDS = frozenset(bm25s.stopwords.STOPWORDS_EN)


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    """PyStemmer's English Snowball stemmer, or None when the package is absent (no stemming)."""
    try:
        module = importlib.import_module("Stemmer")
    except ImportError:
        return None
    return module.Stemmer("english")


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    stemmer = _stemmer()
    return str(stemmer.stemWord(word)) if stemmer is not None else word


def tokenize(text: str) -> list[str]:
    """Lower-cased, stemmed Latin words (no stop words) + CJK unigrams and bigrams."""
    tokens: list[str] = []
    for match in _TOKEN_RE.finditer(text.lower()):
        run = match.group(0)
        if _CJK_RE.match(run):
            tokens.extend(run)
            tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
        elif run not in _STOPWORDS:
            tokens.append(_stem(run.replace("’", "'")))
    return tokens


def has_cjk(text: str) -> bool:
    return _CJK_RE.search(text) is not None
