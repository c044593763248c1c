"""Reads on the knowledge base for the API: published articles and ranked search hits."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from knowledge import retrieval
from knowledge.models import Article


@dataclass
class ArticleMatch:
    article: Article
    score: float  # fused rank score
    similarity: float  # best vector cosine similarity (0 when only the keyword half matched)
    heading: str
    passage: str


def articles_published() -> QuerySet[Article]:
    """What customers may read: published and public (internal articles are for agents)."""
    return Article.objects.filter(status=Article.Status.PUBLISHED, audience=Article.Audience.PUBLIC)


def article_search(*, query: str, k: int = 10) -> list[ArticleMatch]:
    """Published articles for the query, best first, each with the passage that matched."""
    hits = retrieval.search(query, k=k)
    # The vector index may briefly hold an article that was archived since; never show it.
    articles = articles_published().in_bulk([hit.article_id for hit in hits])
    return [
        ArticleMatch(
            article=articles[hit.article_id],
            score=hit.score,
            similarity=hit.similarity,
            heading=hit.heading,
            passage=hit.text,
        )
        for hit in hits
        if hit.article_id in articles
    ]
