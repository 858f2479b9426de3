"""Ingest, incremental re-ingest, versions, permissions, swaps and refusal, with the real MiniLM model."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.kb_service import ingest_configured, open_searcher
from bot.settings import Settings
from kb_index.encoders import Encoder, load_encoder
from kb_index.errors import EncoderMismatchError, IndexCorruptError, IndexMissingError
from kb_index.ingest import ingest_paths
from kb_index.searcher import LiveSearcher
from models.kb import KBArticle, KBArticleVersion
from tests.conftest import TestDatabase

TINY = Path(__file__).parent / "kb" / "tiny_kb"
PUBLIC = frozenset({"public"})
ENGINEER = frozenset({"public", "internal"})

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return load_encoder("minilm")


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    target = tmp_path / "kb"
    shutil.copytree(TINY, target)
    return target


def _settings(tmp_path: Path, db: TestDatabase) -> Settings:
    return Settings(data_dir=tmp_path / "var", database_url=db.url, kb_encoder="minilm", kb_sources="")


@pytest.mark.db
def test_ingest_answers_questions_and_records_versions(
    tmp_path: Path, db: TestDatabase, session: Session, kb: Path, encoder: Encoder
) -> None:
    cfg = _settings(tmp_path, db)
    report = ingest_configured(cfg, session, [kb])
    session.commit()
    assert len(report.added) == 6 and report.skipped == []
    assert report.chunks_embedded > 6 and report.chunks_reused == 0
    result = open_searcher(cfg).search("my paper is stuck in the printer")
    assert result.top is not None and result.top.article_id == "printer-jam"
    assert result.top.best.text.startswith("Open the front door")
    assert result.top.best.version == 1
    rows = session.scalars(select(KBArticle)).all()
    assert {r.id for r in rows} >= {"vpn-connect", "printer-jam", "faq-it-bar"}
    assert all(r.current_version == 1 for r in rows)


@pytest.mark.db
def test_reingest_reuses_vectors_versions_changes_and_removes_articles(
    tmp_path: Path, db: TestDatabase, session: Session, kb: Path, encoder: Encoder
) -> None:
    cfg = _settings(tmp_path, db)
    first = ingest_configured(cfg, session, [kb])
    again = ingest_configured(cfg, session, [kb])
    assert again.chunks_embedded == 0 and again.chunks_reused == first.chunks_embedded
    assert len(again.unchanged) == 6

    vpn = kb / "vpn.md"
    vpn.write_text(
        vpn.read_text(encoding="utf-8").replace("vpn.example.test", "gw.example.test"), encoding="utf-8"
    )
    (kb / "printer.md").unlink()
    changed = ingest_configured(cfg, session, [kb])
    session.commit()
    assert changed.updated == ["vpn-connect"] and changed.removed == ["printer-jam"]
    assert changed.chunks_embedded == 1  # only the edited section
    versions = session.scalars(
        select(KBArticleVersion).where(KBArticleVersion.article_id == "vpn-connect")
    ).all()
    assert [v.version for v in versions] == [1, 2]
    assert session.get(KBArticle, "printer-jam").removed_at is not None  # type: ignore[union-attr]

    searcher = open_searcher(cfg)
    hit = searcher.search("how do I connect to the VPN", k=5)
    assert hit.top is not None and hit.top.article_id == "vpn-connect" and hit.top.best.version == 2
    assert "printer-jam" not in {h.article_id for h in searcher.search("paper jam in the printer", k=10).hits}


@pytest.mark.db
def test_a_file_that_breaks_later_keeps_its_articles(
    tmp_path: Path, db: TestDatabase, session: Session, kb: Path, encoder: Encoder
) -> None:
    cfg = _settings(tmp_path, db)
    ingest_configured(cfg, session, [kb])
    (kb / "printer.md").write_text("---\nid: [broken\n---\n", encoding="utf-8")
    report = ingest_configured(cfg, session, [kb])
    assert [p for p, _ in report.skipped] == [str(kb / "printer.md")]
    assert report.removed == [] and report.carried_over == ["printer-jam"]
    result = open_searcher(cfg).search("paper jam in the office printer")
    assert result.top is not None and result.top.article_id == "printer-jam"


def test_internal_articles_only_reach_engineers(tmp_path: Path, encoder: Encoder) -> None:
    ingest_paths(tmp_path / "index", [TINY], encoder)
    searcher = LiveSearcher(tmp_path / "index", encoder)
    question = "restart the VPN gateway cluster node"
    public = searcher.search(question, audiences=PUBLIC, k=10)
    engineer = searcher.search(question, audiences=ENGINEER, k=10)
    assert all(h.audience == "public" for h in public.hits)
    assert "l2-vpn-gateway-restart" not in {h.article_id for h in public.hits}
    assert engineer.top is not None and engineer.top.article_id == "l2-vpn-gateway-restart"


def test_confidence_separates_known_from_unknown_questions(tmp_path: Path, encoder: Encoder) -> None:
    ingest_paths(tmp_path / "index", [TINY], encoder)
    searcher = LiveSearcher(tmp_path / "index", encoder)
    known = searcher.search("where can I find the IT bar")
    unknown = searcher.search("what is the vegetarian option in the canteen on friday")
    assert known.answerable() and known.top is not None and known.top.article_id == "faq-it-bar"
    assert not unknown.answerable()
    assert 0.0 <= unknown.confidence < known.confidence <= 1.0


def _article(folder: Path, slug: str, title: str, body: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    text = f"---\nid: {slug}\ntitle: {title}\naudience: public\n---\n# {title}\n\n{body}\n"
    (folder / f"{slug}.md").write_text(text, "utf-8")


def test_close_articles_offered_as_a_choice_are_likelier_right_than_the_first_alone(
    tmp_path: Path, encoder: Encoder
) -> None:
    kb = tmp_path / "kb"
    shutil.copytree(TINY, kb)
    _article(kb, "print-queue", "Print jobs stuck in the queue", "Cancel all documents and print again.")
    _article(kb, "printer-add", "Add a printer", "Install the office printer from the company portal.")
    ingest_paths(tmp_path / "index", [kb], encoder)
    searcher = LiveSearcher(tmp_path / "index", encoder)
    torn = searcher.search("I can't print to the office printer")
    assert {h.article_id for h in torn.hits} >= {"print-queue", "printer-add"}
    assert torn.suggestion_confidence > torn.confidence  # a choice between them is likelier right
    assert 0.0 <= torn.suggestion_confidence <= 1.0
    chatter = searcher.search("what is the vegetarian option in the canteen on friday")
    assert chatter.suggestion_confidence < 0.6 * chatter.threshold < torn.suggestion_confidence


def test_a_running_searcher_picks_up_a_swapped_index(tmp_path: Path, encoder: Encoder) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    shutil.copy(TINY / "vpn.md", kb)
    root = tmp_path / "index"
    ingest_paths(root, [kb], encoder)
    searcher = LiveSearcher(root, encoder)
    before = searcher.current.index.build_id
    assert "printer-jam" not in {h.article_id for h in searcher.search("printer paper jam", k=5).hits}
    shutil.copy(TINY / "printer.md", kb)
    ingest_paths(root, [kb], encoder)
    result = searcher.search("printer paper jam", k=5)
    assert result.top is not None and result.top.article_id == "printer-jam"
    assert searcher.current.index.build_id != before
    assert not list((root / "builds").glob("*.partial"))


class _OtherModel:
    """A stand-in encoder from another vector space (same dimension, different model)."""

    key = "other"
    name = "other-model"
    revision = "1"
    dim = 384

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        vectors: np.ndarray = np.full((len(texts), 384), 1 / np.sqrt(384), dtype=np.float32)
        return vectors

    multilingual = False

    encode_passages = encode_queries


def test_an_index_from_another_encoder_is_refused_with_a_clear_message(
    tmp_path: Path, encoder: Encoder
) -> None:
    root = tmp_path / "index"
    ingest_paths(root, [TINY], _OtherModel())
    with pytest.raises(EncoderMismatchError, match=r"other-model.*re-ingest"):
        LiveSearcher(root, encoder)


def test_opening_without_an_index_says_how_to_build_one(tmp_path: Path) -> None:
    cfg = Settings(data_dir=tmp_path / "var", kb_encoder="minilm")
    with pytest.raises(IndexMissingError, match="tierline kb ingest examples/kb"):
        open_searcher(cfg)


def test_a_damaged_index_is_reported_and_a_fresh_ingest_repairs_it(tmp_path: Path, encoder: Encoder) -> None:
    root = tmp_path / "index"
    ingest_paths(root, [TINY], encoder)
    (root / "CURRENT").write_text("no-such-build\n", encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="no-such-build"):
        LiveSearcher(root, encoder)
    ingest_paths(root, [TINY], encoder)
    result = LiveSearcher(root, encoder).search("where is the IT bar")
    assert result.top is not None and result.top.article_id == "faq-it-bar"


def _write_mixed_kb(kb: Path) -> None:
    """A small Chinese + English KB written for these tests (a password article whose title ends
    in 怎么办, the way Chinese help titles often do)."""
    kb.mkdir()
    articles = {
        "zh-password": (
            "忘记密码或账户被锁定怎么办",
            "## 自助重置\n打开自助重置页面，用手机验证身份后设置新密码。\n\n"
            "## 账户被锁定\n连续输错密码会锁定账户十五分钟，之后自动解锁。",
        ),
        "zh-vpn": (
            "VPN 连接不上或频繁断线",
            "## 连接\n打开 Cisco 客户端，输入网关地址后登录。\n\n"
            "## 频繁断线\n家里的路由器休眠或信号弱会导致断线。请换用有线网络，并关闭省电模式。",
        ),
        "zh-printer": (
            "打印机卡纸和刷卡取件",
            "## 卡纸\n打开前盖，沿出纸方向慢慢取出纸张。\n\n## 取件\n在打印机上刷工牌即可取件。",
        ),
        "outlook": (
            "Outlook crashes, freezes or won't start",
            "## Fix it\nStart Outlook in safe mode, disable add-ins, then repair the Office installation.",
        ),
    }
    for article_id, (title, body) in articles.items():
        (kb / f"{article_id}.md").write_text(f"---\nid: {article_id}\ntitle: {title}\n---\n{body}\n", "utf-8")


def test_a_mixed_language_question_is_ranked_by_its_topic_not_its_filler_words(
    tmp_path: Path, encoder: Encoder
) -> None:
    kb = tmp_path / "kb"
    _write_mixed_kb(kb)
    ingest_paths(tmp_path / "index", [kb], encoder)
    searcher = LiveSearcher(tmp_path / "index", encoder)
    for question, expected in (
        ("VPN 一直断开怎么办", "zh-vpn"),
        ("我的 Outlook 一直 crash，怎么办？", "outlook"),
        ("在家连不上VPN怎么办", "zh-vpn"),
        ("账户被锁定了怎么办", "zh-password"),
    ):
        result = searcher.search(question, k=3)
        assert result.top is not None and result.top.article_id == expected, question


def test_a_page_of_links_does_not_outrank_the_page_it_links_to(tmp_path: Path, encoder: Encoder) -> None:
    kb = tmp_path / "kb"
    _write_mixed_kb(kb)
    (kb / "index.md").write_text(
        "---\nid: quick-index\ntitle: 常见问题速查\n---\n"
        "## 打印机卡纸了怎么取出？\n[打印机卡纸和刷卡取件](zh-printer.md)\n\n"
        "## VPN 老是断线？\n[VPN 连接不上或频繁断线](zh-vpn.md)\n\n"
        "## 忘记密码了？\n[忘记密码或账户被锁定](zh-password.md)\n",
        "utf-8",
    )
    ingest_paths(tmp_path / "index", [kb], encoder)
    searcher = LiveSearcher(tmp_path / "index", encoder)
    for question, expected in (("打印机卡纸了怎么取出", "zh-printer"), ("VPN 老是断线", "zh-vpn")):
        result = searcher.search(question, k=3)
        assert result.top is not None and result.top.article_id == expected, question
