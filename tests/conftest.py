"""Shared fixtures: personas, a small store, the triage model trained once per session."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _q_sync(monkeypatch):
    """django-q2 runs tasks inline (override_settings cannot change its config)."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture(autouse=True)
def _fresh_index():
    from knowledge import index

    index.drop_collection()
    yield


@pytest.fixture(scope="session")
def _triage_blob():
    from tickets import triage

    rows = triage.load_shipped_examples()
    model, scores = triage.train_intent_model([r["text"] for r in rows], [r["intent"] for r in rows], validation=0)
    return triage.dumps(model), scores, len(rows)


@pytest.fixture
def triage_model(db, _triage_blob):
    """The default taxonomy with a trained, active model (trained once per test session)."""
    from tickets import triage
    from tickets.models import TriageModel
    from tickets.services_triage import intents_ensure_defaults

    intents_ensure_defaults()
    blob, scores, count = _triage_blob
    triage.reset_cache()
    row = TriageModel.objects.create(version=1, examples=count, scores=scores, blob=blob, active=True)
    yield row
    triage.reset_cache()


@pytest.fixture
def articles(db):
    from knowledge.services import article_save, reindex_all

    path = ROOT / "knowledge" / "data" / "demo_articles.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    saved = [
        article_save(slug=r["slug"], title=r["title"], body=r["body"], category=r.get("category", ""), intents=r.get("intents", []))
        for r in rows
    ]
    reindex_all()
    return saved


@pytest.fixture
def customer(db):
    from tickets.models import Customer

    return Customer.objects.create(email="maya@example.com", name="Maya Lopez", phone="+15550001111")


@pytest.fixture
def outsider(db):
    from tickets.models import Customer

    return Customer.objects.create(email="stranger@example.com", name="Sam Stranger")


def make_order(customer, number: str, status: str = "paid", total: str = "34.99", days_ago: int = 2, **extra):
    from tickets.models import Order

    placed = timezone.now() - dt.timedelta(days=days_ago)
    defaults = {
        "customer": customer,
        "status": status,
        "total": Decimal(total),
        "items": [{"sku": "TOW-03", "name": "Bath towel set", "qty": 1, "unit_price": total}],
        "payment_method": "visa",
        "payment_last4": "4821",
        "placed_at": placed,
    }
    if status in ("shipped", "delivered"):
        defaults.update(shipped_at=placed + dt.timedelta(days=1), carrier="UPS", tracking_number="1Z999AA10123456784")
    if status == "delivered":
        defaults["delivered_at"] = placed + dt.timedelta(days=3)
    defaults.update(extra)
    return Order.objects.create(number=number, **defaults)


@pytest.fixture
def agent_user(db):
    user = User.objects.create_user("agent", "agent@example.com", "agent-pass", is_staff=True)
    group, _ = Group.objects.get_or_create(name="Agents")
    user.groups.add(group)
    return user


@pytest.fixture
def admin_user_(db):
    return User.objects.create_superuser("admin", "admin@example.com", "admin-pass")


@pytest.fixture
def fake_llm(settings):
    """LLM_MODEL pointed at a fake OpenAI-compatible server on 127.0.0.1."""
    from tests.fake_llm import FakeLLM

    server = FakeLLM().start()
    settings.LLM_MODEL = "openai/fake-model"
    settings.LLM_API_BASE = server.base
    settings.LLM_API_KEY = "sk-test"
    settings.LLM_TIMEOUT = 5
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _fresh_cache():
    """API throttle counters live in the cache; each test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield
