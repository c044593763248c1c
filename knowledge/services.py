"""Writes on the knowledge base: saving articles, splitting them into passages, indexing."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from django.db import transaction
from django.utils import timezone

from knowledge import index
from knowledge.models import Article, Passage

log = logging.getLogger(__name__)
MAX_PASSAGE_CHARS = 900


def split_passages(body: str, title: str = "") -> list[tuple[str, str]]:
    """Split Markdown along headings, then paragraphs, into (heading, text) chunks."""
    chunks: list[tuple[str, str]] = []
    heading = title
    buffer: list[str] = []

    def flush():
        text = "\n\n".join(p for p in buffer if p).strip()
        if text:
            chunks.append((heading, text))
        buffer.clear()

    for block in re.split(r"\n\s*\n", body.strip()):
        block = block.strip()
        match = re.match(r"^#{1,6}\s+(.+?)(?:\n(.*))?$", block, re.S)
        if match:
            flush()
            heading = match.group(1).strip()
            block = (match.group(2) or "").strip()
        if not block:
            continue
        if sum(len(p) for p in buffer) + len(block) > MAX_PASSAGE_CHARS:
            flush()
        buffer.append(block)
    flush()
    return chunks


def article_save(
    *, slug: str, title: str, body: str, category: str = "", intents: list[str] | None = None, status: str = Article.Status.PUBLISHED
) -> Article:
    """Create or update an article by slug; its index entry is refreshed after commit."""
    with transaction.atomic():
        article, _ = Article.objects.update_or_create(
            slug=slug,
            defaults={"title": title, "body": body, "category": category, "intents": intents or [], "status": status},
        )
        article_split(article=article)
        transaction.on_commit(lambda: _enqueue_index(article.pk))
    return article


def article_set_status(*, article: Article, status: str) -> Article:
    """Publish, archive or draft an article; the index follows after commit (only published ones are in it)."""
    if status not in Article.Status.values:
        raise ValueError(f"Unknown article status {status!r}.")
    if article.status == status:
        return article
    with transaction.atomic():
        article.status = status
        article.save(update_fields=["status", "updated_at"])
        transaction.on_commit(lambda: _enqueue_index(article.pk))
    return article


def article_split(*, article: Article) -> list[Passage]:
    article.passages.all().delete()
    return Passage.objects.bulk_create(
        Passage(article=article, ordinal=i, heading=heading[:200], text=text)
        for i, (heading, text) in enumerate(split_passages(article.body, article.title))
    )


def _enqueue_index(article_id: int) -> None:
    from django_q.tasks import async_task

    async_task("knowledge.tasks.index_article", article_id, task_name=f"index-article-{article_id}")


def article_index(*, article_id: int) -> int:
    """Bring the vector index in line with the article: published ones in, others out."""
    article = Article.objects.filter(pk=article_id).first()
    if article is None:
        index.remove_article(article_id)
        return 0
    if article.status != Article.Status.PUBLISHED:
        index.remove_article(article_id)
        Article.objects.filter(pk=article_id).update(indexed_at=None)
        return 0
    passages = list(article.passages.all())
    if not passages:
        passages = article_split(article=article)
    count = index.upsert_article(article, passages)
    Article.objects.filter(pk=article_id).update(indexed_at=timezone.now())
    return count


def reindex_all(*, progress: Callable[[str, int], None] | None = None) -> int:
    """Rebuild the index from scratch; `progress(slug, entries)` is called after each article."""
    index.drop_collection()
    total = 0
    for article_id, slug in Article.objects.filter(status=Article.Status.PUBLISHED).values_list("id", "slug"):
        entries = article_index(article_id=article_id)
        total += entries
        if progress is not None:
            progress(slug, entries)
    return total
