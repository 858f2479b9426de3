"""What ingest makes of awkward source files: odd file names, long lists, Chinese prose, raw HTML.

No model needed: these are the articles and passages a reply would show.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kb_index.catalog import sync_catalog
from kb_index.chunking import MAX_CJK_CHARS, MAX_WORDS, chunk_article
from kb_index.documents import Article, parse_markdown
from kb_index.ingest import load_sources
from models.kb import KBArticle


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS refuses file names that are not UTF-8")
@pytest.mark.db
def test_a_file_name_that_is_not_utf8_is_ingested_not_a_crash(tmp_path: Path, session: Session) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "vpn.md").write_text("# VPN\n\nConnect with the client.\n", encoding="utf-8")
    odd = os.fsdecode(os.path.join(os.fsencode(kb), b"drucker-\xe4.md"))  # Latin-1 name from an old zip
    Path(odd).write_text("# Drucker\n\nPapier nachlegen.\n", encoding="utf-8")
    loaded = load_sources([kb])
    assert loaded.skipped == []
    changes = sync_catalog(session, loaded.articles)  # flushes: the driver sees the stored name
    session.commit()
    assert len(changes.added) == 2
    stored = {row.id: row.source_path for row in session.scalars(select(KBArticle))}
    printer = next(i for i in stored if i.startswith("drucker"))
    assert "\ufffd" in (stored[printer] or "")  # shown with a replacement character, never a crash
    assert load_sources([kb]).articles[0].id in stored  # the same id on the next ingest


def test_files_with_chinese_or_accented_names_each_get_their_own_id(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    for name in ("重置密码.md", "打印机.md", "café-wifi.md", "vpn setup.md", "???.md", "!!!.md"):
        (kb / name).write_text(f"# {name}\n\nSome help text.\n", encoding="utf-8")
    loaded = load_sources([kb])
    ids = sorted(a.id for a in loaded.articles)
    assert loaded.skipped == []
    assert len(ids) == 6
    assert {"重置密码", "打印机", "café-wifi", "vpn-setup"} <= set(ids)  # ASCII names keep their old ids
    assert sorted(a.id for a in load_sources([kb]).articles) == ids  # stable across ingests


def test_a_long_checklist_is_cut_between_items_and_stays_a_list() -> None:
    items = [f"- item {i}: open the control panel and check that option {i} is on" for i in range(60)]
    article = Article(id="check", title="Checklist", body="## Steps\n" + "\n".join(items))
    passages = [c.text for c in chunk_article(article) if c.text]
    assert len(passages) > 1
    for passage in passages:
        assert len(passage.split()) <= MAX_WORDS
        assert all(line in items for line in passage.splitlines())  # whole items, one per line
    assert {line for p in passages for line in p.splitlines()} == set(items)


def test_chinese_passages_end_at_a_sentence_and_keep_latin_words_whole() -> None:
    sentence = "找到你想激活的Microphone设备，然后点击关闭按钮。"
    article = Article(id="mic", title="麦克风", body=sentence * 40)
    passages = [c.text for c in chunk_article(article) if c.text]
    assert len(passages) > 1
    for passage in passages:
        assert len(passage) <= MAX_CJK_CHARS
        assert passage.startswith("找到") and passage.endswith("。")
        assert passage.count("Microphone") == passage.count("找到")


def test_prose_is_cut_between_sentences() -> None:
    sentences = [f"Sentence number {i} tells you to restart the service and wait a bit." for i in range(60)]
    article = Article(id="prose", title="Prose", body=" ".join(sentences))
    for passage in (c.text for c in chunk_article(article) if c.text):
        assert passage.startswith("Sentence number") and passage.endswith("wait a bit.")


def test_html_in_markdown_is_not_shown_in_passages_or_titles() -> None:
    text = (
        "# **YUNA** KnowledgeBase\n\n"
        "<!-- TODO: add screenshots -->\n"
        "Apply for a subdomain on the portal.\n\n"
        "## Screenshot\n\n"
        '<center class="half"><img src="/img/sqym.jpg" width=40% /></center>\n\n'
        "## Printer\n\n"
        '<img src="/img/menu.png" alt="Printer menu"> then choose `<Tray 2>` and run `ssh <user>@host`.\n'
        "Older pages use <del>strikethrough</del> too.\n\n"
        "## Gallery\n\n![](/img/a.png)\n"
    )
    article = parse_markdown(text, "kb")
    assert article.title == "YUNA KnowledgeBase"
    passages = {c.section: c.text for c in chunk_article(article) if c.text}
    assert passages["Screenshot"] == "Screenshot"  # the image is gone; the heading still ranks it
    assert passages["Gallery"] == "Gallery"
    assert "TODO" not in passages[""] and passages[""] == "Apply for a subdomain on the portal."
    assert passages["Printer"].startswith("Printer menu then choose `<Tray 2>`")
    assert "<img" not in passages["Printer"] and "ssh <user>@host" in passages["Printer"]
    assert "<del>strikethrough</del>" in passages["Printer"]  # prose naming a tag keeps it


def test_an_article_that_is_only_an_image_is_skipped_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "pic.md").write_text('# Picture\n\n<img src="/img/a.png">\n', encoding="utf-8")
    (tmp_path / "ok.md").write_text("# OK\n\nText.\n", encoding="utf-8")
    loaded = load_sources([tmp_path])
    assert [a.id for a in loaded.articles] == ["ok"]
    assert "only images or markup" in loaded.skipped[0][1]
