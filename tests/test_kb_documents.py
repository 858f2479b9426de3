"""Reading sources, chunking and lexical tokens: no model needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb_index.chunking import MAX_WORDS, OVERLAP_WORDS, chunk_article, link_share
from kb_index.documents import Article, load_file, parse_html, parse_markdown
from kb_index.errors import SourceError
from kb_index.ingest import load_sources
from kb_index.lexical import LexicalIndex
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
        ("bin.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "not a text file"),
        ("zip.txt", b"PK\x03\x04\x14\x00\x00\x00\x08\x00", "not a text file"),
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


# --- encodings: files as Windows tools and help-centre exports save them ----------------------


def test_a_windows_1252_text_file_is_read_not_skipped(tmp_path: Path) -> None:
    text = "Café Wi-Fi guest access\nAsk reception for a “guest” voucher – it lasts 24 hours.\n"
    (tmp_path / "guest.txt").write_bytes(text.encode("cp1252"))
    loaded = load_sources([tmp_path])
    assert loaded.skipped == []
    article = loaded.articles[0]
    assert article.title == "Café Wi-Fi guest access"
    assert "“guest” voucher – it lasts" in article.body


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "utf-8-sig", "utf-16-be"])
def test_unicode_files_with_a_byte_order_mark_are_read(tmp_path: Path, encoding: str) -> None:
    html = "<html><body><h1>Toner wechseln – Drucker</h1><p>Bestellen Sie Toner im Portal.</p></body></html>"
    raw = html.encode(encoding)
    if encoding == "utf-16-be":
        raw = b"\xfe\xff" + raw  # Python writes no mark for an explicit byte order
    (tmp_path / "toner.html").write_bytes(raw)
    loaded = load_sources([tmp_path])
    assert loaded.skipped == []
    assert loaded.articles[0].title == "Toner wechseln – Drucker"
    assert "Bestellen Sie Toner" in loaded.articles[0].body


def test_an_html_page_is_read_in_the_charset_it_declares(tmp_path: Path) -> None:
    page = (
        '<html><head><meta charset="gbk"><title>帮助</title></head>'
        "<body><h1>打印机卡纸处理</h1><p>打开前盖，取出卡住的纸。</p></body></html>"
    )
    (tmp_path / "jam.html").write_bytes(page.encode("gbk"))
    legacy = (
        '<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">'
        "<h1>Caf\xe9 r\xe9seau</h1><p>x</p>"
    )
    (tmp_path / "cafe.html").write_bytes(legacy.encode("latin-1"))
    loaded = load_sources([tmp_path])
    assert loaded.skipped == []
    titles = {a.id: a.title for a in loaded.articles}
    assert titles == {"jam": "打印机卡纸处理", "cafe": "Café réseau"}


# --- HTML exports: the article's title, not the site's ----------------------------------------

_SITE = (
    "<html><head><title>{title}</title>{head}</head><body>"
    "<header><a href='/'>Help Center</a><nav><a href='/kb'>All articles</a></nav></header>"
    "<main><article>{article}</article></main>"
    "<footer>© Example Ltd · Privacy</footer></body></html>"
)


def test_exported_pages_sharing_one_site_title_get_their_own_titles(tmp_path: Path) -> None:
    for name, h1 in (("dock.html", "Update the dock firmware"), ("toner.html", "Replace the toner")):
        article = f"<header><h1>{h1}</h1><p>Updated last week</p></header><p>Steps for {h1.lower()}.</p>"
        (tmp_path / name).write_text(_SITE.format(title="Help Center", head="", article=article), "utf-8")
    loaded = load_sources([tmp_path])
    titles = {a.id: a.title for a in loaded.articles}
    assert titles == {"dock": "Update the dock firmware", "toner": "Replace the toner"}
    dock = next(a for a in loaded.articles if a.id == "dock")
    assert "Updated last week" in dock.body  # the article's own header is kept
    assert "All articles" not in dock.body and "Privacy" not in dock.body  # site chrome is not


def test_an_html_page_without_h1_falls_back_to_og_title_then_title_without_site_suffix() -> None:
    og = _SITE.format(
        title="Help Center",
        head='<meta property="og:title" content="Map a network drive">',
        article="<p>Open File Explorer.</p>",
    )
    assert parse_html(og, "x").title == "Map a network drive"
    plain = _SITE.format(
        title="Reset your password | Example IT", head="", article="<p>Go to the portal.</p>"
    )
    assert parse_html(plain, "x").title == "Reset your password"
    dashed = _SITE.format(
        title="Wi-Fi - guest access - Example IT",
        head='<meta property="og:site_name" content="Example IT">',
        article="<p>Ask reception.</p>",
    )
    assert parse_html(dashed, "x").title == "Wi-Fi - guest access"


# --- code blocks ------------------------------------------------------------------------------

_SPOOLER = """---
title: Restart the print spooler
---
Restarting the spooler clears a stuck print queue.

