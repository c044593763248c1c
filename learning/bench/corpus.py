"""A knowledge base of any size for the retrieval bench, built from a few thousand real entries.

Real entries: the demo articles as seeded, then articles recombined from their sentences and
headings, saved with `article_save` and indexed by the product (MiniLM embeddings). Embedding
100k texts would take too long on a small machine, so the rest are derived: copies of real
articles whose index vectors get Gaussian noise and are renormalised, whose passages are real
sentences recombined, written as Article/Passage rows and as entries with the product's ids and
metadata in the product's collection. The query path (`knowledge.retrieval.search`) is the
production one; only how the entries got there differs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import numpy as np
from django.utils import timezone

NOISE = 0.03  # per dimension: noise norm ~0.59, cosine to the original vector ~0.86
INTERNAL_SHARE = 0.1  # agents-only articles, so customer retrieval needs its audience filter
ADD_BATCH = 4000


class Corpus:
    def __init__(self, *, seed: int):
        self.rng = np.random.default_rng(seed)
        self.made = 0
        self.templates: list[dict] | None = None
        self._pool()

    def description(self, real_entries: int) -> dict:
        return {
            "real": f"up to {real_entries} index entries embedded by the product: the demo articles (seed_demo) plus "
            "articles recombined from their sentences and headings, saved with article_save and indexed by "
            "knowledge.index.upsert_article",
            "derived": f"the rest: copies of real articles; index vectors + N(0, {NOISE}^2) per dimension, renormalised "
            "(cosine ~0.86 to the original), passages recombined from real sentences; Article/Passage rows "
            "bulk-created and entries added to the product's collection with its ids and metadata",
            "internal_share": INTERNAL_SHARE,
            "noise": NOISE,
            "entries": "size = Chroma entries (the index holds several views of each article: its passages, "
            "their sentences, and questions generated from the title, headings and sentences)",
        }

    def counts(self) -> dict:
        from knowledge.models import Article, Passage

        return {
            "articles": Article.objects.count(),
            "internal_articles": Article.objects.filter(audience=Article.Audience.INTERNAL).count(),
            "passages": Passage.objects.count(),
        }

    def grow(self, size: int, *, real_entries: int, say: Callable[[str], None]) -> None:
        from django_q.conf import Conf

        from knowledge import index

        col = index.collection()
        real = min(size, real_entries)
        if col.count() < real:
            say(f"corpus: embedding real articles up to {real} entries")
        synchronous, Conf.SYNC = Conf.SYNC, True  # the index tasks run inline, as the worker would run them
        try:
            while col.count() < real:
                self._add_real()
        finally:
            Conf.SYNC = synchronous
        missing = size - col.count()
        if missing > 0:
            say(f"corpus: deriving {missing} entries")
            self._add_derived(missing)

    def _pool(self) -> None:
        from knowledge import index
        from knowledge.models import Article, Passage

        sentences, headings = [], []
        for heading, text in Passage.objects.values_list("heading", "text"):
            sentences.extend(index.sentences(text))
            headings.append(heading)
        headings.extend(Article.objects.values_list("title", flat=True))
        self.sentences = sorted(set(sentences))
        self.headings = sorted({h for h in headings if h})

    def _pick(self, items: list[str], n: int) -> list[str]:
        return [items[i] for i in self.rng.integers(0, len(items), n)]

    def _audience(self) -> str:
        return "internal" if self.rng.random() < INTERNAL_SHARE else "public"

    def _add_real(self) -> None:
        from knowledge.services import article_save

        self.made += 1
        sections = [
            f"## {heading}\n\n" + " ".join(self._pick(self.sentences, int(self.rng.integers(3, 6))))
            for heading in self._pick(self.headings, int(self.rng.integers(2, 5)))
        ]
        title = ": ".join(self._pick(self.headings, 2))[:200]
        article_save(slug=f"bench-real-{self.made}", title=title, body="\n\n".join(sections), audience=self._audience())

    def _load_templates(self) -> list[dict]:
        from knowledge import index
        from knowledge.models import Article

        got = index.collection().get(include=["embeddings", "metadatas"])
        entries = defaultdict(list)
        for entry_id, vector, meta in zip(got["ids"], got["embeddings"], got["metadatas"], strict=True):
            entries[int(meta["article_id"])].append((entry_id, np.asarray(vector, dtype=np.float32), meta))
        templates = []
        for article in Article.objects.filter(pk__in=entries).prefetch_related("passages"):
            passages = list(article.passages.all())
            sentence_counts = defaultdict(int)
            for _, _, meta in entries[article.pk]:
                if meta["kind"] == "sentence":
                    sentence_counts[int(meta["passage_id"])] += 1
            templates.append(
                {
                    "title": article.title,
                    "passages": [(p.pk, p.ordinal, p.heading, max(1, sentence_counts[p.pk])) for p in passages],
                    "entries": entries[article.pk],
                }
            )
        return templates

    def _add_derived(self, missing: int) -> None:
        from knowledge import index, retrieval
        from knowledge.models import Article, Passage

        if self.templates is None:
            self.templates = self._load_templates()
        col = index.collection()
        added = 0
        now = timezone.now()
        while added < missing:
            chosen, planned = [], 0
            while planned < missing - added and len(chosen) < 50:
                chosen.append(self.templates[int(self.rng.integers(0, len(self.templates)))])
                planned += len(chosen[-1]["entries"])
            articles = []
            for template in chosen:
                self.made += 1
                articles.append(
                    Article(
                        slug=f"bench-derived-{self.made}",
                        title=f"{template['title']} ({self._pick(self.headings, 1)[0]})"[:200],
                        body="",
                        status=Article.Status.PUBLISHED,
                        audience=self._audience(),
                        locale="en",
                        indexed_at=now,
                    )
                )
            Article.objects.bulk_create(articles)
            passages, texts = [], []
            for article, template in zip(articles, chosen, strict=True):
                for _, ordinal, heading, sentence_count in template["passages"]:
                    text = " ".join(self._pick(self.sentences, sentence_count))
                    passages.append(Passage(article=article, ordinal=ordinal, heading=heading, text=text))
                    texts.append((article, heading, text))
            Passage.objects.bulk_create(passages)
            for article in articles:
                article.body = "\n\n".join(f"## {h}\n\n{t}" for a, h, t in texts if a is article)
            Article.objects.bulk_update(articles, ["body"])
            ids, vectors, metas = [], [], []
            passage_iter = iter(passages)
            for article, template in zip(articles, chosen, strict=True):
                new_passage = {old_pk: next(passage_iter).pk for old_pk, *_ in template["passages"]}
                for entry_id, vector, meta in template["entries"]:
                    passage_id = new_passage.get(int(meta["passage_id"]))
                    if passage_id is None:
                        continue
                    owner = article.pk if meta["kind"] == "question" else passage_id
                    # knowledge.index's ids: the view kind's letter, the owner's id, the view's number.
                    _, dash, suffix = entry_id.partition("-")
                    ids.append(f"{entry_id[0]}{owner}{dash}{suffix}")
                    vectors.append(vector)
                    metas.append(
                        {**meta, "article_id": article.pk, "passage_id": passage_id, "audience": article.audience, "locale": "en"}
                    )
            noisy = np.asarray(vectors) + self.rng.normal(0.0, NOISE, (len(vectors), len(vectors[0]))).astype(np.float32)
            noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
            for start in range(0, len(ids), ADD_BATCH):
                end = start + ADD_BATCH
                col.add(ids=ids[start:end], embeddings=noisy[start:end].tolist(), metadatas=metas[start:end])
            added += len(ids)
        retrieval.knowledge_changed()  # rows written past the services: tell retrieval, as they would
