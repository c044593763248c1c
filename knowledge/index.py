"""The Chroma side of the knowledge base.

The client is created lazily in each process (one made before django-q2 forks deadlocks its
workers) and reaches the Chroma server over HTTP; several processes sharing one persist folder
return wrong neighbours. `CHROMA_URL=memory://` gives an in-process index for tests and
`evaluate`.
"""

from __future__ import annotations

import logging
import math
import os
import re
from urllib.parse import urlparse

from django.conf import settings

from knowledge import questions
from knowledge.spelling import words_of
from tickets.embeddings import embed, embedder

log = logging.getLogger(__name__)
_state: dict[str, object] = {"pid": None, "client": None, "collection": None}
_KIND = {"p": "passage", "s": "sentence", "q": "question"}  # by the entry id's first letter


def client():
    if _state["pid"] != os.getpid() or _state["client"] is None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=True)
        url = settings.CHROMA_URL
        if url.startswith("memory://"):
            _state["client"] = chromadb.EphemeralClient(settings=chroma_settings)
        else:
            parsed = urlparse(url)
            _state["client"] = chromadb.HttpClient(
                host=parsed.hostname or "127.0.0.1",
                port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                ssl=parsed.scheme == "https",
                settings=chroma_settings,
            )
        _state["pid"] = os.getpid()
        _state["collection"] = None
    return _state["client"]


def collection_name() -> str:
    model = re.sub(r"[^A-Za-z0-9_.-]", "-", embedder().name)
    return f"{settings.CHROMA_COLLECTION}-{model}"[:63]


def collection():
    if _state["collection"] is None or _state["pid"] != os.getpid():
        _state["collection"] = client().get_or_create_collection(
            name=collection_name(), embedding_function=None, metadata={"hnsw:space": "cosine"}
        )
    return _state["collection"]


def reset_state() -> None:
    _state.update(pid=None, client=None, collection=None)


def drop_collection() -> None:
    try:
        client().delete_collection(collection_name())
    except Exception:
        pass
    _state["collection"] = None


def sentences(text: str) -> list[str]:
    """Markdown prose split into sentences (list items count as sentences)."""
    plain = re.sub(r"[*_`>#]+", "", text)
    plain = re.sub(r"^\s*(?:[-•]|\d+\.)\s+", "", plain, flags=re.M)
    return [s.strip() for s in re.split(r"(?<=[.!?;])\s+|\n+", plain) if len(s.strip()) > 3]


def views(article, passages) -> list[tuple[str, str, object]]:
    """[(entry id, text, passage)] for each kind of view of the article (see `upsert_article`)."""
    # The question templates are English grammar: other languages get passages and sentences.
    english = (getattr(article, "locale", "") or "en").lower().startswith("en")
    known = words_of(" ".join([article.title] + [f"{p.heading} {p.text}" for p in passages])) if english else set()
    out = [
        (f"q{article.pk}-{n}", question, passages[0])
        for n, question in enumerate(questions.title_questions(article.title, known) if english else [])
    ]
    for passage in passages:
        heading = f"{passage.heading}. " if passage.heading and passage.heading != article.title else ""
        out.append((f"p{passage.pk}", f"{article.title}. {heading}{passage.text}", passage))
        # A heading names one part of the article: its questions weigh like the part's sentences.
        asked = questions.title_questions(passage.heading, known, heading=True) if heading and english else []
        for n, sentence in enumerate(sentences(passage.text)):
            out.append((f"s{passage.pk}-{n}", f"{article.title}. {sentence}", passage))
            asked += questions.sentence_questions(sentence) if english else []
        out += [(f"s{passage.pk}-q{n}", question, passage) for n, question in enumerate(asked)]
    return out


