"""Reading knowledge-base sources into articles: Markdown, HTML, plain text and FAQ files.

One file gives one article (Markdown, HTML, text) or many (FAQ CSV, BEIR-style JSONL). A file
that cannot be read raises `SourceError` naming the file; the ingester reports it and goes on.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kb_index.errors import SourceError

AUDIENCES = frozenset({"public", "internal"})
MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
TEXT_SUFFIXES = frozenset({".txt"})
FAQ_SUFFIXES = frozenset({".csv", ".jsonl"})
SUPPORTED_SUFFIXES = MARKDOWN_SUFFIXES | HTML_SUFFIXES | TEXT_SUFFIXES | FAQ_SUFFIXES
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$")
_FRONT_MATTER_RE = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.DOTALL)
_H1_RE = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Article:
    """One help article as written; `body` is Markdown-ish text whose headings drive chunking."""

    id: str
    title: str
    body: str
    audience: str = "public"
    url: str | None = None
    tags: tuple[str, ...] = ()
    source_path: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def content_hash(self) -> str:
        """Changes whenever anything a reader or the index sees changes."""
        payload = json.dumps(
            [self.id, self.title, self.body, self.audience, self.url, list(self.tags)], ensure_ascii=False
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def iter_source_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Every supported file under the given files/folders, in a stable order (hidden files skipped)."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                rel = child.relative_to(path)
                if any(part.startswith((".", "_")) for part in rel.parts):
                    continue
                if child.is_file() and child.suffix.lower() in SUPPORTED_SUFFIXES:
                    yield child
        else:
            yield path


def load_file(path: Path, root: Path | None = None) -> list[Article]:
    """Articles in one file. Raises SourceError (with the file name) for anything malformed."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise SourceError(f"{path}: unsupported file type {suffix or '(none)'}")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    default_id = _default_id(path, root)
    if suffix in MARKDOWN_SUFFIXES:
        return [parse_markdown(text, default_id, str(path))]
    if suffix in HTML_SUFFIXES:
        return [parse_html(text, default_id, str(path))]
    if suffix in TEXT_SUFFIXES:
        return [parse_text(text, default_id, str(path))]
    if suffix == ".csv":
        return parse_faq_csv(text, default_id, str(path))
    return parse_beir_jsonl(text, str(path))


def _default_id(path: Path, root: Path | None) -> str:
    rel = path.relative_to(root) if root is not None and path.is_relative_to(root) else Path(path.name)
    stem = rel.with_suffix("").as_posix()
    return re.sub(r"[^A-Za-z0-9._/-]+", "-", stem).strip("-") or "article"


def _checked(article: Article) -> Article:
    where = article.source_path or article.id
    if not _ID_RE.match(article.id):
        raise SourceError(f"{where}: article id {article.id!r} must be 1-200 letters, digits, . _ - : /")
    if article.audience not in AUDIENCES:
        raise SourceError(f"{where}: audience {article.audience!r} must be 'public' or 'internal'")
    if not article.title.strip():
        raise SourceError(f"{where}: article {article.id!r} has no title")
    if not article.body.strip():
        raise SourceError(f"{where}: article {article.id!r} has no text")
    return article


def parse_markdown(text: str, default_id: str, source: str | None = None) -> Article:
    """Markdown with optional YAML front matter (id, title, tags, audience, url)."""
    meta: dict[str, Any] = {}
    body = text
    match = _FRONT_MATTER_RE.match(text)
    if match:
        try:
            loaded = yaml.safe_load(match.group(1))
        except yaml.YAMLError as exc:
            raise SourceError(f"{source}: front matter is not valid YAML ({exc})") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise SourceError(f"{source}: front matter must be a mapping of fields")
        meta = loaded or {}
        body = text[match.end() :]
    title = str(meta.get("title") or "").strip()
    h1 = _H1_RE.search(body)
    if not title:
        title = h1.group(1).strip() if h1 else default_id.rsplit("/", 1)[-1]
    tags = meta.get("tags") or ()
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",") if t.strip()]
    if not isinstance(tags, list | tuple):
        raise SourceError(f"{source}: tags must be a list")
    url = meta.get("url")
    return _checked(
        Article(
            id=str(meta.get("id") or default_id).strip(),
            title=title,
            body=body.strip(),
            audience=str(meta.get("audience") or "public").strip().lower(),
            url=str(url).strip() if url else None,
            tags=tuple(str(t) for t in tags),
            source_path=source,
        )
    )


