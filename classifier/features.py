"""Character n-grams that cost one pass per distinct word, not per word occurrence.

`TfidfVectorizer(analyzer="char_wb")` slices every word of every ticket into n-grams in Python,
which dominates a 50k-ticket retrain. Ticket wording repeats heavily, so this transformer counts
words per ticket (a sparse docs × words matrix), slices each distinct word once (a sparse
words × n-grams matrix), and multiplies the two: the same char_wb counts, computed in C. Words
never seen in training are sliced on the fly at transform time, so misspellings and new product
names still match known n-grams — the point of char n-grams.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfTransformer, strip_accents_unicode

_WHITESPACE = re.compile(r"\s\s+")


def word_ngrams(word: str, min_n: int, max_n: int) -> list[str]:
    """char_wb n-grams of one word, padded with a space each side (as scikit-learn does)."""
    padded = f" {word} "
    out: list[str] = []
    for n in range(min_n, max_n + 1):
        if len(padded) <= n:
            out.append(padded)
            break
        out.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return out


class WordCharNgrams(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """TF-IDF over char_wb n-grams, computed through a word × n-gram matrix (see module doc)."""

    def __init__(
        self,
        ngram_range: tuple[int, int] = (2, 5),
        min_df: int = 2,
        max_features: int | None = None,
        sublinear_tf: bool = True,
    ) -> None:
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf

    @staticmethod
    def words(doc: str) -> list[str]:
        return _WHITESPACE.sub(" ", strip_accents_unicode(doc.lower())).split()

    def _slice(self, words: Sequence[str], vocabulary: dict[str, int], grow: bool = False) -> sp.csr_matrix:
        """words × n-grams counts over `vocabulary`; n-grams outside it are dropped, or added to it
        (in order of first appearance) when `grow` — fitting slices every word just once."""
        indptr = [0]
        indices: list[int] = []
        data: list[int] = []
        lo, hi = self.ngram_range
        for word in words:
            counts: dict[int, int] = {}
            for gram in word_ngrams(word, lo, hi):
                j = vocabulary.get(gram)
                if j is None:
                    if not grow:
                        continue
                    j = vocabulary[gram] = len(vocabulary)
                counts[j] = counts.get(j, 0) + 1
            indices.extend(counts)
            data.extend(counts.values())
            indptr.append(len(indices))
        return sp.csr_matrix(
            (np.asarray(data, dtype=np.float64), np.asarray(indices, dtype=np.int64), np.asarray(indptr)),
            shape=(len(words), len(vocabulary)),
        )

    def _doc_word_counts(
        self, docs: Iterable[str], word_index: dict[str, int], grow: bool
    ) -> tuple[sp.csr_matrix, list[str]]:
        """docs × words counts; unknown words get new columns (returned) when `grow`."""
        new_words: list[str] = []
        indptr = [0]
        indices: list[int] = []
        data: list[int] = []
        local = dict(word_index) if not grow else word_index
        for doc in docs:
            counts: dict[int, int] = {}
            for word in self.words(doc):
                j = local.get(word)
                if j is None:
                    j = len(local)
                    local[word] = j
                    new_words.append(word)
                counts[j] = counts.get(j, 0) + 1
            indices.extend(counts)
            data.extend(counts.values())
            indptr.append(len(indices))
        matrix = sp.csr_matrix(
            (np.asarray(data, dtype=np.float64), np.asarray(indices, dtype=np.int64), np.asarray(indptr)),
            shape=(len(indptr) - 1, len(local)),
        )
        return matrix, new_words

    def fit_transform(self, raw_documents: Sequence[str], y: Any = None, **_: Any) -> sp.csr_matrix:
        word_index: dict[str, int] = {}
        doc_words, _new = self._doc_word_counts(raw_documents, word_index, grow=True)
        words = sorted(word_index, key=word_index.__getitem__)
        gram_index: dict[str, int] = {}
        word_grams = self._slice(words, gram_index, grow=True)
        counts = sp.csr_matrix(doc_words @ word_grams)
        # Document frequency straight from the column indices (a product has one entry per
        # (row, column)): the same numbers as (counts > 0).sum(0) without a boolean copy.
        df = np.bincount(counts.indices, minlength=counts.shape[1])
        keep = np.flatnonzero(df >= self.min_df)
        if self.max_features is not None and len(keep) > self.max_features:
            totals = np.asarray(counts.sum(axis=0)).ravel()[keep]
            keep = np.sort(keep[np.argsort(-totals, kind="stable")[: self.max_features]])
        grams = sorted(gram_index, key=gram_index.__getitem__)
        self.vocabulary_ = {grams[j]: i for i, j in enumerate(keep)}
        self.word_index_ = word_index
        self.word_grams_ = sp.csr_matrix(word_grams[:, keep])
        counts = sp.csr_matrix(counts[:, keep])
        self.tfidf_ = TfidfTransformer(sublinear_tf=self.sublinear_tf)
        return sp.csr_matrix(self.tfidf_.fit_transform(counts))

    def fit(self, raw_documents: Sequence[str], y: Any = None) -> WordCharNgrams:
        self.fit_transform(raw_documents)
        return self

    def transform(self, raw_documents: Sequence[str]) -> sp.csr_matrix:
        doc_words, new_words = self._doc_word_counts(raw_documents, self.word_index_, grow=False)
        word_grams = self.word_grams_
        if new_words:
            word_grams = sp.vstack([word_grams, self._slice(new_words, self.vocabulary_)], format="csr")
        counts = sp.csr_matrix(doc_words @ word_grams)
        return sp.csr_matrix(self.tfidf_.transform(counts))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray[Any, Any]:
        names = sorted(self.vocabulary_, key=self.vocabulary_.__getitem__)
        return np.asarray(names, dtype=object)


class TicketFeatures(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Word 1–2-gram TF-IDF next to char_wb n-gram TF-IDF, side by side in one sparse matrix.

    A plain `FeatureUnion` would do, but it dispatches through joblib on every call, which costs
    milliseconds per single-ticket prediction; this calls both parts directly.
    """

    def __init__(
        self,
        word_ngrams: tuple[int, int] = (1, 2),
        char_ngrams: tuple[int, int] = (3, 5),
        char_min_df: int = 2,
        max_char_features: int | None = None,
        word_min_df: int = 1,
    ) -> None:
        self.word_min_df = word_min_df
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.char_min_df = char_min_df
        self.max_char_features = max_char_features

    def fit_transform(self, raw_documents: Sequence[str], y: Any = None, **_: Any) -> sp.csr_matrix:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.word_ = TfidfVectorizer(
            ngram_range=self.word_ngrams,
            sublinear_tf=True,
            strip_accents="unicode",
            min_df=self.word_min_df,
            dtype=np.float64,
        )
        self.char_ = WordCharNgrams(self.char_ngrams, self.char_min_df, self.max_char_features)
        docs = list(raw_documents)
        matrix = sp.hstack([self.word_.fit_transform(docs), self.char_.fit_transform(docs)], format="csr")
        # scikit-learn keeps every pruned term for introspection only; at 50k tickets that set
        # dominates the pickled model (and its save time), so drop it as its docs suggest.
        if hasattr(self.word_, "stop_words_"):
            del self.word_.stop_words_
        return matrix

    def fit(self, raw_documents: Sequence[str], y: Any = None) -> TicketFeatures:
        self.fit_transform(raw_documents)
        return self

    def transform(self, raw_documents: Sequence[str]) -> sp.csr_matrix:
        docs = list(raw_documents)
        return sp.hstack([self.word_.transform(docs), self.char_.transform(docs)], format="csr")

    def sparse_one(self, text: str) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Column indices and TF-IDF values of one text, the same numbers as `transform([text])`.

        Serving classifies one ticket at a time; going through scikit-learn's batch machinery for
        a single row costs milliseconds of validation and matrix assembly, this costs microseconds.
        """
        analyzer = self.__dict__.get("_word_analyzer")
        if analyzer is None:
            analyzer = self.word_.build_analyzer()
            self.__dict__["_word_analyzer"] = analyzer
        word_idx, word_val = _weigh(
            _count(analyzer(text), self.word_.vocabulary_), self.word_.idf_, self.word_.sublinear_tf
        )
        char = self.char_
        counts: dict[int, float] = {}
        grams = char.word_grams_
        lo, hi = char.ngram_range
        for word in char.words(text):
            row = char.word_index_.get(word)
            if row is not None:
                start, end = grams.indptr[row], grams.indptr[row + 1]
                for j, v in zip(
                    grams.indices[start:end].tolist(), grams.data[start:end].tolist(), strict=True
                ):
                    counts[j] = counts.get(j, 0.0) + v
            else:
                for gram in word_ngrams(word, lo, hi):
                    j = char.vocabulary_.get(gram)
                    if j is not None:
                        counts[j] = counts.get(j, 0.0) + 1.0
        char_idx, char_val = _weigh(counts, char.tfidf_.idf_, char.sublinear_tf)
        offset = len(self.word_.vocabulary_)
        return np.concatenate([word_idx, char_idx + offset]), np.concatenate([word_val, char_val])

    def __getstate__(self) -> dict[str, Any]:
        state: dict[str, Any] = super().__getstate__()
        state.pop("_word_analyzer", None)  # a closure: rebuilt on first use after loading
        return state


def _count(tokens: Iterable[str], vocabulary: dict[str, int]) -> dict[int, float]:
    counts: dict[int, float] = {}
    for token in tokens:
        j = vocabulary.get(token)
        if j is not None:
            counts[j] = counts.get(j, 0.0) + 1.0
    return counts


def _weigh(
    counts: dict[int, float], idf: NDArray[np.float64], sublinear: bool
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """TF-IDF weighting and L2 normalisation of one row, as TfidfTransformer does it."""
    if not counts:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    idx = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
    tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
    if sublinear:
        tf = np.log(tf) + 1.0
    values = tf * idf[idx]
    norm = float(np.sqrt(values @ values))
    return idx, values / norm if norm > 0 else values
