"""The bench's measurements that run inside the bench process (Django set up on the throwaway
world), and the helpers the server phase needs."""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import time
from collections.abc import Callable
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

from learning.bench.load import percentiles

Say = Callable[[str], None]
SERIES_SECONDS, SERIES_MIN_SAMPLES = 8.0, 30
PROFILE_QUERIES = 20
CHAT_QUESTIONS = [
    "how long does shipping take?",
    "what is your return policy?",
    "do you ship internationally?",
    "how do I reset my password?",
    "can I change my delivery address?",
    "what payment methods do you accept?",
]


def world_setup(*, say: Say) -> dict[str, Any]:
    """Migrate the throwaway database and load the demo store the way `make run` does
    (seed_demo with the queue inline: triage trained, demo articles indexed in Chroma)."""
    from django.core.management import call_command
    from django_q.conf import Conf

    from tickets.demo import demo_seed

    t0 = time.perf_counter()
    say("migrating the throwaway database")
    call_command("migrate", verbosity=0, interactive=False)
    t1 = time.perf_counter()
    say("seeding the demo store (trains triage, indexes the demo articles)")
    Conf.SYNC = True
    try:
        parts = dict(demo_seed())
    finally:
        Conf.SYNC = False
    return {
        "migrate_s": round(t1 - t0, 1),
        "seed_demo_s": round(time.perf_counter() - t1, 1),
        "triage_model": parts.get("triage model"),
    }


def api_token() -> str:
    from rest_framework.authtoken.models import Token

    return Token.objects.get(user__username="admin").key


@lru_cache(maxsize=1)
def customer_texts() -> list[str]:
    """Customer messages: the shipped intent examples, in a fixed shuffled order."""
    from tickets.triage import load_shipped_examples

    texts = [row["text"] for row in load_shipped_examples()]
    rng = np.random.default_rng(7)
    return [texts[i] for i in rng.permutation(len(texts))]


def queue_purge() -> int:
    from django_q.models import OrmQ

    return OrmQ.objects.all().delete()[0]


# --- memory ---------------------------------------------------------------------------------