def parse_html(text: str, default_id: str, source: str | None = None) -> Article:
    """HTML: headings become Markdown headings so chunking sees the same structure.

    `<meta name="kb:id|kb:audience|kb:url|kb:tags">` set the fields front matter sets in Markdown.
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")
    meta = {
        str(tag.get("name", "")).lower(): str(tag.get("content", ""))
        for tag in soup.find_all("meta")
        if str(tag.get("name", "")).lower().startswith("kb:")
    }
    for bad in soup(["script", "style", "nav", "footer", "header", "noscript"]):
        bad.decompose()
    title_tag = soup.find("title")
    h1 = soup.find("h1")
    title = (title_tag.get_text(" ", strip=True) if title_tag else "") or (
        h1.get_text(" ", strip=True) if h1 else ""
    )
    for level in range(1, 7):
        for heading in soup.find_all(f"h{level}"):
            heading.replace_with(f"\n\n{'#' * level} {heading.get_text(' ', strip=True)}\n\n")
    for item in soup.find_all("li"):
        item.insert_before("\n- ")
    for block in soup.find_all(["p", "div", "br", "tr", "pre"]):
        block.insert_after("\n")
    root = soup.body or soup
    body = re.sub(r"\n\s*\n+", "\n\n", root.get_text()).strip()
    tags = [t.strip() for t in meta.get("kb:tags", "").split(",") if t.strip()]
    return _checked(
        Article(
            id=meta.get("kb:id", default_id).strip() or default_id,
            title=title or default_id,
            body=body,
            audience=(meta.get("kb:audience") or "public").strip().lower(),
            url=meta.get("kb:url") or None,
            tags=tuple(tags),
            source_path=source,
        )
    )


def parse_text(text: str, default_id: str, source: str | None = None) -> Article:
    """Plain text: the first non-empty line is the title."""
    lines = text.strip().splitlines()
    if not lines:
        raise SourceError(f"{source}: file is empty")
    title = lines[0].strip()
    body = "\n".join(lines[1:]).strip() or title
    return _checked(Article(id=default_id, title=title, body=body, source_path=source))


def parse_faq_csv(text: str, default_id: str, source: str | None = None) -> list[Article]:
    """FAQ CSV with a header `question,answer[,id]` (optional audience, url, tags): one article per row."""
    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip().lower() for f in (reader.fieldnames or [])]
    if "question" not in fields or "answer" not in fields:
        raise SourceError(f"{source}: FAQ CSV needs a header with 'question' and 'answer' columns")
    articles = []
    for number, row in enumerate(reader, start=2):
        clean = {str(k).strip().lower(): (v or "").strip() for k, v in row.items() if k is not None}
        if not clean.get("question") or not clean.get("answer"):
            raise SourceError(f"{source}: line {number} has an empty question or answer")
        tags = [t.strip() for t in clean.get("tags", "").split(",") if t.strip()]
        articles.append(
            _checked(
                Article(
                    id=clean.get("id") or f"{default_id}-{number - 1}",
                    title=clean["question"],
                    body=clean["answer"],
                    audience=(clean.get("audience") or "public").lower(),
                    url=clean.get("url") or None,
                    tags=tuple(tags),
                    source_path=source,
                )
            )
        )
    if not articles:
        raise SourceError(f"{source}: FAQ CSV has no rows")
    return articles


def parse_beir_jsonl(text: str, source: str | None = None) -> list[Article]:
    """BEIR corpus lines {"_id", "title", "text"}: one article per line."""
    articles = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SourceError(f"{source}: line {number} is not JSON ({exc.msg})") from exc
        if not isinstance(row, dict) or "_id" not in row or "text" not in row:
            raise SourceError(f"{source}: line {number} needs '_id' and 'text' (BEIR corpus form)")
        text_value = str(row.get("text") or "").strip()
        title = str(row.get("title") or "").strip() or text_value[:80]
        articles.append(
            _checked(
                Article(
                    id=str(row["_id"]),
                    title=title,
                    body=text_value or title,
                    audience=str(row.get("audience") or "public").lower(),
                    url=row.get("url") or None,
                    source_path=source,
                )
            )
        )
    if not articles:
        raise SourceError(f"{source}: no articles in file")
    return articles
