"""Recording articles and their versions in the database (the audit trail of what was live).

The caller owns the session: rows are added and changed here, never committed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb_index.documents import Article
from models.base import utcnow
from models.kb import KBArticle, KBArticleVersion


@dataclass
class CatalogChanges:
    versions: dict[str, int] = field(default_factory=dict)
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def sync_catalog(
    session: Session,
    articles: list[Article],
    *,
    keep_sources: set[str] | None = None,
    now: datetime | None = None,
) -> CatalogChanges:
    """Make the kb_articles rows match `articles`: new versions for changed content, removals marked.

    Articles whose source file is in `keep_sources` (a file that failed to parse this time) are
    neither changed nor removed.
    """
    now = now or utcnow()
    keep = keep_sources or set()
    changes = CatalogChanges()
    existing = {row.id: row for row in session.scalars(select(KBArticle))}
    for article in articles:
        row = existing.get(article.id)
        digest = article.content_hash
        if row is None:
            row = KBArticle(
                id=article.id,
                title=article.title,
                audience=article.audience,
                url=article.url,
                tags=list(article.tags),
                source_path=article.source_path,
                current_version=1,
                content_hash=digest,
            )
            session.add(row)
            session.add(_version(article, 1))
            changes.added.append(article.id)
        elif row.content_hash == digest and row.removed_at is None:
            if row.source_path != article.source_path:
                row.source_path = article.source_path
            changes.unchanged.append(article.id)
        else:
            if row.content_hash != digest:
                row.current_version += 1
                session.add(_version(article, row.current_version))
            was_removed = row.removed_at is not None
            row.title, row.audience, row.url = article.title, article.audience, article.url
            row.tags, row.source_path, row.content_hash = list(article.tags), article.source_path, digest
            row.removed_at = None
            (changes.added if was_removed else changes.updated).append(article.id)
        changes.versions[article.id] = row.current_version
    present = {a.id for a in articles}
    for article_id, row in existing.items():
        if article_id in present or row.removed_at is not None or row.source_path in keep:
            continue
        row.removed_at = now
        changes.removed.append(article_id)
    session.flush()
    return changes


def _version(article: Article, version: int) -> KBArticleVersion:
    return KBArticleVersion(
        article_id=article.id,
        version=version,
        content_hash=article.content_hash,
        title=article.title,
        body=article.body,
    )
