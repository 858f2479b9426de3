"""Hybrid retrieval over one loaded build: dense + BM25, fused per article, with confidence.

Fusion, as measured on StackFAQ (604 queries, all-MiniLM-L6-v2, article = max over chunks):
  - dense over title-prefixed chunks alone: R@1 0.934, MRR@10 0.962; BM25 alone: R@1 0.700;
  - every article also gets a title-only chunk (people ask the question the title states):
    R@1 0.960, MRR@10 0.978;
  - plus a small lexical boost, LEXICAL_WEIGHT × (the article's best BM25 / the query's best
    BM25): weights 0.02-0.10 all gave R@1 0.960-0.965; 0.05 is kept (0.962 / 0.979 end to end).
    Weights ≥ 0.15 lowered R@1 again (0.957 at 0.15, 0.954 at 0.2), and z-score or min-max
    normalisation did no better: BM25 helps only as a tie-breaker between close articles.
  - adding multilingual-e5 as a second dense opinion did not beat this (0.962-0.965) and costs
    ~10x the encode time, so it is not the default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import faiss
import numpy as np

from kb_index.calibration import Calibration
from kb_index.chunking import link_share
from kb_index.store import ChunkRecord, LoadedIndex
from kb_index.tokenize import has_cjk, tokenize
from kb_index.types import ArticleHit, Passage, SearchResult

LEXICAL_WEIGHT = 0.05
DENSE_CANDIDATES = 200
LEXICAL_CANDIDATES = 50
PASSAGES_PER_ARTICLE = 3
# Passages that are mostly links (link hubs, "see also" lists) match many questions by the titles
# they list but answer none; their dense and BM25 scores are scaled by this. On 30 hand-written
# questions over ../shared's Chinese university KB (MiniLM), the YSU link index was in the top 3 for
# 63% of them at 1.0 and 50% at 0.6 (MRR 0.811 → 0.828); StackFAQ was unchanged.
LINK_HEAVY_SHARE = 0.5
LINK_HEAVY_WEIGHT = 0.6
# A best passage shorter than this many characters ("To reset the client, follow the steps
# below.") comes with the article's next passage, or the answer would be the intro alone.
SHORT_PASSAGE_CHARS = 200
# Passages of one article scored within this of its best are a tie, broken by their headings.
# 0.03 against 0.02, on the demo KB's questions: 6 best sections change, 4 for the better ("send
# my laptop back, i work remote": *Leavers* → *How to return it*; "anything i need to do with my
# laptop" abroad: the intro → *Before you go*), 1 for the worse ("shared inbox not showing up":
# *Where it appears* → *Sending from the shared mailbox*), 1 off-topic; and "deleted a folder on
# the shared drive" gets *Network drives* instead of *Emails*.
HEADING_TIE_MARGIN = 0.03
# A best passage for a platform the question does not name ("Mac") yields to a general one this close.
PLATFORM_MARGIN = 0.05
# Articles ranked past the hits shown, to tell how clearly the shown ones stand out as a group.
NOT_SHOWN_RIVALS = 4
# A passage that starts at step 2 or later of a numbered list is the middle of a procedure.
_MID_PROCEDURE = re.compile(r"\s*(\d+)[.)]\s")


@dataclass(frozen=True)
class RankedArticle:
    article_id: str
    fused: float
    dense: float
    lexical: float  # normalised 0..1 by the query's best BM25 score
    chunk_rows: tuple[int, ...]  # best first
    chunk_scores: tuple[float, ...]


def _allowed_mask(index: LoadedIndex, audiences: frozenset[str]) -> np.ndarray:
    return np.fromiter((c.audience in audiences for c in index.chunks), dtype=bool, count=len(index.chunks))


class BuildSearcher:
    """Searches one loaded build; cheap to create, so a swapped index gets a fresh one."""

    def __init__(
        self,
        index: LoadedIndex,
        calibration: Calibration,
        lexical_weight: float = LEXICAL_WEIGHT,
        *,
        multilingual: bool = True,
    ) -> None:
        self.index = index
        self.calibration = calibration
        self.lexical_weight = lexical_weight
        # An English-only encoder maps Chinese text to near-identical vectors (cosine ≈ 0.9 between
        # unrelated pages), so for CJK questions it must not lead: see `_lexical_first`.
        self.multilingual = multilingual
        self._article_ids = sorted({c.article_id for c in index.chunks})
        position = {a: i for i, a in enumerate(self._article_ids)}
        self._article_of = np.array([position[c.article_id] for c in index.chunks], dtype=np.int64)
        self._masks: dict[frozenset[str], np.ndarray] = {}
        self._row_of = {(c.article_id, c.ordinal): row for row, c in enumerate(index.chunks)}
        self._chunk_weight = np.array(
            [LINK_HEAVY_WEIGHT if link_share(c.text) >= LINK_HEAVY_SHARE else 1.0 for c in index.chunks],
            dtype=np.float32,
        )

    def _mask(self, audiences: frozenset[str]) -> np.ndarray:
        if audiences not in self._masks:
            self._masks[audiences] = _allowed_mask(self.index, audiences)
        return self._masks[audiences]

    def rank(
        self,
        query: str,
        query_vector: np.ndarray,
        audiences: frozenset[str],
        limit: int = 10,
        *,
        exclude: frozenset[str] = frozenset(),
    ) -> list[RankedArticle]:
        """Articles best first (at most `limit`), only those the audiences may read.

        `exclude` ranks as if those articles were not in the index (calibration holds some out so
        their questions stand in for questions the KB cannot answer, without re-embedding it).
        """
        index = self.index
        n = len(index.chunks)
        if n == 0:
            return []
        allowed = self._mask(audiences)
        if exclude:
            left_out = [i for i, a in enumerate(self._article_ids) if a in exclude]
            allowed = allowed & ~np.isin(self._article_of, left_out)
        if not allowed.any():
            return []
        qv = np.ascontiguousarray(query_vector.reshape(1, -1), dtype=np.float32)
        faiss.omp_set_num_threads(1)
        _, dense_ids = index.dense.search(qv, min(n, DENSE_CANDIDATES))
        lexical_all = index.lexical.scores(query)
        lexical_all = np.where(allowed, lexical_all * self._chunk_weight, 0.0)
        best_lexical = float(lexical_all.max()) if len(lexical_all) else 0.0
        candidates = {int(i) for i in dense_ids[0] if i >= 0 and allowed[i]}
        if best_lexical > 0:
            top_lex = np.argpartition(-lexical_all, min(LEXICAL_CANDIDATES, n - 1))[:LEXICAL_CANDIDATES]
            candidates.update(int(i) for i in top_lex if lexical_all[i] > 0)
        if not candidates:
            return []
        rows = np.sort(np.fromiter(candidates, dtype=np.int64))
        # exact cosines for every candidate, including those only BM25 proposed
        cosines = np.asarray(index.vectors[rows] @ qv[0], dtype=np.float32)
        cosines = np.where(cosines > 0, cosines * self._chunk_weight[rows], cosines)
        lexical = (
            lexical_all[rows] / best_lexical if best_lexical > 0 else np.zeros(len(rows), dtype=np.float32)
        )
        dense_w, lexical_w = (
            (self.lexical_weight, 1.0) if self._lexical_first(query) else (1.0, self.lexical_weight)
        )
        chunk_scores = dense_w * cosines + lexical_w * lexical
        # Group by article with numpy (a Python loop over candidates cost ~0.5 ms per search).
        articles, owner = np.unique(self._article_of[rows], return_inverse=True)
        dense = np.full(len(articles), -np.inf, dtype=np.float32)
        lex = np.zeros(len(articles), dtype=np.float32)
        np.maximum.at(dense, owner, cosines)
        np.maximum.at(lex, owner, lexical)
        fused = dense_w * dense + lexical_w * lex
        ranked = []
        for j in np.lexsort((articles, -fused))[:limit].tolist():
            mine = np.flatnonzero(owner == j)
            mine = mine[np.argsort(-chunk_scores[mine], kind="stable")]
            ranked.append(
                RankedArticle(
                    article_id=self._article_ids[int(articles[j])],
                    fused=float(fused[j]),
                    dense=float(dense[j]),
                    lexical=float(lex[j]),
                    chunk_rows=tuple(int(r) for r in rows[mine]),
                    chunk_scores=tuple(float(x) for x in chunk_scores[mine]),
                )
            )
        return ranked[:limit]

    def _lexical_first(self, query: str) -> bool:
        return not self.multilingual and has_cjk(query)

    def lexical_confidence(
        self, query: str, ranked: list[RankedArticle], rivals: list[RankedArticle] | None = None
    ) -> float:
        """Confidence for CJK questions on an English-only encoder, where the calibrated model
        (fitted on dense features) does not apply: the share of the question's tokens found in
        the best passage times how clearly it beats its rivals (by default the rest of `ranked`).
        Deliberately conservative, uncalibrated; configure the multilingual encoder ("e5") for
        CJK knowledge bases.
        """
        if not ranked or ranked[0].lexical <= 0:
            return 0.0
        wanted = set(tokenize(query))
        best = self.index.chunks[ranked[0].chunk_rows[0]]
        found = set(tokenize(f"{best.title} {best.section} {best.text}"))
        coverage = len(wanted & found) / max(1, len(wanted))
        # Ranking is by fused score, so a lower-ranked article can have the higher BM25 score:
        # then there is no lead at all (not a negative one).
        runner_up = max((r.lexical for r in (ranked[1:] if rivals is None else rivals)), default=0.0)
        lead = max(0.0, 1.0 - runner_up / ranked[0].lexical)
        return float(min(1.0, coverage * lead))

    def features(
        self, ranked: list[RankedArticle], rivals: list[RankedArticle] | None = None
    ) -> dict[str, float]:
        """The calibration features of the top hit against its rivals (by default, the rest of
        `ranked`): what the confidence model reads."""
        if not ranked:
            return {}
        top = ranked[0]
        rest = ranked[1:] if rivals is None else rivals
        lexical_best = max(ranked, key=lambda r: r.lexical)
        return {
            "fused_top1": top.fused,
            "fused_margin": top.fused - max((r.fused for r in rest), default=0.0),
            "dense_top1": top.dense,
            "dense_margin": top.dense - max((r.dense for r in rest), default=0.0),
            "lexical_top1": top.lexical,
            "lexical_agrees": 1.0 if lexical_best.article_id == top.article_id and top.lexical > 0 else 0.0,
        }

    def _any_hit_confidence(
        self, query: str, ranked: list[RankedArticle], k: int, confidence: float, calibrated: bool
    ) -> float | None:
        """How likely one of the first `k` hits is the right article: the top hit's confidence read
        with the shown hits as one candidate, so its rivals are the articles not shown (the
        calibrated model, or BM25's lead for CJK on an English-only encoder). Two close printing
        articles make the top one a coin toss, but not the pair. None without articles outside.

        Measured as the share of questions below the answer threshold whose article is among the
        three shown that get them named (at 0.6 × the threshold), and of out-of-KB questions that
        get articles named: demo KB + MiniLM 63/73 and 4/44, against 45/73 and 2/44 by the top
        hit's confidence; StackFAQ (a fifth of its documents removed) + MiniLM 48/57 and 0/22
        off-topic chatter, against 42/57 and 0/22; + e5 248/251 and 11/22, against 248/251 and
        10/22 (e5 scores everything alike: chatter is caught before the search). BM25's lead, the
        demo KB's Chinese questions on MiniLM: 12 of 13 get their article named (7 by the top
        hit's lead), none of 10 Chinese off-topic ones ("讲个笑话", "食堂几点开门").
        """
        shown, outside = ranked[:k], ranked[k:]
        if not shown or not outside:
            return None
        if calibrated:
            group = self.calibration.probability(self.features(shown, outside))
        else:
            group = self.lexical_confidence(query, shown, outside)
        return max(confidence, group)

    def result(
        self, query: str, ranked: list[RankedArticle], k: int, threshold: float | None = None
    ) -> SearchResult:
        """`ranked` may run past the `k` hits shown: the articles after them only tell how clearly
        the shown ones stand out (`any_hit_confidence`); confidence reads the shown ones."""
        shown = ranked[: max(k, 2)]
        features = self.features(shown)
        calibrated = True
        if not shown:
            confidence = 0.0
        elif self._lexical_first(query):
            confidence = self.lexical_confidence(query, shown)
            features["lexical_mode"] = 1.0
            calibrated = False  # BM25 alone picks well but its "confidence" is not a probability
        else:
            confidence = self.calibration.probability(features)
        any_hit = self._any_hit_confidence(query, ranked, k, confidence, calibrated)
        hits = tuple(self._hit(r, query) for r in shown[:k])
        limit = self.calibration.threshold if threshold is None else threshold
        return SearchResult(
            query,
            hits,
            confidence,
            limit,
            diagnostics=features,
            calibrated=calibrated,
            any_hit_confidence=any_hit,
        )

    def search(
        self,
        query: str,
        query_vector: np.ndarray,
        *,
        audiences: frozenset[str],
        k: int,
        threshold: float | None = None,
    ) -> SearchResult:
        ranked = self.rank(query, query_vector, audiences, limit=max(k, 2) + NOT_SHOWN_RIVALS)
        return self.result(query, ranked, k, threshold)

    def _hit(self, ranked: RankedArticle, query: str) -> ArticleHit:
        chunks = self.index.chunks
        meta = self.index.articles.get(ranked.article_id, {})
        shown = [
            (row, score)
            for row, score in zip(ranked.chunk_rows, ranked.chunk_scores, strict=True)
            if not chunks[row].is_title_only
        ]
        # A heading alone (its section held only an image) ranks the article but answers nothing,
        # and a "Still stuck? Contact the Service Desk" section is the reply's own "Talk to a
        # person", not a fix: the article's best passage that says what to do comes first.
        # Sections for after the main answer ("It keeps happening", "Meanwhile", "Can't get the
        # key?") come after it, unless the question is the one they answer (see _LATER_SECTIONS).
        later = [section for section, wanted in _LATER_SECTIONS if not wanted.search(query)]
        asked = _platforms(query)
        shown = sorted(
            shown,
            key=lambda pair: (
                _heading_only(chunks[pair[0]]),
                _sends_elsewhere(chunks[pair[0]].section),
                any(_section_matches(pattern, chunks[pair[0]].section) for pattern in later),
            ),
        )
        shown = self._heading_breaks_ties(shown, frozenset(tokenize(query)), asked)
        shown = self._for_everyone_first(shown, asked)[:PASSAGES_PER_ARTICLE]
        # After the first, another platform's steps come last: a follow-up ("I don't see that
        # option") is shown the next passage, and "Mac" is no next step for someone on Windows.
        shown[1:] = sorted(shown[1:], key=lambda pair: _for_someone_else(chunks[pair[0]].section, asked))
        if not shown:  # only the title matched: show the article's opening chunk
            shown = [
                (row, ranked.fused)
                for row, c in enumerate(chunks)
                if c.article_id == ranked.article_id and not c.is_title_only
            ][:1]
        # Every passage, not only the first, is made one that reads on its own: a follow-up is
        # shown the next one, and "Symptoms" alone tells the person what they already know.
        passages = [self._readable(_passage(chunks[row], score), chunks[row], asked) for row, score in shown]
        first = chunks[ranked.chunk_rows[0]]
        return ArticleHit(
            article_id=ranked.article_id,
            title=str(meta.get("title", first.title)),
            url=first.url,
            audience=first.audience,
            score=ranked.fused,
            passages=tuple(passages),
        )

    def _readable(self, passage: Passage, chunk: ChunkRecord, asked: frozenset[str]) -> Passage:
        """A numbered step from its procedure's start; a short or symptoms-only passage with what
        follows it (see `_with_following`)."""
        if _mid_procedure(chunk.text):
            return self._from_procedure_start(passage, chunk)
        if len(passage.text.strip()) < SHORT_PASSAGE_CHARS or _describes_problem(passage.section):
            return self._with_following(passage, chunk, asked)
        return passage

    def _heading_breaks_ties(
        self, shown: list[tuple[int, float]], query_terms: frozenset[str], asked: frozenset[str]
    ) -> list[tuple[int, float]]:
        """Passages scored within HEADING_TIE_MARGIN of the first, reordered by how many of the
        question's words their heading names ("reset my password": "Reset a forgotten password"
        before "Change a password you still know"), best score first among equals.

        Sections of one article share its title and topic, so their vectors often tie; the heading
        is the author's own summary of the section, the field search engines weigh above body text.
        A section that describes the problem is shown with its fix, so the fix's heading counts.
        """
        if len(shown) < 2 or not query_terms:
            return shown
        chunks = self.index.chunks
        tied: list[tuple[int, float]] = []
        for row, score in shown:  # the answering passages come first, best score first
            chunk = chunks[row]
            if (
                score < shown[0][1] - HEADING_TIE_MARGIN
                or _heading_only(chunk)
                or _sends_elsewhere(chunk.section)
            ):
                break
            tied.append((row, score))
        if len(tied) < 2:
            return shown

        def named(pair: tuple[int, float]) -> int:
            chunk = chunks[pair[0]]
            section = chunk.section
            if _describes_problem(section):
                fix = self._with_following(_passage(chunk, pair[1]), chunk, asked).following
                section = fix.section if fix is not None else section
            return len(query_terms & set(tokenize(_own_heading(section))))

        return sorted(tied, key=lambda pair: -named(pair)) + shown[len(tied) :]

    def _for_everyone_first(
        self, shown: list[tuple[int, float]], asked: frozenset[str]
    ) -> list[tuple[int, float]]:
        """A best passage for a platform few people use here and the question does not name
        ("Mac" for "my laptop is really slow") yields to a general one scored within
        PLATFORM_MARGIN of it: the general steps fit whoever asked, the Mac ones fit Mac users.

        Windows sections yield only to a question that names another platform ("on my MacBook"):
        company laptops mostly run it, and on the demo KB moving them for every question gave
        worse answers ("how do i add the printer on my new laptop").
        """
        if len(shown) < 2:
            return shown
        chunks = self.index.chunks
        if not _for_someone_else(chunks[shown[0][0]].section, asked):
            return shown
        for i, (row, score) in enumerate(shown[1:], start=1):
            chunk = chunks[row]
            if score < shown[0][1] - PLATFORM_MARGIN:
                break
            platforms = _platforms(_own_heading(chunk.section))
            for_others = bool(platforms) and not platforms & asked
            if _heading_only(chunk) or _sends_elsewhere(chunk.section) or for_others:
                continue
            return [shown[i], *shown[:i], *shown[i + 1 :]]
        return shown

    def _from_procedure_start(self, passage: Passage, chunk: ChunkRecord) -> Passage:
        """A passage cut from the middle of numbered steps ("5. Repair Office…") shown from step 1
        of its section, with the matched part after it: steps are done in order, and the person
        would otherwise never see the first four."""
        start = chunk
        while (row := self._row_of.get((start.article_id, start.ordinal - 1))) is not None:
            previous = self.index.chunks[row]
            if previous.is_title_only or previous.section != chunk.section:
                break
            start = previous
            if not _mid_procedure(previous.text):
                break
        if start is chunk:
            return passage
        matched = replace(passage, text=_after_overlap(start.text, chunk.text))
        return replace(_passage(start, passage.score), following=matched)

    def _with_following(self, passage: Passage, chunk: ChunkRecord, asked: frozenset[str]) -> Passage:
        """The passage with the article's next chunk attached (see SHORT_PASSAGE_CHARS).

        After a passage that describes the problem, the next passage that does not: articles often
        go "Symptoms", "Why it happens", then the fix, and a reply of symptoms and causes tells the
        person only what they already know. A "Still stuck? Contact us" section is never attached:
        the reply's own "Talk to a person" says that, and nothing after it belongs to this answer.
        A section for another platform than the one `asked` about ("Mac: allow screen recording"
        after the symptoms, to someone on Windows 11) is passed over like an explanation.
        """
        skip_problem = _describes_problem(chunk.section)
        ordinal = chunk.ordinal
        while (row := self._row_of.get((chunk.article_id, ordinal + 1))) is not None:
            ordinal += 1
            following = self.index.chunks[row]
            if following.is_title_only or _sends_elsewhere(following.section):
                return passage
            if skip_problem and (_heading_only(following) or _describes_problem(following.section)):
                continue  # on past "Why it happens" (and bare headings) to the fix
            if _for_someone_else(following.section, asked):
                continue
            if _heading_only(following):
                return passage
            return replace(passage, following=_passage(following, passage.score))
        return passage


# Sections that restate or explain the problem ("Symptoms", "Why it happens", a bare "Why",
# "Background") match a question best but fix nothing: the fix is in the section after them.
_PROBLEM_SECTION = re.compile(
    r"\b(symptoms?|problem|issue|what you (?:see|notice)|error messages?|causes?|why (?:it|this) happens"
    r"|why does (?:it|this) happen|background)\b|^\s*why\b|症状|现象|问题描述|原因",
    re.IGNORECASE,
)


def _section_matches(pattern: re.Pattern[str], section: str) -> bool:
    """Whether a section's own heading (the last part of "Parent › Child") matches `pattern`."""
    return bool(section) and bool(pattern.search(_own_heading(section)))