## Steps

```powershell
# Stop the spooler service
Stop-Service Spooler
# Delete the stuck jobs
Remove-Item C:\\Windows\\System32\\spool\\PRINTERS\\* -Force
# Start it again
Start-Service Spooler
```

~~~
# not a heading either
~~~

Then print a test page.
"""


def test_comment_lines_in_code_blocks_are_not_sections() -> None:
    chunks = chunk_article(parse_markdown(_SPOOLER, "spooler"))
    assert {c.section for c in chunks} == {"", "Steps"}
    steps = next(c for c in chunks if c.section == "Steps")
    assert "# Stop the spooler service\nStop-Service Spooler" in steps.text
    assert "Start-Service Spooler\n```" in steps.text and "Then print a test page." in steps.text


def test_a_code_comment_is_not_taken_for_the_title() -> None:
    body = (
        "```sh\n# flush the DNS cache\nsudo dscacheutil -flushcache\n```\n\n# Flush DNS on a Mac\n\nRun it."
    )
    assert parse_markdown(body, "dns").title == "Flush DNS on a Mac"


def test_html_code_blocks_keep_their_comment_lines_as_code() -> None:
    page = (
        "<h1>Restart the spooler</h1><p>Run:</p>"
        "<pre># Stop the spooler\nStop-Service Spooler</pre><p>Done.</p>"
    )
    chunks = chunk_article(parse_html(page, "spooler"))
    assert {c.section for c in chunks} == {""}
    assert any("# Stop the spooler\nStop-Service Spooler" in c.text for c in chunks)


def test_a_long_section_is_never_cut_inside_a_code_block() -> None:
    script = "\n".join(f"# step {i}\nSet-Item -Path HKLM:\\Soft\\Key{i} -Value {i}" for i in range(12))
    prose = " ".join(f"word{i}" for i in range(170))
    body = f"## Fix\n{prose}\n\n```powershell\n{script}\n```\n\nThen restart the laptop and check again."
    passages = [c.text for c in chunk_article(Article(id="fix", title="Fix", body=body)) if c.text]
    assert all(len(p.split()) <= MAX_WORDS for p in passages)
    assert all(p.count("```") % 2 == 0 for p in passages)  # every fence that opens also closes
    assert any(script in p for p in passages)  # the script stays whole
    assert any("Then restart the laptop" in p for p in passages)


def test_a_code_block_longer_than_a_passage_is_cut_between_lines_and_stays_fenced() -> None:
    script = "\n".join(
        f"Set-ItemProperty -Path HKLM:\\Soft\\Key{i} -Name Value -Value {i}" for i in range(80)
    )
    body = f"## Script\n```powershell\n{script}\n```"
    passages = [c.text for c in chunk_article(Article(id="s", title="S", body=body)) if c.text]
    assert len(passages) > 1
    assert all(p.startswith("```powershell\n") and p.endswith("\n```") for p in passages)
    lines = [line for p in passages for line in p.splitlines()[1:-1]]
    assert lines == script.splitlines()  # every command once, none cut in half


# --- Chinese and mixed questions: filler words do not decide ----------------------------------


def test_chinese_filler_words_are_not_search_terms() -> None:
    tokens = tokenize("请问我的 VPN 一直断开怎么办？")
    assert {"vpn", "断开"} <= set(tokens)
    assert not {"怎么办", "怎么", "么办", "一直", "请问", "我的", "我"} & set(tokens)
    assert {"无法", "不能", "没有"} <= set(tokenize("无法登录，不能打印，没有声音"))


def test_a_latin_word_next_to_chinese_is_its_own_term() -> None:
    assert "vpn" in tokenize("在家连不上VPN怎么办")
    assert "wifi" in tokenize("访客wifi密码")


def test_a_mixed_question_is_ranked_by_its_topic_not_by_how_it_is_asked() -> None:
    texts = [
        "密码忘了怎么办：打开自助重置页面，验证手机后设置新密码。",
        "VPN 频繁断线：换用上海网关，检查家里的路由器，重新连接 Cisco 客户端。",
        "Outlook crashes or freezes: start it in safe mode and repair the profile.",
    ]
    lexical = LexicalIndex.build(texts)
    assert int(lexical.scores("VPN 一直断开怎么办").argmax()) == 1
    assert int(lexical.scores("我的 Outlook 一直 crash，怎么办？").argmax()) == 2


def test_a_passage_made_of_links_counts_as_a_link_hub() -> None:
    assert link_share("[连接和认证方式](../network/connect.md)") == 1.0
    assert (
        link_share("- [Wi-Fi](wifi.md)\n- [VPN](vpn.md)\n- [Printers](https://help.example.test/print)") > 0.9
    )
    assert link_share("Open Settings, then [Network](net.md) and press Reset to rejoin.") < 0.3
    assert link_share("![screenshot](img/vpn.png) Click Connect.") == 0.0
