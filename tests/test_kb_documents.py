"""Reading sources, chunking and lexical tokens: no model needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb_index.chunking import MAX_WORDS, OVERLAP_WORDS, chunk_article
from kb_index.documents import Article, load_file, parse_markdown
from kb_index.errors import SourceError
from kb_index.ingest import load_sources
from kb_index.tokenize import tokenize

TINY = Path(__file__).parent / "kb" / "tiny_kb"


def test_every_supported_format_becomes_articles_with_their_fields() -> None:
    loaded = load_sources([TINY])
    by_id = {a.id: a for a in loaded.articles}
    assert loaded.skipped == []
    assert set(by_id) == {
        "vpn-connect",
        "printer-jam",
        "l2-vpn-gateway-restart",
        "faq-display-name",
        "faq-it-bar",
        "office-wifi",
    }
    assert by_id["vpn-connect"].url == "https://help.example.test/kb/vpn-connect"
    assert by_id["vpn-connect"].tags == ("network", "vpn")
    assert by_id["l2-vpn-gateway-restart"].audience == "internal"
    assert by_id["faq-it-bar"].title == "Where is the IT bar?"
    assert by_id["office-wifi"].title == "Join the office Wi-Fi"
    assert "## Guests" in by_id["office-wifi"].body


def test_beir_jsonl_and_plain_text(tmp_path: Path) -> None:
    (tmp_path / "c.jsonl").write_text('{"_id": "x1", "title": "Hello", "text": "World"}\n', encoding="utf-8")
    (tmp_path / "note.txt").write_text("Printer codes\nE-104 means the tray is empty.\n", encoding="utf-8")
    loaded = load_sources([tmp_path])
    assert {(a.id, a.title) for a in loaded.articles} == {("x1", "Hello"), ("note", "Printer codes")}


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("bad.md", "---\nid: [unclosed\n---\nbody", "front matter"),
        ("aud.md", "---\nid: a\ntitle: T\naudience: everyone\n---\nbody", "audience"),
        ("faq.csv", "q,a\nx,y\n", "'question' and 'answer'"),
        ("c.jsonl", "{not json}\n", "line 1"),
        ("bin.md", b"\xff\xfe\x00bad", "UTF-8"),
    ],
)
def test_a_bad_file_is_named_and_skipped_while_the_rest_load(
    tmp_path: Path, name: str, content: str | bytes, reason: str
) -> None:
    (tmp_path / "good.md").write_text("---\nid: good\ntitle: Good\n---\nFine text.", encoding="utf-8")
    target = tmp_path / name
    if isinstance(content, bytes):
        target.write_bytes(content)
    else:
        target.write_text(content, encoding="utf-8")
    loaded = load_sources([tmp_path])
    assert [a.id for a in loaded.articles] == ["good"]
    assert len(loaded.skipped) == 1
    path, why = loaded.skipped[0]
    assert path == str(target) and name in why and reason in why


def test_duplicate_article_ids_are_reported(tmp_path: Path) -> None:
    for name in ("a.md", "b.md"):
        (tmp_path / name).write_text("---\nid: same\ntitle: T\n---\ntext", encoding="utf-8")
    loaded = load_sources([tmp_path])
    assert len(loaded.articles) == 1
    assert "already used" in loaded.skipped[0][1]


def test_load_file_refuses_unsupported_types(tmp_path: Path) -> None:
    path = tmp_path / "x.docx"
    path.write_text("x", encoding="utf-8")
    with pytest.raises(SourceError, match=r"x\.docx"):
        load_file(path)


def test_chunks_follow_headings_and_keep_article_fields() -> None:
    article = parse_markdown((TINY / "vpn.md").read_text(encoding="utf-8"), "vpn")
    chunks = chunk_article(article, version=3)
    sections = [c.section for c in chunks]
    assert sections[0] == "" and chunks[0].text == ""  # the title-only chunk
    assert "Install the client" in sections and "Connect" in sections
    assert all(c.article_id == "vpn-connect" and c.version == 3 and c.url == article.url for c in chunks)
    install = next(c for c in chunks if c.section == "Install the client")
    assert install.search_text.startswith("Connect to the company VPN — Install the client")


def test_long_sections_are_capped_with_overlap() -> None:
    words = [f"w{i}" for i in range(500)]
    article = Article(id="long", title="Long", body="## Part\n" + " ".join(words))
    pieces = [c.text.split() for c in chunk_article(article) if c.text]
    assert all(len(p) <= MAX_WORDS for p in pieces)
    assert pieces[1][:OVERLAP_WORDS] == pieces[0][-OVERLAP_WORDS:]
    assert set(words) == {w for p in pieces for w in p}


def test_changed_text_changes_only_that_chunks_hash() -> None:
    body = "## A\nfirst part\n## B\nsecond part"
    before = chunk_article(Article(id="x", title="X", body=body))
    after = chunk_article(Article(id="x", title="X", body=body.replace("second", "other")))
    changed = [b.section for b, a in zip(before, after, strict=True) if b.content_hash != a.content_hash]
    assert changed == ["B"]


def test_cjk_text_is_split_into_unigrams_and_bigrams_and_latin_is_stemmed() -> None:
    tokens = tokenize("Connecting to 校园网 VPN")
    assert {"connect", "vpn", "校", "校园", "园网"} <= set(tokens)
    assert "to" not in tokens


def test_an_override_folder_replaces_an_article_without_a_clash(tmp_path: Path) -> None:
    source, published = tmp_path / "kb", tmp_path / "published"
    source.mkdir()
    published.mkdir()
    front = "---\nid: vpn\ntitle: VPN\ntags: [network]\naudience: public\n---\n"
    (source / "vpn.md").write_text(front + "# VPN\n\nOriginal steps.\n")
    (source / "wifi.md").write_text(front.replace("vpn", "wifi") + "# Wi-Fi\n\nJoin the network.\n")
    (published / "vpn.md").write_text(front + "# VPN\n\nApproved new steps.\n")
    loaded = load_sources([source], overrides=[published])
    assert loaded.skipped == []
    assert loaded.overridden == ["vpn"]
    by_id = {a.id: a for a in loaded.articles}
    assert set(by_id) == {"vpn", "wifi"}
    assert "Approved new steps" in by_id["vpn"].body
