"""Reading knowledge-base sources into articles: Markdown, HTML, plain text and FAQ files.

One file gives one article (Markdown, HTML, text) or many (FAQ CSV, BEIR-style JSONL). A file
that cannot be read raises `SourceError` naming the file; the ingester reports it and goes on.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any

import yaml

from kb_index.errors import SourceError
from kb_index.fences import fence_ids

AUDIENCES = frozenset({"public", "internal"})
MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
TEXT_SUFFIXES = frozenset({".txt"})
FAQ_SUFFIXES = frozenset({".csv", ".jsonl"})
SUPPORTED_SUFFIXES = MARKDOWN_SUFFIXES | HTML_SUFFIXES | TEXT_SUFFIXES | FAQ_SUFFIXES
# Letters and digits of any script: file names such as 重置密码.md or café-wifi.md are ids as they
# are. For ASCII this is the same set as before ([A-Za-z0-9_]), so existing ids never change.
_ID_RE = re.compile(r"^[^\W_][\w.:/-]{0,199}$")
_NOT_ID_RE = re.compile(r"[^\w./-]+")
_FRONT_MATTER_RE = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.DOTALL)
_H1_RE = re.compile(r"^#\s+(.+?)\s*#*\s*$")
_META_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)
# Raw HTML inside Markdown: comments, and layout tags. Only tags that lay a page out are removed:
# prose that names a tag ("the syntax <del> ... </del>") or a placeholder ("ssh <username>@host")
# keeps it. Inline code spans come first in the alternation so `<div>` written as code stays.
_LAYOUT_TAGS = (
    "a|abbr|article|audio|b|big|blockquote|br|center|dd|details|div|dl|dt|em|figcaption|figure|"
    "font|h[1-6]|hr|i|iframe|img|li|ol|p|picture|section|small|source|span|strong|sub|summary|sup|"
    "table|tbody|td|tfoot|th|thead|tr|u|ul|video"
)
_HTML_IN_MD_RE = re.compile(
    r"(?P<code>`[^`\n]+`)|(?P<comment><!--.*?(?:-->|\Z))"
    rf"|(?P<tag></?(?:{_LAYOUT_TAGS})(?:\s[^<>]*)?/?>)",
    re.DOTALL | re.IGNORECASE,
)
_ALT_RE = re.compile(r"""\balt\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)
_BLOCK_TAG_RE = re.compile(r"</?(?:br|p|div|center|tr|li|h[1-6]|table|ul|ol)\b", re.IGNORECASE)
# Inline Markdown in a title or heading: **bold**, __bold__, *em*, _em_, `code`, [text](url), ![alt](src).
_INLINE_MD_RES = (
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),
    (re.compile(r"\[([^\]]*)\]\([^)]*\)"), r"\1"),
    (re.compile(r"(\*\*|__)(\S(?:.*?\S)?)\1"), r"\2"),
    (re.compile(r"(?<![\w*])\*(\S(?:.*?\S)?)\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<!\w)_(\S(?:.*?\S)?)_(?!\w)"), r"\1"),
    (re.compile(r"`([^`]+)`"), r"\1"),
    (re.compile(rf"</?(?:{_LAYOUT_TAGS})(?:\s[^<>]*)?/?>", re.IGNORECASE), ""),
)
# Byte-order marks, longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Labels that the web (WHATWG Encoding) reads as a superset: pages "in Latin-1" are cp1252.
_WEB_ALIASES = {"iso8859-1": "cp1252", "ascii": "cp1252", "gb2312": "gbk"}
# Share of printable characters below which a cp1252 reading is taken for a binary file.
MIN_PRINTABLE_SHARE = 0.95


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
            yield from (child for child in _visible_files(path) if child.suffix.lower() in SUPPORTED_SUFFIXES)
        else:
            yield path


def unsupported_files(folder: Path) -> list[Path]:
    """Files under `folder` that ingest does not read (PDFs, Word files...): reported, so an admin
    does not believe they are in the knowledge base."""
    return [child for child in _visible_files(folder) if child.suffix.lower() not in SUPPORTED_SUFFIXES]


def _visible_files(folder: Path) -> Iterator[Path]:
    for child in sorted(folder.rglob("*")):
        rel = child.relative_to(folder)
        if not any(part.startswith((".", "_")) for part in rel.parts) and child.is_file():
            yield child