def process_tree(pid: int) -> list[int]:
    """The process and all its descendants (qcluster forks its workers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def wait_for_workers(pid: int, timeout: float = 30) -> None:
    """Until qcluster has forked its workers (and its sentinel, monitor and pusher)."""
    deadline = time.monotonic() + timeout
    while len(process_tree(pid)) < settings.Q_CLUSTER["workers"] + 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1)


def rss_mb(pids: list[int], *, peak: bool = False) -> dict[str, float]:
    """Resident memory per process (VmHWM, the high-water mark, when peak): the largest and the sum."""
    field = "VmHWM" if peak else "VmRSS"
    sizes = []
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    sizes.append(int(line.split()[1]) / 1024)
        except OSError:
            continue
    return {"max_process": round(max(sizes, default=0.0), 1), "total": round(sum(sizes), 1)}


# --- pipeline -------------------------------------------------------------------------------

def _receive(n: int, prefix: str) -> list[int]:
    from tickets.services import ticket_receive

    texts = customer_texts()
    ids = []
    for i in range(n):
        _, message, _ = ticket_receive(
            channel="api", email=f"{prefix}-{i % 25}@example.com", name="Bench Customer", body=texts[i % len(texts)]
        )
        ids.append(message.pk)
    return ids


def pipeline_worker(n: int) -> dict[str, Any]:
    """Tickets received here, run by the qcluster: the time until the last one is done."""
    from tickets.models import Message

    # Each worker process loads the models on its first ticket: warm them all up first.
    warmup = _receive(2 * settings.Q_CLUSTER["workers"], "bench-worker-warmup")
    open_states = (Message.Pipeline.PENDING, Message.Pipeline.RUNNING)
    deadline = time.monotonic() + 120
    while Message.objects.filter(id__in=warmup, pipeline__in=open_states).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    t0 = time.perf_counter()
    ids = _receive(n, "bench-worker")
    deadline = time.monotonic() + 300
    while Message.objects.filter(id__in=ids, pipeline__in=open_states).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    elapsed = time.perf_counter() - t0
    done = Message.objects.filter(id__in=ids).exclude(pipeline__in=open_states).count()
    return {
        "tickets": n,
        "done": done,
        "tickets_per_s": round(done / elapsed, 2),
        "what": f"ticket_receive here, pipeline in `manage.py qcluster` ({settings.Q_CLUSTER['workers']} workers, ORM broker)",
    }


def pipeline_in_process(n: int, *, say: Say) -> dict[str, Any]:
    """tickets.pipeline.run_pipeline (classify + route + act + resolve) on received tickets, inline."""
    from tickets.models import TicketEvent
    from tickets.pipeline import run_pipeline

    say(f"pipeline: {n} tickets in-process")
    run_pipeline(message_id=_receive(1, "bench-pipeline-warmup")[0])
    ids = _receive(n, "bench-pipeline")
    samples, outcomes = [], {}
    for message_id in ids:
        t0 = time.perf_counter()
        status = run_pipeline(message_id=message_id)
        samples.append((time.perf_counter() - t0) * 1000)
        outcomes[status] = outcomes.get(status, 0) + 1
    stages = {}
    for stage in ("classify", "route", "act", "resolve", "finalize"):
        durations = list(TicketEvent.objects.filter(message_id__in=ids, stage=stage).values_list("duration_ms", flat=True))
        if durations:
            stages[stage] = percentiles(durations)
    return {
        "tickets": n,
        "tickets_per_s": round(n / (sum(samples) / 1000), 2),
        "per_ticket_ms": percentiles(samples),
        "stage_ms": stages,
        "outcomes": outcomes,
    }


# --- models ---------------------------------------------------------------------------------

def classification(n: int, *, say: Say) -> dict[str, Any]:
    """tickets.triage.classify with the trained model, on texts it has not seen in this process."""
    from tickets import triage

    say(f"classification: {n} texts")
    texts = [f"{t} (ref {i})" for i, t in enumerate(customer_texts()[:n])]
    triage.classify("warm up the model please")
    samples = [_timed(triage.classify, text) for text in texts]
    model = triage.active_model()
    dense = model._dense(texts, None)  # the features triage.classify computes from the embedding
    without = [
        _timed(model.classify, text, dense=None if dense is None else dense[i : i + 1]) for i, text in enumerate(texts)
    ]
    return {
        "texts": n,
        "us_per_ticket": percentiles([s * 1000 for s in samples]) | {"mean": round(float(np.mean(samples)) * 1000, 1)},
        "us_per_ticket_given_embedding": percentiles([s * 1000 for s in without])
        | {"mean": round(float(np.mean(without)) * 1000, 1)},
    }


def embeddings(n: int, *, say: Say) -> dict[str, Any]:
    """tickets.embeddings: the model's batch throughput and single-text latency, and embed()'s cache."""
    from tickets.embeddings import embed, embedder

    say(f"embeddings: {n} texts")
    model = embedder()
    texts = [f"{t} #{i}" for i, t in enumerate(customer_texts()[:n])]
    model(texts[:8])
    t0 = time.perf_counter()
    model(texts)
    batch_s = time.perf_counter() - t0
    singles = [_timed(model, [text]) for text in texts[: min(n, 100)]]
    embed(texts[:1])
    cached = [_timed(embed, texts[:1]) for _ in range(200)]
    return {
        "model": model.name,
        "batch_texts_per_s": round(n / batch_s, 1),
        "single_ms": percentiles(singles),
        "cached_ms": percentiles(cached),
    }


def _timed(function, *args, **kwargs) -> float:
    t0 = time.perf_counter()
    function(*args, **kwargs)
    return (time.perf_counter() - t0) * 1000


# --- retrieval ------------------------------------------------------------------------------

def retrieval(*, sizes, queries: int, real_entries: int, targets: dict[int, float], say: Say) -> dict[str, Any]:
    """knowledge.retrieval.search at growing index sizes, each beside raw Chroma queries with the
    same query vector, without and with the filter retrieval uses."""
    from knowledge import index
    from knowledge import retrieval as retrieval_module
    from knowledge.models import Article
    from learning.bench.corpus import Corpus
    from tickets.embeddings import embed

    corpus = Corpus(seed=11)
    questions = [retrieval_module.query_text(t) for t in customer_texts()[:queries]]
    vectors = embed(questions)  # cached: search() embeds the same text (as classify did before it)
    out: dict[str, Any] = {"corpus": corpus.description(real_entries), "sizes": {}}
    for size in sizes:
        t0 = time.perf_counter()
        corpus.grow(size, real_entries=real_entries, say=say)
        built = time.perf_counter() - t0
        col = index.collection()
        t1 = time.perf_counter()
        # The keyword index for this knowledge base, built here (searches would rebuild a large
        # one in the background and go on with the previous one meanwhile).
        retrieval_module._keyword.refresh(wait=True)
        retrieval_module.search(questions[0])
        first = time.perf_counter() - t1
        scope = retrieval_module._scope(Article.Audience.PUBLIC, None)
        share = retrieval_module._keyword.share(scope)
        entries = col.count()
        say(f"retrieval at {entries} entries: scope {json.dumps(scope)} keeps {share:.0%} of the passages")
        for q in questions[:5]:
            retrieval_module.search(q)
        row: dict[str, Any] = {
            "entries": entries,
            **corpus.counts(),
            "build_s": round(built, 1),
            "first_query_s": round(first, 2),
            "scope": scope,
            "scope_share": round(share, 3),
        }
        row["retrieval_ms"] = _series(retrieval_module.search, questions)
        row["retrieval_agent_no_filter_ms"] = _series(retrieval_module.search, questions, audience=None)

        row["chroma_raw_ms"] = _series(partial(_raw_query, col), vectors)
        row["chroma_raw_filtered_ms"] = _series(partial(_raw_query, col, where={"audience": "public"}), vectors)
        # Where a search spends its time: the parts it calls, timed one by one.
        k = retrieval_module.VECTOR_CANDIDATES
        row["breakdown_ms"] = {
            "index_query": _series(index.query, vectors, k=k, scope=scope, share=share),
            "index_query_chroma_filter": _series(index.query, vectors, k=k, scope=scope, share=0.0),
            "query_correction": _series(retrieval_module._keyword.correct, questions),
            "keyword_search": _series(retrieval_module._keyword.search, questions, k=30, audience=Article.Audience.PUBLIC),
            "keyword_freshness_check": _series(lambda _: retrieval_module._published_version(), vectors),
        }
        target = targets.get(size)
        if target is not None:
            row["target_p95_ms"] = target
            row["meets_target"] = row["retrieval_ms"]["p95"] <= target
            if not row["meets_target"]:
                row["profile"] = _profile(lambda: [retrieval_module.search(q) for q in questions[:PROFILE_QUERIES]])
        out["sizes"][str(size)] = row
    return out


def _series(function, items, *args, budget_s: float = SERIES_SECONDS, **kwargs) -> dict[str, Any]:
    """Percentiles of function(item) over the items, stopping after budget_s once
    SERIES_MIN_SAMPLES are in: the slow cases need not hold the whole bench up."""
    samples = []
    started = time.perf_counter()
    for item in items:
        samples.append(_timed(function, item, *args, **kwargs))
        if len(samples) >= SERIES_MIN_SAMPLES and time.perf_counter() - started > budget_s:
            break
    return {**percentiles(samples), "n": len(samples)}


def _raw_query(col, vector, where=None) -> None:
    """What knowledge.index.query asks Chroma, straight on the collection."""
    from knowledge.retrieval import VECTOR_CANDIDATES

    col.query(query_embeddings=[vector.tolist()], n_results=VECTOR_CANDIDATES, where=where, include=["metadatas", "distances"])


def _profile(function) -> list[str]:
    """The top functions by cumulative time, as pstats prints them."""
    profiler = cProfile.Profile()
    profiler.enable()
    function()
    profiler.disable()
    buffer = io.StringIO()
    pstats.Stats(profiler, stream=buffer).sort_stats("cumulative").print_stats(25)
    lines = [line.rstrip() for line in buffer.getvalue().splitlines()]
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    return [line for line in lines[start:] if line]
