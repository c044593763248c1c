"""Hybrid retrieval: Chroma vectors and a keyword score, fused by reciprocal rank.

Chroma's sparse/BM25 search is Chroma Cloud only, so the keyword half is TF-IDF over the
passages, built in-process and rebuilt when the knowledge base changes.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import numpy as np
from django.db.models import Count, Max

from knowledge import index
from knowledge.models import Article, Passage
from tickets.embeddings import embed
from tickets.triage import normalise

log = logging.getLogger(__name__)
RRF_K = 60


@dataclass
class Hit:
    passage_id: int
    article_id: int
    slug: str
    title: str
    heading: str
    text: str
    score: float  # fused
    similarity: float  # best cosine similarity of the article's entries (0 when unknown)


class _KeywordIndex:
    def __init__(self):
        self.key = None
        self.ids: list[int] = []
        self.article_ids: list[int] = []
        self.vectorizer = None
        self.matrix = None
        self.lock = threading.Lock()

    def _current_key(self):
        stats = Article.objects.filter(status=Article.Status.PUBLISHED).aggregate(
            n=Count("passages"), changed=Max("updated_at")
        )
        return stats["n"], stats["changed"]

    def search(self, query: str, k: int = 20) -> list[tuple[int, int, float]]:
        key = self._current_key()
        with self.lock:
            if key != self.key:
                self._build()
                self.key = key
        if self.matrix is None or not self.ids:
            return []
        scores = (self.matrix @ self.vectorizer.transform([normalise(query)]).T).toarray().ravel()
        top = np.argsort(scores)[::-1][:k]
        return [(self.ids[i], self.article_ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def _build(self):
        from sklearn.feature_extraction.text import TfidfVectorizer

        rows = list(
            Passage.objects.filter(article__status=Article.Status.PUBLISHED).values_list(
                "id", "article_id", "article__title", "heading", "text"
            )
        )
        self.ids = [r[0] for r in rows]
        self.article_ids = [r[1] for r in rows]
        if not rows:
            self.matrix = None
            return
        self.vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, stop_words="english")
        docs = [normalise(f"{title} {title} {heading} {text}") for _, _, title, heading, text in rows]
        try:
            self.matrix = self.vectorizer.fit_transform(docs)
        except ValueError:  # only stop words
            self.matrix = None


_keyword = _KeywordIndex()


def search(query: str, *, k: int = 3, boost_articles: set[int] | None = None) -> list[Hit]:
    """Best passage per article, best article first."""
    vector_hits: list[tuple[int, int, float]] = []
    try:
        vector_hits = index.query(embed([query])[0], k=30)
    except Exception:
        log.warning("vector search unavailable; keyword retrieval only", exc_info=True)
    keyword_hits = _keyword.search(query, k=30)

    fused: dict[int, float] = {}
    best_passage: dict[int, tuple[float, int]] = {}
    similarity: dict[int, float] = {}
    for ranking, weight in ((vector_hits, 1.0), (keyword_hits, 0.5)):
        seen_articles: set[int] = set()
        rank = 0
        for _passage, article_id, _score in ranking:
            if article_id in seen_articles:
                continue
            seen_articles.add(article_id)
            rank += 1
            fused[article_id] = fused.get(article_id, 0.0) + weight / (RRF_K + rank)
    for passage_id, article_id, score in vector_hits:
        similarity[article_id] = max(similarity.get(article_id, 0.0), score)
        current = best_passage.get(article_id)
        if current is None or score > current[0]:
            best_passage[article_id] = (score, passage_id)
    for passage_id, article_id, _score in keyword_hits:
        best_passage.setdefault(article_id, (0.0, passage_id))
    for article_id in boost_articles or ():
        fused[article_id] = fused.get(article_id, 0.0) + 1.0 / RRF_K

    ranked = sorted(fused, key=fused.get, reverse=True)[:k]
    passage_ids = {aid: best_passage[aid][1] for aid in ranked if aid in best_passage}
    passages = {
        p.id: p for p in Passage.objects.filter(id__in=passage_ids.values()).select_related("article")
    }
    # Boosted articles the search never saw: use their first passage.
    missing = [aid for aid in ranked if aid not in passage_ids]
    for passage in Passage.objects.filter(article_id__in=missing, ordinal=0).select_related("article"):
        passage_ids[passage.article_id] = passage.id
        passages[passage.id] = passage
    hits = []
    for article_id in ranked:
        passage = passages.get(passage_ids.get(article_id))
        if passage is None:
            continue
        hits.append(
            Hit(
                passage_id=passage.id,
                article_id=article_id,
                slug=passage.article.slug,
                title=passage.article.title,
                heading=passage.heading,
                text=passage.text,
                score=fused[article_id],
                similarity=similarity.get(article_id, 0.0),
            )
        )
    return hits


def passages_of(article: Article, query: str) -> list[Passage]:
    """The article's passages, the one closest to the query first."""
    passages = list(article.passages.all())
    if len(passages) <= 1:
        return passages
    vectors = embed([query] + [f"{p.heading}. {p.text}" for p in passages])
    sims = vectors[1:] @ vectors[0]
    return [passages[i] for i in np.argsort(sims)[::-1]]
