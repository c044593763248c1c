"""`manage.py evaluate`: a bundle is onboarded and replayed in a database of its own, then scored."""

from __future__ import annotations

import io
import json
import shutil
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from learning.evaluation import Bundle, Observation, parse_when, report_build, report_summary
from tests.conftest import ROOT
from tickets.models import Ticket

BUNDLE = ROOT / "tests" / "data" / "bundle_small"
REPORT_KEYS = {
    "bundle": None,
    "mode": None,
    "tickets": None,
    "intent": {"accuracy", "macro_f1", "per_intent"},
    "urgency": {"accuracy"},
    "sentiment": {"accuracy"},
    "outcome": {
        "accuracy",
        "answered_rate",
        "escalated_rate",
        "escalation_recall",
        "wrong_answer_rate",
    },
    "retrieval": {"hit_at_1", "hit_at_3", "mrr"},
    "actions": {"expected", "correct", "wrong", "unconfirmed_executions"},
    "latency_ms": {"classify", "resolve", "end_to_end"},
    "train": {"examples", "seconds"},
}


def _evaluate(bundle, *args) -> tuple[dict, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command("evaluate", str(bundle), *args, stdout=stdout, stderr=stderr)
    return json.loads(stdout.getvalue()), stderr.getvalue()


# The harness switches the connection to a database of its own, which cannot happen inside a
# test's transaction: these tests run in autocommit, as the command does.
@pytest.mark.django_db(transaction=True)
def test_small_bundle_is_replayed_and_scored_without_touching_this_database(customer, tmp_path):
    Ticket.objects.create(channel="api", customer=customer, subject="already here")
    database = connection.settings_dict["NAME"]
    out = tmp_path / "report.json"

    report, stderr = _evaluate(BUNDLE, "--json", str(out))

    assert json.loads(out.read_text()) == report
    for key, inner in REPORT_KEYS.items():
        assert key in report
        if inner:
            assert inner <= set(report[key]), key
    for stage in ("classify", "resolve", "end_to_end"):
        assert set(report["latency_ms"][stage]) >= {"p50", "p95"}
        assert report["latency_ms"][stage]["p50"] > 0
    assert report["bundle"] == "bundle_small" and report["mode"] == "offline"
    assert report["tickets"] == 25
    assert isinstance(report["intent"]["accuracy"], float)
    assert 0.8 <= report["intent"]["accuracy"] <= 1.0
    assert report["intent"]["per_intent"]["cancel_order"]["support"] == 5
    assert report["train"]["examples"] == 150 and report["train"]["seconds"] > 0
    # The confirmed cancel ran on the right order; the declined one and the rest ran nothing.
    assert report["actions"] == {
        "expected": 2,
        "correct": 2,
        "wrong": 0,
        "unconfirmed_executions": 0,
    }
    assert report["outcome"]["escalation_recall"] == 1.0
    assert report["retrieval"]["hit_at_3"] >= 0.8
    assert "25/25 tickets" in stderr and "bundle_small [offline] 25 tickets" in stderr

    assert connection.settings_dict["NAME"] == database
    assert Ticket.objects.count() == 1


@pytest.fixture
def kb_bundle(tmp_path):
    """A knowledge base and three questions: no history, no intents."""
    bundle = tmp_path / "kb_only"
    bundle.mkdir()
    shutil.copy(BUNDLE / "articles.jsonl", bundle / "articles.jsonl")
    questions = [
        ("Do you ship to Canada and what does express cost?", "shipping-options"),
        ("The password reset email never arrived, what now?", "reset-password"),
        ("How long do refunds take to reach my card?", "refund-policy"),
    ]
    with (bundle / "tickets.jsonl").open("w") as fh:
        for n, (body, slug) in enumerate(questions):
            expected = {"outcome": "answered", "article": slug}
            fh.write(
                json.dumps({"id": f"kb-{n}", "channel": "chat", "body": body, "expected": expected})
                + "\n"
            )
    return bundle


@pytest.mark.django_db(transaction=True)
def test_a_bundle_without_history_is_answered_by_retrieval_alone(kb_bundle):
    report, _ = _evaluate(kb_bundle)

    assert report["train"] is None
    assert report["intent"]["accuracy"] is None
    assert report["outcome"]["answered_rate"] == 1.0
    assert report["retrieval"]["hit_at_3"] == 1.0


@pytest.mark.django_db(transaction=True)
def test_the_language_model_is_used_only_in_llm_mode(kb_bundle, fake_llm):
    offline, _ = _evaluate(kb_bundle)
    assert offline["mode"] == "offline" and fake_llm.requests == []

    with_llm, _ = _evaluate(kb_bundle, "--llm")
    assert with_llm["mode"] == "llm" and with_llm["tickets"] == 3
    assert fake_llm.requests


def test_llm_mode_needs_a_model(settings):
    settings.LLM_MODEL = ""
    with pytest.raises(CommandError, match="LLM_MODEL"):
        call_command("evaluate", str(BUNDLE), "--llm")


def test_a_folder_without_tickets_is_refused(tmp_path):
    with pytest.raises(CommandError, match="no tickets.jsonl"):
        call_command("evaluate", str(tmp_path))


def test_bundle_times_forgive_single_digit_months_and_bare_dates():
    assert parse_when("2026-9-10T10:00:00Z").isoformat() == "2026-09-10T10:00:00+00:00"
    assert parse_when("2026-10-9").isoformat() == "2026-10-09T00:00:00+00:00"


def test_actions_score_the_right_order_and_count_what_was_not_asked_for():
    bundle = Bundle(
        name="synthetic", config={}, history=[], articles=[], customers=[], orders=[], tickets=[]
    )
    cancel = {"type": "cancel_order", "order": "N-1", "amount": Decimal("24.00"), "confirmed": True}
    observations = [
        Observation(
            expected={"action": {"type": "cancel_order", "order": "N-1", "amount": "24.00"}},
            executed=[cancel],
        ),
        Observation(
            expected={"action": {"type": "cancel_order", "order": "N-2"}}, executed=[cancel]
        ),
        Observation(expected={}, executed=[{**cancel, "confirmed": False}]),
        Observation(expected={"action": {"type": "refund"}}, outcome="answered"),
    ]

    actions = report_build(bundle=bundle, observations=observations, train=None, mode="offline")[
        "actions"
    ]

    assert actions == {"expected": 3, "correct": 1, "wrong": 2, "unconfirmed_executions": 1}



def test_out_of_scope_scoring_counts_a_rejected_in_scope_ticket_as_wrong():
    bundle = Bundle(
        name="synthetic", config={}, history=[], articles=[], customers=[], orders=[], tickets=[]
    )
    observations = [
        Observation(expected={"intent": "oos"}, intent="oos", routed_to_person=True),
        Observation(expected={"intent": "oos"}, intent="balance"),
        Observation(expected={"intent": "balance"}, intent="balance"),
        Observation(expected={"intent": "balance"}, intent="oos", routed_to_person=True),
        Observation(expected={"intent": "transfer"}, intent="transfer"),
        Observation(expected={"intent": "transfer"}, intent="balance"),
    ]

    report = report_build(bundle=bundle, observations=observations, train=None, mode="offline")

    assert report["out_of_scope"] == {
        "recall": 0.5,
        "in_scope_accuracy": 0.5,
        "in_scope_routed_to_person": 0.25,
        "support": 2,
    }
    assert "(in scope 50.0%, out-of-scope recall 50.0%)" in report_summary(report)

@pytest.mark.django_db
def test_a_workspace_without_triage_answers_from_the_knowledge_base(
    articles, customer, django_capture_on_commit_callbacks
):
    from tickets.models import TriageModel, Workspace
    from tickets.services import ticket_receive

    Workspace.objects.create(triage_enabled=False)
    with django_capture_on_commit_callbacks(execute=True):
        ticket, _, _ = ticket_receive(
            channel="chat", body="how long does shipping take?", customer=customer
        )

    ticket.refresh_from_db()
    assert ticket.intent == "" and ticket.confidence == 1.0
    assert ticket.status == Ticket.Status.ANSWERED
    assert ticket.messages.get(author="ai").meta["citations"][0]["article"].startswith("shipping")
    assert not TriageModel.objects.exists()  # nothing was trained, no default taxonomy seeded