def upsert_article(article, passages) -> int:
    """Replace the article's entries with three kinds of views of it: each passage and each
    sentence (prefixed with the title), and the questions customers would ask to find it,
    made from the title, the headings and the sentences by generic templates
    (`knowledge.questions`; a sentence's questions count as sentence views).

    A customer's question usually matches one sentence or a question far better than a whole
    passage; retrieval scores an article by its best view of each kind. Measured on the
    bitext_kb bundle (hit@1 / hit@3): whole passages alone 69 / 89; title, passage, sentence,
    lead and heading-template views 78.2 / 93.9; these three kinds with generated questions,
    questions weighted double, 81.1 / 96.3, and 82.4 / 97.0 with the query spell-corrected;
    85.3 / 97.9 with questions from instructions, noun titles asked in the verb-phrase frames
    and identifiers in the query marked rather than dropped.
    Every entry carries the article's audience and locale so a query can filter on them.
    """
    col = collection()
    col.delete(where={"article_id": article.pk})
    if not passages:
        return 0
    scope = {"audience": article.audience, "locale": article.locale}
    entries = views(article, passages)
    ids = [entry_id for entry_id, _, _ in entries]
    texts = [text for _, text, _ in entries]
    metas = [
        {"article_id": article.pk, "passage_id": passage.pk, "kind": _KIND[entry_id[0]], **scope}
        for entry_id, _, passage in entries
    ]
    col.add(ids=ids, embeddings=embed(texts).tolist(), metadatas=metas)
    return len(ids)


def indexed_passages() -> set[int]:
    """Ids of the passages that have entries in the index (each passage has several)."""
    return {int(m["passage_id"]) for m in collection().get(include=["metadatas"])["metadatas"]}


def remove_article(article_id: int) -> None:
    collection().delete(where={"article_id": article_id})


# A scope keeping at least this share of the entries is applied to an unfiltered query's
# results: Chroma's metadata filter costs time in proportion to the entries it keeps (a query
# filtered to 90 % of 100k entries took 460 ms at p95, 11 ms unfiltered), while a narrow scope
# is cheap to filter on and would need too many entries fetched to apply afterwards.
OVERFETCH_MIN_SHARE = 0.5
OVERFETCH_MARGIN = 1.25  # entries fetched beyond k / share: most queries need no second query


def query(vector, k: int = 20, scope: dict[str, str] | None = None, share: float = 1.0) -> list[tuple[int, int, float, str]]:
    """[(passage_id, article_id, cosine similarity, kind)] of the k entries nearest the vector
    whose metadata match `scope` (field → value), best first.

    `share` is the caller's estimate of the fraction of entries in scope. When most are, the
    entries are fetched unfiltered (k / share of them, with a margin) and the ones out of scope
    dropped here; only if fewer than k remain does Chroma filter. Either way the answer is the
    k nearest entries in scope.
    """
    col = collection()
    if scope and share >= OVERFETCH_MIN_SHARE:
        fetch = math.ceil(k / share * OVERFETCH_MARGIN)
        result = col.query(query_embeddings=[vector.tolist()], n_results=fetch, include=["metadatas", "distances"])
        metas, distances = result["metadatas"][0], result["distances"][0]
        kept = [(m, d) for m, d in zip(metas, distances, strict=True) if all(m.get(f) == v for f, v in scope.items())]
        if len(kept) >= k or len(metas) < fetch:  # enough, or that was the whole collection
            return [_hit(m, d) for m, d in kept[:k]]
    where = None
    if scope:
        clauses = [{field: value} for field, value in scope.items()]
        where = clauses[0] if len(clauses) == 1 else {"$and": clauses}
    result = col.query(query_embeddings=[vector.tolist()], n_results=k, where=where, include=["metadatas", "distances"])
    return [_hit(m, d) for m, d in zip(result["metadatas"][0], result["distances"][0], strict=True)]


def _hit(meta, distance) -> tuple[int, int, float, str]:
    return int(meta["passage_id"]), int(meta["article_id"]), 1.0 - float(distance), str(meta.get("kind", "passage"))