def _describes_problem(section: str) -> bool:
    return _section_matches(_PROBLEM_SECTION, section)


# Sections that send the reader to a person when the article did not help. Short, so their
# vectors are mostly the article's title: they would otherwise be the passage shown for almost any
# question that names the article's topic.
_ESCALATION_SECTION = re.compile(
    r"\bstill (?:stuck|need(?:ing)? help|not working|having (?:trouble|problems|issues))\b"
    r"|\b(?:need|want|get|getting|further|more) (?:more |further )?help\b"
    r"|\b(?:contact (?:us|support|it|the (?:it |service |help ?)desk)|who to contact|escalation)\b"
    r"|\b(?:weitere hilfe|immer noch probleme)\b"
    r"|仍然无法|仍无法|还是不行|还有问题|联系我们|获取帮助|寻求帮助|需要更多帮助|需要帮助",
    re.IGNORECASE,
)


def _sends_elsewhere(section: str) -> bool:
    return _section_matches(_ESCALATION_SECTION, section)


# Sections for when the fix did not last or did not help ("It keeps happening", "Still slow?",
# "Didn't work?"), and questions that say so themselves ("it keeps locking", "still slow").
_FOLLOW_UP_SECTION = re.compile(
    r"^\s*still\b|\b(?:keeps? (?:happening|coming back)|happens again|(?:again|still)\s*\?"
    r"|(?:didn|doesn|hasn)['’]?t (?:help|work)|did not (?:help|work)|not fixed"
    r"|if (?:that|this|it) (?:fails|does not work|doesn['’]?t work))"
    r"|^\s*immer noch\b|反复|再次出现|仍然|还是",
    re.IGNORECASE,
)
_RECURRING = re.compile(
    r"\b(?:again|keeps?|kept|still|every (?:day|morning|time|week)|repeatedly|recurring|constantly"
    r"|each time|over and over)\b|又|反复|再次|总是|一直|还是|仍然",
    re.IGNORECASE,
)


