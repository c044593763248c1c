from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django_q.models import Schedule
from rest_framework.authtoken.models import Token

from knowledge import index
from knowledge.models import Article, Passage
from tickets.models import Customer, Intent, Order, TrainingExample, TriageModel, Workspace

COUNTED = [Workspace, Intent, TrainingExample, TriageModel, Article, Passage, Customer, Order, User, Token, Schedule]
DEMO_LOGINS = [("admin", "admin-demo", None), ("agent", "agent-demo", "Agents"), ("manager", "manager-demo", "Managers")]


def _run(command: str) -> str:
    out = io.StringIO()
    call_command(command, stdout=out)
    return out.getvalue()


def _counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in COUNTED}


# Seeding embeds every article, which is slow on a busy machine: each test seeds as few times as it can.
def _indexed_articles() -> set[int]:
    """Articles with entries in the vector index (each has several: title, passages, sentences…)."""
    return {m["article_id"] for m in index.collection().get(include=["metadatas"])["metadatas"]}


@pytest.mark.django_db
def test_seeding_twice_builds_the_demo_store_once(triage_model, client):
    _run("seed_demo")
    first = _counts()
    output = _run("seed_demo")

    assert _counts() == first
    assert first["Customer"] == 50 and first["Order"] == 200 and first["TriageModel"] == 1
    assert set(Order.objects.values_list("status", flat=True)) == set(Order.Status.values)
    assert Article.objects.filter(status=Article.Status.PUBLISHED).count() == 20
    assert _indexed_articles() == set(Article.objects.values_list("pk", flat=True))
    assert "index up to date" in output
    assert set(Schedule.objects.values_list("func", flat=True)) == {
        "tickets.tasks.sweep", "tickets.tasks.retrain_triage", "tickets.tasks.retry_webhooks"
    }

    # The demo script printed for a newcomer works on these rows.
    tracked = Order.objects.select_related("customer").get(number="N-1042")
    assert tracked.status == "shipped" and tracked.carrier and tracked.tracking_number in output
    assert (tracked.customer.email, tracked.customer.name) == ("maya@example.com", "Maya Lopez")
    assert Order.objects.get(number="N-1043", customer=tracked.customer).status == "paid"
    assert "where is my order N-1042?" in output and "please cancel my order N-1043" in output
    assert not Order.objects.filter(status__in=["shipped", "delivered"], tracking_number="").exists()
    assert Customer.objects.filter(vip=True).exists()
    assert set(Customer.objects.values_list("plan", flat=True)) == {"basic", "plus", "pro"}

    for username, password, group in DEMO_LOGINS:
        assert f"{username:<9} password {password}" in output
        response = client.post("/admin/login/", {"username": username, "password": password, "next": "/admin/"})
        assert response.status_code == 302 and response.url == "/admin/", username
        assert client.get("/admin/").status_code == 200
        client.logout()
        assert group is None or User.objects.get(username=username).groups.filter(name=group).exists()
    assert Token.objects.get(user__username="admin").key in output


@pytest.mark.django_db
def test_seeding_without_chroma_loads_the_store_and_reindex_builds_the_index_later(triage_model, settings):
    settings.CHROMA_URL = "http://127.0.0.1:9"
    index.reset_state()
    try:
        output = _run("seed_demo")
    finally:
        index.reset_state()
    assert "NOT INDEXED" in output and "manage.py reindex" in output
    assert Order.objects.count() == 200

    settings.CHROMA_URL = "memory://"
    progress = _run("reindex")
    assert "[20/20]" in progress
    assert _indexed_articles() == set(Article.objects.values_list("pk", flat=True))
