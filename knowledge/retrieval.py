"""Hybrid retrieval: Chroma vectors and a keyword score, fused by reciprocal rank.

The index holds several views of every article (passages, sentences, and questions made from
the title, headings and sentences: see `index.upsert_article`). An article's vector score is
a weighted mean over view kinds of its best view of that kind, so an article must match on
several views at once rather than on one lucky fragment. Chroma's sparse/BM25 search is Chroma
Cloud only, so the keyword half is character n-gram TF-IDF over the passages (robust to
misspellings), built in-process and rebuilt when the knowledge base changes.

The question is cleaned before it is embedded: identifiers and amounts are reduced to a mark,
swearing goes, chat shorthand is spelt out, and misspelt or run-together words are corrected
against the knowledge base's own words and the embedding model's vocabulary (`knowledge.spelling`).
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from dataclasses import dataclass

import numpy as np
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Max

from knowledge import index
from knowledge.models import Article, Passage
from knowledge.spelling import Speller, words_of
from tickets.embeddings import embed

log = logging.getLogger(__name__)
RRF_K = 60
# Generated questions are the views closest to how customers write (alone on bitext_kb: hit@1
# 79.5 %, hit@3 96.6 %, against 70 / 90 for passages or sentences alone). Weighted double in
# the mean: 82.4 / 97.0, against 81.1 / 95.5 at equal weights (82.4 / 97.4 at triple).
VIEW_WEIGHTS = {"passage": 1.0, "sentence": 1.0, "question": 2.0}
VECTOR_CANDIDATES = 80  # view entries fetched from Chroma per query
# Measured on bitext_kb: the keyword ranking is much weaker than the vectors on colloquial,
# misspelt questions (char TF-IDF alone hit@1 53 % against 78 %), and any weight above ~0.05
# in the fusion costs hit@1. It stays as a tie-breaker and as the whole answer when no
# embedding model is reachable.
KEYWORD_WEIGHT = 0.05
INTENT_BOOST = 1.0 / RRF_K

# Order numbers ("order 00123842", "N-1042", "#4411") and template placeholders ("{{Order
# Number}}") carry no meaning for which article answers, and pull the embedding around.
_PLACEHOLDER = re.compile(r"\{\{[^}]*\}\}")
_NUMBER = re.compile(r"(?<![\w@])#?(?:[a-z]{1,4}-?)?\d{3,}\b", re.I)
_MONEY = re.compile(r"[$€£]\s?\d[\d,]*(?:\.\d+)?")
# Swearing says how the customer feels (triage reads that), not what they ask about.
_PROFANITY = re.compile(r"\b(?:god ?damn(?:ed)?|damn(?:ed)?|f+u+c+k+(?:ing|in)?|freaking|frigging|bloody|shitty|shit|crappy)\b", re.I)
_SHORTHAND = {
    "u": "you", "ur": "your", "ya": "you", "pls": "please", "plz": "please", "wanna": "want to",
    "gonna": "going to", "gotta": "have to", "thx": "thanks", "abt": "about", "acct": "account", "pwd": "password",
}
_SHORTHAND_WORD = re.compile(r"\b(?:" + "|".join(_SHORTHAND) + r")\b", re.I)


def query_text(text: str) -> str:
    """The question as retrieval sees it: identifiers and amounts marked, swearing dropped,
    chat shorthand spelt out ("ur" → "your"), whitespace squeezed.

    An identifier leaves "#" and an amount its currency sign: that the customer quotes one says
    the question is about their own order or refund ("I expect a refund of $350"), not about the
    policy, while the digits themselves only pull the embedding around. Measured on bitext_kb
    (hit@1 / hit@3): dropped 84.6 / 97.6, kept as typed 82.9 / 97.1, marked 85.3 / 97.9.
    """
    cleaned = _NUMBER.sub(" # ", _MONEY.sub(lambda m: f" {m.group(0)[0]} ", _PLACEHOLDER.sub(" ", text)))
    cleaned = _PROFANITY.sub(" ", cleaned)
    cleaned = _SHORTHAND_WORD.sub(lambda m: _SHORTHAND[m.group(0).lower()], cleaned)
    cleaned = re.sub(r"\s+", " ", cleaned).strip()
    return cleaned if any(c.isalpha() for c in cleaned) else text.strip()


@dataclass
class Hit:
    passage_id: int
    article_id: int
    slug: str
    title: str
    heading: str
    text: str
    score: float  # fused
    similarity: float  # best cosine similarity of the article's views (0 when unknown)


# How long a process may go on with a knowledge base another process changed. `knowledge_changed`
# reaches every process at once through a shared cache (Redis); with the per-process local
# memory cache only this bounds it.
VERSION_TTL_SECONDS = 10


def _version_key() -> str:
    # Per database: `evaluate` and the tests share the cache with the real site.
    name = hashlib.blake2s(str(connection.settings_dict["NAME"]).encode(), digest_size=8).hexdigest()
    return f"knowledge:published-version:{name}"


def knowledge_changed() -> None:
    """Make every process rebuild its keyword index on its next search. Call after commit."""
    try:
        cache.delete(_version_key())
    except Exception:  # the cache being down must not fail a save: the TTL still bounds staleness
        log.warning("could not reach the cache to announce a knowledge base change", exc_info=True)


def _published_version():
    """(published passages, last article change), read from the cache when fresh: the query
    behind it takes ~10 ms on a large knowledge base, every search asks."""
    key = _version_key()
    try:
        version = cache.get(key)
    except Exception:
        log.warning("cache unavailable; reading the knowledge base version from the database", exc_info=True)
        key = version = None
    if version is None:
        stats = Article.objects.filter(status=Article.Status.PUBLISHED).aggregate(
            n=Count("passages"), changed=Max("updated_at")
        )
        version = (stats["n"], stats["changed"])
        if key is not None:
            # A save committing between the query above and this write leaves the old version
            # here for at most the TTL.
            cache.set(key, version, VERSION_TTL_SECONDS)
    return version


class _KeywordIndex:
    """The keyword half, plus the speller and the scope shares, built from the published
    passages. A rebuild after a change runs inside the search that notices it while builds are
    quick; once a build takes longer than REBUILD_IN_BACKGROUND_AFTER seconds (a large knowledge
    base), the next ones run in a background thread and searches keep the previous build.

    The first build of a process runs in the background too when the knowledge base has more
    than FIRST_BUILD_IN_BACKGROUND_ABOVE passages (100,000 passages take about 90 s to build):
    until it is in, searches go on with vectors alone. Queue workers build it before their
    first task (knowledge.apps.warm_up)."""

    REBUILD_IN_BACKGROUND_AFTER = 0.5
    FIRST_BUILD_IN_BACKGROUND_ABOVE = 2_000

    def __init__(self):
        self.key = None
        self.ids: list[int] = []
        self.article_ids: list[int] = []
        self.scopes: list[tuple[str, str]] = []
        self.shares: dict[tuple[str | None, str | None], float] = {}  # by scope, for these scopes
        self.vectorizer = None
        self.postings = None  # n-grams × passages (CSR): a query touches few n-grams
        self.speller = Speller()
        self.build_seconds = 0.0
        self.lock = threading.Lock()  # guards the fields above
        self.building = threading.Lock()  # one build at a time

    def refresh(self, *, wait: bool = False) -> None:
        """Rebuild when the published knowledge base changed since the last build; `wait`
        rebuilds in this thread whatever the size."""
        key = _published_version()
        if key == self.key:
            return
        slow = self.build_seconds > self.REBUILD_IN_BACKGROUND_AFTER if self.key is not None else key[0] > self.FIRST_BUILD_IN_BACKGROUND_ABOVE
        if not wait and slow:
            if self.building.acquire(blocking=False):
                threading.Thread(target=self._rebuild_in_background, args=(key,), daemon=True).start()
            return
        with self.building:
            if key != self.key:
                self._install(self._build(), key)

    def _rebuild_in_background(self, key) -> None:
        from django.db import connection as thread_connection

        try:
            self._install(self._build(), key)
        except Exception:
            log.exception("keyword index rebuild failed; searches keep the previous one")
        finally:
            thread_connection.close()
            self.building.release()

    def _install(self, built: dict, key) -> None:
        with self.lock:
            self.__dict__.update(built)
            self.shares = {}
            self.key = key

    def correct(self, text: str) -> str:
        """The text with misspellings corrected against the knowledge base's words (as of the last refresh)."""
        return self.speller.correct(text)

    def share(self, scope: dict[str, str]) -> float | None:
        """The fraction of published passages in scope (as of the last refresh); 1.0 when all
        are; None before the first build, when it is not known."""
        with self.lock:
            scopes, shares, built = self.scopes, self.shares, self.key is not None
        if not scope:
            return 1.0
        if not built:
            return None
        if not scopes:
            return 1.0
        audience, locale = scope.get("audience"), scope.get("locale")
        if (audience, locale) not in shares:
            kept = sum(1 for a, loc in scopes if (not audience or a == audience) and (not locale or loc == locale))
            shares[audience, locale] = kept / len(scopes)
        return shares[audience, locale]

    def search(
        self, query: str, k: int = 20, audience: str | None = None, locale: str | None = None, *, refresh: bool = True
    ) -> list[tuple[int, int, float]]:
        if refresh:
            self.refresh()
        with self.lock:
            vectorizer, postings, ids, article_ids, scopes = self.vectorizer, self.postings, self.ids, self.article_ids, self.scopes
        if postings is None or not ids:
            return []
        # The query's sparse row times the n-gram rows it touches: the same cosine scores as
        # the full product, with no copy of the postings. With _best_first, this part of a
        # search went from 40 to 23 ms p95 at 101,513 passages in `make bench`'s retrieval
        # phase (slicing the query's columns out of a passages × n-grams matrix, then sorting
        # every score, before).
        q = vectorizer.transform([query.lower()])
        scores = (q @ postings).toarray().ravel()
        hits: list[tuple[int, int, float]] = []
        for i in _best_first(scores, 4 * k):
            if scores[i] <= 0 or len(hits) >= k:
                break
            if (audience and scopes[i][0] != audience) or (locale and scopes[i][1] != locale):
                continue
            hits.append((ids[i], article_ids[i], float(scores[i])))
        return hits

    def _build(self) -> dict:
        """The fields of a build, made without touching the ones searches are using."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        started = time.perf_counter()
        rows = list(
            Passage.objects.filter(article__status=Article.Status.PUBLISHED).values_list(
                "id", "article_id", "article__title", "heading", "text", "article__audience", "article__locale"
            )
        )
        built = {
            "ids": [r[0] for r in rows],
            "article_ids": [r[1] for r in rows],
            "scopes": [(r[5], r[6]) for r in rows],
            "speller": Speller(kb_words=words_of(" ".join(f"{r[2]} {r[3]} {r[4]}" for r in rows))),
            "vectorizer": None,
            "postings": None,
        }
        if rows:
            vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)
            docs = [f"{title} {title} {heading} {text}".lower() for _, _, title, heading, text, _, _ in rows]
            try:
                # passages × n-grams by column, transposed: n-grams × passages by row, no copy.
                built.update(vectorizer=vectorizer, postings=vectorizer.fit_transform(docs).tocsc().T)
            except ValueError:  # nothing but blanks
                pass
        built["build_seconds"] = time.perf_counter() - started
        return built


def _best_first(scores: np.ndarray, first: int):
    """Indices of scores, highest first. The leading `first` come from a partial sort (a full
    sort of 100,000 scores costs 5 ms, this 1 ms); the rest, rarely wanted (most passages out
    of scope), from a full one."""
    if first >= len(scores):
        yield from np.argsort(scores)[::-1]
        return
    top = np.argpartition(scores, -first)[-first:]  # none of the rest scores higher
    yield from top[np.argsort(scores[top])[::-1]]
    rest = np.ones(len(scores), dtype=bool)
    rest[top] = False
    rest = np.flatnonzero(rest)
    yield from rest[np.argsort(scores[rest])[::-1]]


_keyword = _KeywordIndex()


def _scope(audience: str | None, locale: str | None) -> dict[str, str]:
    return {name: value for name, value in (("audience", audience), ("locale", locale)) if value}


def _vector_scores(hits: list[tuple[int, int, float, str]]) -> tuple[dict[int, float], dict[int, float], dict[int, tuple[float, int]]]:
    """Per article: the weighted mean over view kinds of its best view, its best similarity, its best passage.

    A kind an article did not reach the candidate list with counts at the lowest similarity
    fetched: an upper bound for it, so large knowledge bases are not scored on luck.
    """
    floor = min(h[2] for h in hits)
    best: dict[int, dict[str, float]] = {}
    passage: dict[int, tuple[float, int]] = {}
    for passage_id, article_id, similarity, kind in hits:
        kinds = best.setdefault(article_id, {})
        kinds[kind] = max(kinds.get(kind, floor), similarity)
        if kind != "question" and similarity > passage.get(article_id, (-1.0, 0))[0]:
            passage[article_id] = (similarity, passage_id)
        passage.setdefault(article_id, (similarity, passage_id))
    total = sum(VIEW_WEIGHTS.values())
    scores = {
        aid: sum(weight * kinds.get(kind, floor) for kind, weight in VIEW_WEIGHTS.items()) / total
        for aid, kinds in best.items()
    }
    similarity = {aid: max(kinds.values()) for aid, kinds in best.items()}
    return scores, similarity, passage


def search(
    query: str,
    *,
    k: int = 3,
    boost_articles: set[int] | None = None,
    audience: str | None = Article.Audience.PUBLIC,
    locale: str | None = None,
) -> list[Hit]:
    """Best passage per article, best article first.

    Customers get public articles only (the default); pass `audience=None` for agents' tools.
    `locale` limits the answer to articles in that language when given.
    """
    _keyword.refresh()
    text = _keyword.correct(query_text(query))
    scope = _scope(audience, locale)
    share = _keyword.share(scope)
    vector_hits: list[tuple[int, int, float, str]] = []
    try:
        # No scope when every published article is in it anyway (a filter only costs time);
        # while the share is unknown, the scope applies and most entries are assumed in it.
        filtered = None if share == 1.0 else scope
        vector_hits = index.query(embed([text])[0], k=VECTOR_CANDIDATES, scope=filtered, share=1.0 if share is None else share)
    except Exception:
        log.warning("vector search unavailable; keyword retrieval only", exc_info=True)
    keyword_hits = _keyword.search(text, k=30, audience=audience, locale=locale, refresh=False)

    vector_scores, similarity, best_passage = _vector_scores(vector_hits) if vector_hits else ({}, {}, {})
    fused: dict[int, float] = {}
    vector_ranking = sorted(vector_scores, key=vector_scores.get, reverse=True)
    for rank, article_id in enumerate(vector_ranking, 1):
        fused[article_id] = 1.0 / (RRF_K + rank)
    seen: set[int] = set()
    for passage_id, article_id, _score in keyword_hits:
        if article_id in seen:
            continue
        seen.add(article_id)
        fused[article_id] = fused.get(article_id, 0.0) + KEYWORD_WEIGHT / (RRF_K + len(seen))
        best_passage.setdefault(article_id, (0.0, passage_id))
    for article_id in boost_articles or ():
        fused[article_id] = fused.get(article_id, 0.0) + INTENT_BOOST

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
        if passage is None or (audience and passage.article.audience != audience):
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
    vectors = embed([query_text(query)] + [f"{p.heading}. {p.text}" for p in passages])
    sims = vectors[1:] @ vectors[0]
    return [passages[i] for i in np.argsort(sims)[::-1]]