# Sections for getting by until the fix works ("Meanwhile", "While you wait"), and questions that
# ask for that. "Workaround" is not among them: in a known-error article it is the fix.
_STOPGAP_SECTION = re.compile(
    r"^\s*(?:meanwhile|in the meantime|while you wait)\b|与此同时|等待期间", re.IGNORECASE
)
_ASKS_STOPGAP = re.compile(
    r"\b(?:meanwhile|in the meantime|mean ?time|while (?:i|we) wait|for now|workaround|until)\b"
    r"|临时|暂时|先用",
    re.IGNORECASE,
)


# Sections for when the article's main way does not work ("Can't get the key?"), and questions
# that say something cannot be done, to which such a section may be the answer.
_FALLBACK_SECTION = re.compile(
    r"^\s*(?:can['’]?t|cannot|can not|unable to|couldn['’]?t)\b[^?]*\?\s*$", re.IGNORECASE
)
_SAYS_UNABLE = re.compile(
    r"\b(?:can['’]?t|cant|cannot|can not|unable|couldn['’]?t|not able|no way)\b|无法|不能|找不到|没法",
    re.IGNORECASE,
)


# Sections for after an article's main answer, each with the questions it is the answer to:
# what to do when the fix did not last, what to use until it works, what to do when the main way
# fails. "It keeps happening" comes first for "my account keeps getting locked".
_LATER_SECTIONS: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = (
    (_FOLLOW_UP_SECTION, _RECURRING),
    (_STOPGAP_SECTION, _ASKS_STOPGAP),
    (_FALLBACK_SECTION, _SAYS_UNABLE),
)


