"""Knowledge-base articles as the database knows them: identity, audience and version history.

The searchable chunks and vectors live in the kb_index directory; the database keeps what an admin
or an audit needs (which version of which article was live when an answer was given).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow


class KBArticle(Base):
    __tablename__ = "kb_articles"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    audience: Mapped[str] = mapped_column(String(20), default="public")  # public | internal
    url: Mapped[str | None] = mapped_column(String(1000), default=None)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    source_path: Mapped[str | None] = mapped_column(String(1000), default=None)
    current_version: Mapped[int] = mapped_column(default=1)
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Set when the article disappears from the ingested sources; history stays for the audit.
    removed_at: Mapped[datetime | None] = mapped_column(default=None)

    versions: Mapped[list[KBArticleVersion]] = relationship(
        back_populates="article", order_by="KBArticleVersion.version", cascade="all, delete-orphan"
    )


class KBArticleVersion(Base):
    __tablename__ = "kb_article_versions"
    __table_args__ = (UniqueConstraint("article_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[str] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"))
    version: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    article: Mapped[KBArticle] = relationship(back_populates="versions")
