"""Lexical tokens for BM25: Latin words stemmed, CJK runs as character unigrams and bigrams.

Chinese has no spaces, so whitespace tokenisation would make a whole sentence one token; unigrams
plus bigrams of each CJK run match words without a dictionary (the usual trick for CJK BM25).

Question words and particles (怎么办, 如何, 一直, 吗 …) are cut out of a run before it is split
into n-grams, the way English stop words are dropped. Without that, a KB whose only "怎么办" is in
one article's title ranks that article first for every "… 怎么办" question (the audit's
"VPN 一直断开怎么办" got the password article). Negations that change the meaning (不能, 无法,
没有) are deliberately kept.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import bm25s.stopwords

_CJK_CHARS = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
# A Latin word stops where CJK starts: "VPN连不上" is "vpn" plus a CJK run, not one unknown token.
_TOKEN_RE = re.compile(rf"[{_CJK_CHARS}]+|[^\W_{_CJK_CHARS}]+(?:['’][^\W_{_CJK_CHARS}]+)?", re.UNICODE)
_CJK_RE = re.compile(rf"[{_CJK_CHARS}]")
_STOPWORDS = frozenset(bm25s.stopwords.STOPWORDS_EN)

# Chinese question words, hedges and pronouns: the counterparts of English stop words such as
# "how", "why", "what", "where", "please", "my", "always". A run is split at each of them.
CJK_FILLER_WORDS = (
    "怎么回事",
    "怎么办",
    "怎么样",
    "怎么弄",
    "为什么",
    "为啥",
    "怎么",
    "怎样",
    "如何",
    "请问",
    "麻烦",
    "帮忙",
    "一直",
    "总是",
    "老是",
    "我的",
    "我们",
    "你们",
    "什么",
    "是否",
    "可以",
    "一下",
    "哪里",
    "哪儿",
    "哪些",
    "哪个",
    "多少",
    "谢谢",
)
# Single characters that are grammar, not topic: dropped as unigrams; the particles that end a
# question (吗, 呢 …) also split a run, so "连不上吗" does not yield the bigram "上吗".
_CJK_STOP_CHARS = frozenset("的了吗呢吧啊呀嘛哦我你是在")
_CJK_SPLIT_RE = re.compile(
    "|".join(sorted(CJK_FILLER_WORDS, key=len, reverse=True)) + "|[的了吗呢吧啊呀嘛哦]"
)


@dataclass(frozen=True)
class QueryTerms:
    """A question's tokens by script, so a mixed question can weigh its Latin words fairly."""

    latin: list[str]
    cjk: list[str]


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


def _cjk_tokens(run: str) -> list[str]:
    """Unigrams and bigrams of each piece of the run left after cutting out filler words."""
    tokens: list[str] = []
    for piece in _CJK_SPLIT_RE.split(run):
        tokens.extend(ch for ch in piece if ch not in _CJK_STOP_CHARS)
        tokens.extend(piece[i : i + 2] for i in range(len(piece) - 1))
    return tokens


def tokenize(text: str) -> list[str]:
    """Lower-cased, stemmed Latin words (no stop words) + CJK unigrams and bigrams (no filler)."""
    tokens: list[str] = []
    for match in _TOKEN_RE.finditer(text.lower()):
        run = match.group(0)
        if _CJK_RE.match(run):
            tokens.extend(_cjk_tokens(run))
        elif run not in _STOPWORDS:
            tokens.append(_stem(run.replace("’", "'")))
    return tokens


def query_terms(text: str) -> QueryTerms:
    """The tokens of `tokenize`, split into Latin words and CJK n-grams."""
    tokens = tokenize(text)
    return QueryTerms(
        latin=[t for t in tokens if not _CJK_RE.match(t)], cjk=[t for t in tokens if _CJK_RE.match(t)]
    )


def has_cjk(text: str) -> bool:
    return _CJK_RE.search(text) is not None
