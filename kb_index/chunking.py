"""Split articles into chunks by headings, with a size cap and overlap.

Each chunk is searched on "title — section: text", so a short section still carries the words of
its article's title, and keeps everything a reply needs (article id, title, section, url,
audience, version). Its content hash decides whether a re-ingest must embed it again.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from kb_index.documents import Article, has_words, plain_inline
from kb_index.fences import fence_ids, split_fences
from kb_index.tokenize import has_cjk

_HEADING_RE = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
# About 200 words stays inside MiniLM's 256-token window together with the title prefix.
MAX_WORDS = 200
OVERLAP_WORDS = 40
# CJK text has no spaces: cap by characters instead (one character is roughly one token).
MAX_CJK_CHARS = 300
OVERLAP_CJK_CHARS = 60

_IMAGE_RE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK_RE = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_URL_RE = re.compile(r"https?://\S+")
_TAG_RE = re.compile(r"<[^>]+>")
_NOT_TEXT_RE = re.compile(r"[\W_]+")


def link_share(text: str) -> float:
    """The share of a passage's visible letters that are link text or bare URLs (0..1).

    A passage that is mostly links ("问题速查: 怎么联网？ → [连接和认证方式](…)") points at the answer
    rather than giving it; search down-weights such passages (see `search.LINK_HEAVY_WEIGHT`).
    Images and HTML tags count as neither.
    """
    visible = _TAG_RE.sub(" ", _IMAGE_RE.sub(" ", text))
    linked = sum(len(_NOT_TEXT_RE.sub("", m.group(1))) for m in _LINK_RE.finditer(visible))
    rest = _LINK_RE.sub(" ", visible)
    linked += sum(len(m.group(0)) for m in _URL_RE.finditer(rest))
    prose = len(_NOT_TEXT_RE.sub("", _URL_RE.sub(" ", rest)))
    total = linked + prose
    return linked / total if total else 0.0


@dataclass(frozen=True)
class Chunk:
    article_id: str
    title: str
    section: str
    text: str
    url: str | None
    audience: str
    version: int
    ordinal: int

    @property
    def search_text(self) -> str:
        """What is embedded and BM25-indexed: the title and section give the text its context."""
        head = (
            self.title if not self.section or self.section == self.title else f"{self.title} — {self.section}"
        )
        return f"{head}: {self.text}" if self.text else head

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.search_text.encode("utf-8")).hexdigest()


def _sections(article: Article) -> list[tuple[str, str]]:
    """(section heading, text) pairs; text before the first heading belongs to the title.

    Lines inside fenced code blocks are never headings (`# Stop the spooler` is a comment there).
    """
    sections: list[tuple[str, list[str]]] = [("", [])]
    lines = article.body.splitlines()
    for line, fence in zip(lines, fence_ids(lines), strict=True):
        match = None if fence else _HEADING_RE.match(line)
        if match:
            heading = plain_inline(match.group(2))
            if len(match.group(1)) == 1 and heading == article.title:
                continue  # the H1 repeating the title is not a section of its own
            sections.append((heading, []))
        else:
            sections[-1][1].append(line)
    out = []
    for heading, section_lines in sections:
        text = re.sub(r"\n{3,}", "\n\n", "\n".join(section_lines)).strip()
        if text or heading:
            out.append((heading, text))
    return out


def _size(text: str, cjk: bool) -> int:
    return len(text) if cjk else len(text.split())


# Where prose may be cut, coarsest first: between lines (a list item is a line), between sentences,
# between clauses, between words. A CJK run has no spaces, so its last resort is one character, but
# a Latin word inside it ("激活的Microphone") stays whole.
_LINES_RE = re.compile(r"[^\n]*(?:\n+|\Z)")
_SENTENCES_RE = re.compile(r".*?(?:[.!?:;](?=\s)|[。！？；：]|\Z)\s*", re.DOTALL)
_CLAUSES_RE = re.compile(r".*?(?:,(?=\s)|[，、]|\Z)\s*", re.DOTALL)
_WORDS_RE = re.compile(r"\S+\s*|\s+")
_CJK_WORDS_RE = re.compile(r"[A-Za-z0-9_'’.-]+\s*|\S\s*|\s+")


def _units(text: str, cjk: bool, limit: int, level: int = 0) -> list[str]:
    """The text cut at the coarsest boundaries that give pieces of at most `limit`; joined back
    together they are the text exactly (whitespace and line breaks included)."""
    levels = (_LINES_RE, _SENTENCES_RE, _CLAUSES_RE, _CJK_WORDS_RE if cjk else _WORDS_RE)
    if _size(text, cjk) <= limit or level >= len(levels):
        return [text]
    pieces = [m.group(0) for m in levels[level].finditer(text) if m.group(0)]
    if len(pieces) <= 1 and level < len(levels) - 1:
        return _units(text, cjk, limit, level + 1)
    return [unit for piece in pieces for unit in _units(piece, cjk, limit, level + 1)]


def _plain_windows(text: str, cjk: bool) -> list[str]:
    """Windows of at most MAX_WORDS words (or MAX_CJK_CHARS characters) overlapping a little,
    cut between lines, sentences or clauses where possible and never inside a word.

    Line breaks are kept: a checklist stays a list. Cutting at fixed word counts started passages
    mid-item ("14 in the control panel - item 15: …") and ended Chinese ones mid-word.
    """
    size, overlap = (MAX_CJK_CHARS, OVERLAP_CJK_CHARS) if cjk else (MAX_WORDS, OVERLAP_WORDS)
    if _size(text, cjk) <= size:
        return [text]
    units = _units(text, cjk, size)
    sizes = [_size(unit, cjk) for unit in units]
    windows: list[str] = []
    start = 0
    while start < len(units):
        end, total = start, 0
        while end < len(units) and (end == start or total + sizes[end] <= size):
            total += sizes[end]
            end += 1
        window = "".join(units[start:end]).strip()
        if window:
            windows.append(window)
        if end >= len(units):
            break
        back, shared = end, 0  # repeat whole trailing units, up to the overlap, in the next window
        while back - 1 > start and shared + sizes[back - 1] <= overlap:
            back -= 1
            shared += sizes[back]
        start = back
    return windows


def _code_windows(block: str, cjk: bool) -> list[str]:
    """A fenced block whole, or cut between lines when too long, each piece fenced again so it
    still reads (and renders) as code."""
    limit = MAX_CJK_CHARS if cjk else MAX_WORDS
    if _size(block, cjk) <= limit:
        return [block]
    lines = block.splitlines()
    opener = lines[0]
    fence = opener.strip()[0] * 3
    closed = len(lines) > 1 and set(lines[-1].strip()) == {fence[0]}
    room = limit - _size(f"{opener}\n{fence}", cjk)
    pieces: list[list[str]] = [[]]
    for line in lines[1:-1] if closed else lines[1:]:
        if pieces[-1] and _size("\n".join([*pieces[-1], line]), cjk) > room:
            pieces.append([])
        pieces[-1].append(line)
    return ["\n".join([opener, *piece, fence]) for piece in pieces if piece]


def _windows(text: str) -> list[str]:
    """The section text in passages of at most MAX_WORDS words (or CJK characters).

    Prose is cut in overlapping windows; fenced code blocks are kept whole where they fit (and
    otherwise cut between lines), so a passage never ends in the middle of a command. Small
    neighbouring pieces are put back together up to the cap.
    """
    cjk = has_cjk(text)
    limit = MAX_CJK_CHARS if cjk else MAX_WORDS
    parts = split_fences(text)
    if _size(text, cjk) <= limit or not any(fenced for _, fenced in parts):
        return _plain_windows(text, cjk)
    pieces: list[str] = []
    for part, fenced in parts:
        for piece in _code_windows(part, cjk) if fenced else _plain_windows(part, cjk):
            if pieces and _size(pieces[-1], cjk) + _size(piece, cjk) <= limit:
                pieces[-1] = f"{pieces[-1]}\n\n{piece}"
            else:
                pieces.append(piece)
    return pieces


def chunk_article(article: Article, version: int = 1) -> list[Chunk]:
    """A title-only chunk, then the article's chunks in reading order.

    The title-only chunk (empty text) exists because people ask the question a help article's
    title states; matching it alone beat matching only title-prefixed sections (StackFAQ R@1
    0.934 → 0.960). It ranks the article but is never shown as a passage.
    """
    chunks: list[Chunk] = [
        Chunk(article.id, article.title, "", "", article.url, article.audience, version, 0)
    ]
    for heading, text in _sections(article):
        # A piece that is only an image or markup has nothing to answer with: it is not indexed.
        pieces = [piece for piece in _windows(text) if has_words(piece)] if text else []
        for piece in pieces or [""]:
            if not piece:
                if not heading:
                    continue
                piece = heading  # a heading with no text still says what the section is about
            chunks.append(
                Chunk(
                    article_id=article.id,
                    title=article.title,
                    section=heading,
                    text=piece,
                    url=article.url,
                    audience=article.audience,
                    version=version,
                    ordinal=len(chunks),
                )
            )
    if len(chunks) == 1:
        chunks.append(
            Chunk(article.id, article.title, "", article.body, article.url, article.audience, version, 1)
        )
    return chunks
