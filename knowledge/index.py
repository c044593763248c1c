"""The Chroma side of the knowledge base.

The client is created lazily in each process (one made before django-q2 forks deadlocks its
workers) and reaches the Chroma server over HTTP; several processes sharing one persist folder
return wrong neighbours. `CHROMA_URL=memory://` gives an in-process index for tests and
`evaluate`.
"""

from __future__ import annotations

import logging
import os
import re
from urllib.parse import urlparse

from django.conf import settings

from tickets.embeddings import embed, embedder

log = logging.getLogger(__name__)
_state: dict[str, object] = {"pid": None, "client": None, "collection": None}


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


QUESTION_TEMPLATES = ("I need help with {topic}", "question about {topic}", "{topic}?")


def sentences(text: str) -> list[str]:
    """Markdown prose split into sentences (list items count as sentences)."""
    plain = re.sub(r"[*_`>#]+", "", text)
    plain = re.sub(r"^\s*(?:[-•]|\d+\.)\s+", "", plain, flags=re.M)
    return [s.strip() for s in re.split(r"(?<=[.!?;])\s+|\n+", plain) if len(s.strip()) > 3]


def upsert_article(article, passages) -> int:
    """Replace the article's entries with several views of it: its title, each passage, each
    sentence and each passage's lead (all prefixed with the title), and questions made from
    the title and headings.

    A customer's question usually matches one sentence or the title far better than a whole
    passage; retrieval scores an article by its best view of each kind (measured on the
    bitext_kb bundle: whole passages alone hit@1 69 %, all five kinds 79 %).
    Every entry carries the article's audience and locale so a query can filter on them.
    """
    col = collection()
    col.delete(where={"article_id": article.pk})
    if not passages:
        return 0
    scope = {"audience": article.audience, "locale": article.locale}
    ids, texts, metas = [f"t{article.pk}"], [article.title], [
        {"article_id": article.pk, "passage_id": passages[0].pk, "kind": "title", **scope}
    ]
    topics = {article.title: passages[0]}
    for passage in passages:
        ids.append(f"p{passage.pk}")
        heading = f"{passage.heading}. " if passage.heading and passage.heading != article.title else ""
        texts.append(f"{article.title}. {heading}{passage.text}")
        metas.append({"article_id": article.pk, "passage_id": passage.pk, "kind": "passage", **scope})
        parts = sentences(passage.text)
        for n, sentence in enumerate(parts):
            ids.append(f"s{passage.pk}-{n}")
            texts.append(f"{article.title}. {sentence}")
            metas.append({"article_id": article.pk, "passage_id": passage.pk, "kind": "sentence", **scope})
        if parts:
            ids.append(f"l{passage.pk}")
            texts.append(f"{article.title}. {heading}{parts[0]}")
            metas.append({"article_id": article.pk, "passage_id": passage.pk, "kind": "lead", **scope})
        if heading:
            topics.setdefault(passage.heading, passage)
    # Synthetic questions from the title and headings, phrased the way customers ask for help.
    for topic, passage in topics.items():
        for template in QUESTION_TEMPLATES:
            ids.append(f"q{article.pk}-{len(ids)}")
            texts.append(template.format(topic=topic.lower()))
            metas.append({"article_id": article.pk, "passage_id": passage.pk, "kind": "question", **scope})
    col.add(ids=ids, embeddings=embed(texts).tolist(), metadatas=metas)
    return len(ids)


def indexed_passages() -> set[int]:
    """Ids of the passages that have entries in the index (each passage has several)."""
    return {int(m["passage_id"]) for m in collection().get(include=["metadatas"])["metadatas"]}


def remove_article(article_id: int) -> None:
    collection().delete(where={"article_id": article_id})


def query(vector, k: int = 20, where: dict | None = None) -> list[tuple[int, int, float, str]]:
    """[(passage_id, article_id, cosine similarity, kind)] best first."""
    col = collection()
    count = col.count()
    if not count:
        return []
    result = col.query(
        query_embeddings=[vector.tolist()], n_results=min(k, count), where=where or None, include=["metadatas", "distances"]
    )
    hits = []
    for meta, distance in zip(result["metadatas"][0], result["distances"][0], strict=True):
        hits.append((int(meta["passage_id"]), int(meta["article_id"]), 1.0 - float(distance), str(meta.get("kind", "passage"))))
    return hits