def load_file(path: Path, root: Path | None = None) -> list[Article]:
    """Articles in one file. Raises SourceError (with the file name) for anything malformed."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise SourceError(f"{display_path(path)}: unsupported file type {suffix or '(none)'}")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"{display_path(path)}: cannot read ({exc.strerror or exc})") from exc
    source = display_path(path)
    text = decode_source(raw, source, html=suffix in HTML_SUFFIXES)
    default_id = _default_id(path, root)
    if suffix in MARKDOWN_SUFFIXES:
        return [parse_markdown(text, default_id, source)]
    if suffix in HTML_SUFFIXES:
        return [parse_html(text, default_id, source)]
    if suffix in TEXT_SUFFIXES:
        return [parse_text(text, default_id, source)]
    if suffix == ".csv":
        return parse_faq_csv(text, default_id, source)
    return parse_beir_jsonl(text, source)


def display_path(path: Path | str) -> str:
    """The path as text that can be stored, printed and sent anywhere.

    A file name that is not valid UTF-8 (b'drucker-\\xe4.md' from an old zip or a Windows share)
    reaches Python as a string holding surrogates, which the database driver, JSON and the
    terminal all refuse; the undecodable bytes become U+FFFD here instead. NFC, so the same name
    from macOS (decomposed) and Linux is one name.
    """
    raw = os.fsencode(path)
    return unicodedata.normalize("NFC", raw.decode("utf-8", errors="replace"))


def decode_source(raw: bytes, source: str, *, html: bool = False) -> str:
    """The text of a source file in whatever encoding help-centre exports come in.

    A byte-order mark decides first (UTF-8/16/32), then an HTML page's own <meta charset>, then
    UTF-8; failing that Windows-1252 (what Notepad and Excel on Windows save), accepted only if
    it reads as text, so a binary file is refused with a reason rather than ingested as noise.
    """
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(encoding)
            except UnicodeDecodeError as exc:
                raise SourceError(
                    f"{source}: starts with a {encoding} byte-order mark but is not {encoding} text"
                ) from exc
    declared = _declared_charset(raw) if html else None
    if declared is not None:
        try:
            return raw.decode(declared)
        except UnicodeDecodeError:
            pass  # a wrong declaration: read it as if there were none
    if b"\x00" in raw:
        raise SourceError(
            f"{source}: not a text file (binary content); save it as UTF-8 text, Markdown or HTML"
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{source}: neither UTF-8 nor Windows-1252 text (byte {exc.start}); save it as UTF-8"
        ) from exc
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    if printable < MIN_PRINTABLE_SHARE * len(text):
        raise SourceError(
            f"{source}: not a text file (binary content); save it as UTF-8 text, Markdown or HTML"
        )
    return text


def _declared_charset(raw: bytes) -> str | None:
    """The encoding a page names in <meta charset> (or http-equiv) near its start, if Python knows it.

    A page cannot declare itself UTF-16 without a byte-order mark (the declaration would not be
    readable), so such a declaration means UTF-8, as browsers treat it.
    """
    match = _META_CHARSET_RE.search(raw[:4096])
    if not match:
        return None
    try:
        name = codecs.lookup(match.group(1).decode("ascii")).name
    except (LookupError, UnicodeDecodeError):
        return None
    if name.startswith(("utf-16", "utf-32")):
        return "utf-8"
    return _WEB_ALIASES.get(name, name)


def _default_id(path: Path, root: Path | None) -> str:
    """The id of a file without an `id:` of its own: its path under the source folder, without
    the suffix, letters of any script kept (重置密码.md → 重置密码, café-wifi.md → café-wifi).

    A name with no letters left, or with bytes that are not UTF-8, gets a short hash of its raw
    path on top, so two such files never share one id and each keeps its id across ingests.
    """
    rel = path.relative_to(root) if root is not None and path.is_relative_to(root) else Path(path.name)
    stem = rel.with_suffix("").as_posix()
    raw = os.fsencode(stem)
    readable = display_path(stem)
    cleaned = _NOT_ID_RE.sub("-", readable).strip("-")
    lossy = "\ufffd" in readable and "\ufffd" not in stem
    if _ID_RE.match(cleaned) and not lossy:
        return cleaned
    digest = hashlib.sha256(raw).hexdigest()[:8]
    kept = cleaned.strip("_./")[:180]
    return f"{kept}-{digest}" if kept else f"article-{digest}"


_MD_IMAGE_RE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK_RE = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_BARE_URL_RE = re.compile(r"<?https?://\S+")
_ANY_TAG_RE = re.compile(r"<[^>]+>")


def has_words(text: str) -> bool:
    """Whether the text says anything once images, tags and URLs are set aside: a passage that
    is only `![](/img/x.jpg)` must not be indexed, let alone given as an answer."""
    visible = _BARE_URL_RE.sub(" ", _MD_LINK_RE.sub(r"\1", _ANY_TAG_RE.sub(" ", _MD_IMAGE_RE.sub(" ", text))))
    return any(ch.isalnum() for ch in visible)


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
    content = [line for line in article.body.splitlines() if _title_line(line) != article.title]
    if not has_words("\n".join(content)):
        raise SourceError(f"{where}: article {article.id!r} has no text, only images or markup")
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
    body = strip_html(body)
    title = str(meta.get("title") or "").strip() or _first_h1(body) or default_id.rsplit("/", 1)[-1]
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


def _first_h1(body: str) -> str:
    """The first `# Heading` outside fenced code (where `# …` is a shell or PowerShell comment)."""
    lines = body.splitlines()
    for line, fence in zip(lines, fence_ids(lines), strict=True):
        match = None if fence else _H1_RE.match(line)
        if match:
            return plain_inline(match.group(1))
    return ""


def _title_line(line: str) -> str | None:
    match = _H1_RE.match(line)
    return plain_inline(match.group(1)) if match else None


def plain_inline(text: str) -> str:
    """A title or heading without its inline Markdown: `**YUNA KnowledgeBase**` is shown in
    replies and clarifying questions as *YUNA KnowledgeBase*, not with its asterisks doubled."""
    for pattern, replacement in _INLINE_MD_RES:
        text = pattern.sub(replacement, text)
    return " ".join(text.split())


def strip_html(body: str) -> str:
    """Markdown without the raw HTML some KBs carry (`<center><img …></center>`, `<!-- TODO -->`):
    passages are shown as written, and markup is neither an answer nor something to match on.

    Code blocks and inline code are left alone. An image keeps its alt text; block tags become
    line breaks so the text around them stays apart.
    """

    def replace(match: re.Match[str]) -> str:
        if match.group("code"):
            return match.group("code")
        if match.group("comment"):
            return ""
        tag = match.group("tag")
        if tag[1:4].lower() == "img":
            alt = _ALT_RE.search(tag)
            return next((g for g in alt.groups() if g), "") if alt else ""
        return "\n" if _BLOCK_TAG_RE.match(tag) else ""

    if "<" not in body:
        return body
    lines = body.splitlines()
    out: list[str] = []
    for fenced, group in groupby(zip(fence_ids(lines), lines, strict=True), key=lambda pair: pair[0] != 0):
        part = "\n".join(line for _, line in group)
        if not fenced:
            part = _HTML_IN_MD_RE.sub(replace, part)
            part = re.sub(r"\n[ \t]*(?:\n[ \t]*)+\n", "\n\n", part)
        out.append(part)
    return "\n".join(out)


def parse_html(text: str, default_id: str, source: str | None = None) -> Article:
    """HTML: headings become Markdown headings so chunking sees the same structure.

    `<meta name="kb:id|kb:title|kb:audience|kb:url|kb:tags">` set the fields front matter sets in
    Markdown.
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")
    meta = {
        str(tag.get("name", "")).lower(): str(tag.get("content", ""))
        for tag in soup.find_all("meta")
        if str(tag.get("name", "")).lower().startswith("kb:")
    }
    for bad in soup(["script", "style", "noscript", "template"]):
        bad.decompose()
    # Site chrome (the help centre's banner, menus, footer) is not the article; a <header> inside
    # <article>/<main> is, and usually holds the article's own <h1>.
    for chrome in soup(["nav", "footer", "header"]):
        if not chrome.decomposed and chrome.find_parent(["article", "main"]) is None:
            chrome.decompose()
    title = (meta.get("kb:title") or "").strip() or _html_title(soup)
    for pre in soup.find_all("pre"):  # code stays code: its "# comments" must not become headings
        pre.replace_with(f"\n\n```\n{pre.get_text().strip(chr(10))}\n```\n\n")
    for level in range(1, 7):
        for heading in soup.find_all(f"h{level}"):
            heading.replace_with(f"\n\n{'#' * level} {heading.get_text(' ', strip=True)}\n\n")
    for item in soup.find_all("li"):
        item.insert_before("\n- ")
    for block in soup.find_all(["p", "div", "br", "tr"]):
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


def _html_title(soup: Any) -> str:
    """The article's own title, not the site's.

    Exported help-centre pages often share one <title> ("Help Center"), so the first <h1> of
    the <main>/<article> wins, then any <h1> left after removing site chrome, then og:title,
    then <title> without a trailing " | Site" (or " - Site" when that is the og:site_name).
    """
    for container in (soup.find("main"), soup.find("article"), soup):
        h1 = container.find("h1") if container is not None else None
        if h1 is not None and h1.get_text(" ", strip=True):
            return str(h1.get_text(" ", strip=True))
    og_title = _meta_content(soup, "og:title")
    if og_title:
        return og_title
    title_tag = soup.find("title")
    title = str(title_tag.get_text(" ", strip=True)) if title_tag else ""
    site = _meta_content(soup, "og:site_name")
    for separator in (" | ", " - ", " – ", " — "):
        head, found, tail = title.rpartition(separator)
        if found and head.strip() and (separator == " | " or tail.strip() == site):
            return head.strip()
    return title


def _meta_content(soup: Any, key: str) -> str:
    tag = soup.find("meta", attrs={"property": key}) or soup.find("meta", attrs={"name": key})
    return str(tag.get("content", "")).strip() if tag is not None else ""


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
