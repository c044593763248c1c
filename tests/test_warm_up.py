"""A new queue worker loads its models before the first ticket, not inside it."""

from __future__ import annotations

import pytest
from django_q.signals import post_spawn

from knowledge import retrieval
from tickets import embeddings, triage


@pytest.mark.django_db
def test_a_spawned_worker_loads_the_models_and_the_keyword_index(triage_model, articles, monkeypatch):
    monkeypatch.setattr(retrieval, "_keyword", retrieval._KeywordIndex())
    embeddings.reset()
    triage.reset_cache()

    post_spawn.send(sender="django_q", proc_name="Process-1")

    assert embeddings.embedder.cache_info().currsize == 1
    assert triage._cache["version"] == triage_model.version
    assert retrieval._keyword.key is not None and retrieval._keyword.ids


@pytest.mark.django_db
def test_warm_up_never_trains_a_model():
    triage.reset_cache()
    post_spawn.send(sender="django_q", proc_name="Process-1")
    assert triage._cache["model"] is None


@pytest.mark.django_db
def test_warm_up_never_retrains_a_model_saved_by_an_older_version(triage_model):
    from tickets.models import TriageModel

    TriageModel.objects.filter(pk=triage_model.pk).update(blob=b"an older format")
    triage.reset_cache()
    post_spawn.send(sender="django_q", proc_name="Process-1")
    assert triage._cache["model"] is None
    assert TriageModel.objects.count() == 1