_PLATFORMS = (
    ("mac", re.compile(r"\b(?:mac|macs|macos|mac os|os x|macbooks?|imacs?)\b", re.IGNORECASE)),
    ("windows", re.compile(r"\b(?:windows|win ?1[01])\b", re.IGNORECASE)),
    ("ios", re.compile(r"\b(?:iphones?|ipads?|ios)\b", re.IGNORECASE)),
    ("android", re.compile(r"\bandroid\b", re.IGNORECASE)),
    ("linux", re.compile(r"\b(?:linux|ubuntu|fedora)\b", re.IGNORECASE)),
    ("chromeos", re.compile(r"\b(?:chromebooks?|chrome ?os)\b", re.IGNORECASE)),
)
_MINORITY_PLATFORMS = frozenset({"mac", "ios", "android", "linux", "chromeos"})


def _platforms(text: str) -> frozenset[str]:
    return frozenset(name for name, pattern in _PLATFORMS if pattern.search(text))


def _for_someone_else(section: str, asked: frozenset[str]) -> bool:
    """Whether a section is headed for platforms other than the asker's: one the question does not
    name when it names another ("Windows" to a MacBook user), or, when it names none, one few
    people here use ("Mac")."""
    named = _platforms(_own_heading(section))
    if not named or named & asked:
        return False
    return bool(asked) or named <= _MINORITY_PLATFORMS


def _own_heading(section: str) -> str:
    """The last part of "Parent › Child": the section's own heading."""
    return section.rsplit("›", 1)[-1] if section else ""


def _mid_procedure(text: str) -> bool:
    match = _MID_PROCEDURE.match(text)
    return match is not None and int(match.group(1)) > 1


def _after_overlap(before: str, text: str) -> str:
    """`text` without its opening lines that end `before` (windows of a long section overlap)."""
    lines = text.splitlines()
    tail = {line.strip() for line in before.splitlines()[-len(lines) :]}
    skip = 0
    while skip < len(lines) - 1 and (lines[skip].strip() in tail or not lines[skip].strip()):
        skip += 1
    return "\n".join(lines[skip:])


def _heading_only(chunk: ChunkRecord) -> bool:
    return not chunk.text.strip() or chunk.text.strip() == chunk.section.strip()


def _passage(chunk: ChunkRecord, score: float) -> Passage:
    return Passage(
        article_id=chunk.article_id,
        title=chunk.title,
        section=chunk.section,
        text=chunk.text,
        url=chunk.url,
        audience=chunk.audience,
        version=chunk.version,
        score=float(score),
    )
