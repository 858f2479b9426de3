"""What a search returns. The engine in `bot/` depends only on these shapes."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Passage:
    """One chunk of an article, with where it came from."""

    article_id: str
    title: str
    section: str
    text: str
    url: str | None
    audience: str  # "public" | "internal"
    version: int
    score: float
    # The article's next passage, given when this one is too short to answer on its own (an
    # intro sentence before "## Steps"): the reply shows both.
    following: Passage | None = None


@dataclass(frozen=True)
class ArticleHit:
    """Results grouped per article: the article's fused score and its best passages, best first."""

    article_id: str
    title: str
    url: str | None
    audience: str
    score: float
    passages: tuple[Passage, ...]

    @property
    def best(self) -> Passage:
        return self.passages[0]


@dataclass(frozen=True)
class SearchResult:
    """Hits plus how sure the index is that the first one answers the question.

    `confidence` is a calibrated probability (0..1) that `hits[0]` is the right article;
    `threshold` is the answer threshold from calibration (the engine may override it).
    `calibrated` is False when no calibrated model applies (a Chinese question on the English-only
    encoder is ranked by BM25 alone): `confidence` then only orders hits, and the result is
    never answerable, whatever the threshold.
    An empty KB or no hit is an ordinary result with no hits and confidence 0.
    `any_hit_confidence` is how likely one of `hits` (not only the first) is the right article;
    None when the searcher does not estimate it (then `confidence` stands in).
    """

    query: str
    hits: tuple[ArticleHit, ...]
    confidence: float
    threshold: float
    diagnostics: dict[str, float] = field(default_factory=dict)
    calibrated: bool = True
    any_hit_confidence: float | None = None

    @property
    def top(self) -> ArticleHit | None:
        return self.hits[0] if self.hits else None

    @property
    def suggestion_confidence(self) -> float:
        """How likely the hits, offered as a choice, hold the answer: two close printing articles
        make the first one a coin toss but the pair a safe thing to ask about."""
        return self.confidence if self.any_hit_confidence is None else self.any_hit_confidence

    def answerable(self, threshold: float | None = None) -> bool:
        limit = self.threshold if threshold is None else threshold
        return bool(self.hits) and self.calibrated and self.confidence >= limit
