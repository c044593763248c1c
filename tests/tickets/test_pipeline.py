from __future__ import annotations

import pytest

from tests.conftest import make_order
from tickets import pipeline, services
from tickets.models import Message, Ticket


def _send(body, customer, ticket=None, capture=None):
    with capture(execute=True):
        t, m, _ = services.ticket_receive(channel="api", body=body, customer=customer, ticket=ticket)
    t.refresh_from_db()
    return t


@pytest.mark.django_db
def test_order_status_question_is_answered_from_the_customers_order(
    triage_model, articles, customer, django_capture_on_commit_callbacks
):
    make_order(customer, "N-1042", status="shipped")
    ticket = _send("where is my order N-1042?", customer, capture=django_capture_on_commit_callbacks)
    assert ticket.intent == "order_status"
    assert ticket.status == Ticket.Status.ANSWERED
    reply = ticket.messages.filter(author=Message.Author.AI).get()
    assert "N-1042" in reply.body and "1Z999AA10123456784" in reply.body
    assert reply.meta["citations"][0]["article"] == "track-order"
    stages = list(ticket.events.values_list("stage", flat=True))
    assert {"intake", "classify", "route", "resolve", "pipeline"} <= set(stages)


@pytest.mark.django_db
def test_shipping_question_cites_an_article(triage_model, articles, customer, django_capture_on_commit_callbacks):
    ticket = _send("how long does shipping take?", customer, capture=django_capture_on_commit_callbacks)
    reply = ticket.messages.get(author=Message.Author.AI)
    assert ticket.status == Ticket.Status.ANSWERED
    assert reply.meta["citations"][0]["article"].startswith("shipping")
    assert "business days" in reply.body


@pytest.mark.django_db
def test_cancel_flow_asks_then_executes_once(triage_model, articles, customer, django_capture_on_commit_callbacks):
    order = make_order(customer, "N-1050", status="paid", total="34.99")
    ticket = _send("please cancel my order N-1050", customer, capture=django_capture_on_commit_callbacks)
    assert ticket.status == Ticket.Status.AWAITING_CONFIRMATION
    ask = ticket.messages.filter(author=Message.Author.AI).last()
    assert "N-1050" in ask.body and "34.99" in ask.body and ask.meta["kind"] == "confirm"
    order.refresh_from_db()
    assert order.status == "paid"

    ticket = _send("yes", customer, ticket=ticket, capture=django_capture_on_commit_callbacks)
    order.refresh_from_db()
    assert order.status == "cancelled"
    assert ticket.status == Ticket.Status.RESOLVED and ticket.outcome == "action"
    # A second "yes" executes nothing more.
    _send("yes", customer, ticket=ticket, capture=django_capture_on_commit_callbacks)
    assert ticket.actions.get().audit.filter(event="executed").count() == 1


@pytest.mark.django_db
def test_declined_confirmation_changes_nothing(triage_model, articles, customer, django_capture_on_commit_callbacks):
    order = make_order(customer, "N-1051", status="pending")
    ticket = _send("cancel order N-1051 please", customer, capture=django_capture_on_commit_callbacks)
    ticket = _send("no, don't", customer, ticket=ticket, capture=django_capture_on_commit_callbacks)
    order.refresh_from_db()
    assert order.status == "pending"
    assert ticket.actions.get().status == "declined"


@pytest.mark.django_db
def test_someone_elses_order_is_not_found(triage_model, articles, customer, outsider, django_capture_on_commit_callbacks):
    order = make_order(customer, "N-1060", status="paid")
    ticket = _send("cancel order N-1060", outsider, capture=django_capture_on_commit_callbacks)
    order.refresh_from_db()
    assert order.status == "paid"
    assert not ticket.actions.exists()
    assert "couldn't find" in ticket.messages.filter(author=Message.Author.AI).get().body


@pytest.mark.django_db
def test_legal_threat_escalates_with_the_rule(triage_model, articles, customer, django_capture_on_commit_callbacks):
    ticket = _send("Refund me now or I'm calling my lawyer", customer, capture=django_capture_on_commit_callbacks)
    assert ticket.status == Ticket.Status.ESCALATED
    assert "lawyer" in ticket.escalation_reason
    assert ticket.messages.filter(author=Message.Author.SYSTEM).exists()


@pytest.mark.django_db
def test_stage_failure_escalates_with_reason(triage_model, articles, customer, django_capture_on_commit_callbacks, monkeypatch):
    def boom(ctx):
        raise RuntimeError("vector store down")

    monkeypatch.setattr("knowledge.stages.resolve", boom)
    ticket = _send("how long does shipping take?", customer, capture=django_capture_on_commit_callbacks)
    assert ticket.status == Ticket.Status.ESCALATED
    assert "vector store down" in ticket.escalation_reason


@pytest.mark.django_db
def test_pipeline_runs_once_per_message(triage_model, articles, customer, django_capture_on_commit_callbacks):
    ticket = _send("how long does shipping take?", customer, capture=django_capture_on_commit_callbacks)
    message = ticket.messages.get(author=Message.Author.CUSTOMER)
    assert pipeline.run_pipeline(message_id=message.pk) == "not-claimed"
    assert ticket.messages.filter(author=Message.Author.AI).count() == 1


@pytest.mark.django_db
def test_sweeper_recovers_a_message_left_running(triage_model, articles, customer, monkeypatch):
    """A worker killed mid-way leaves the message RUNNING; the sweep puts it back and runs it."""
    monkeypatch.setattr("tickets.services.pipeline_enqueue", lambda **kw: None)  # the worker never ran
    ticket, message, _ = services.ticket_receive(channel="api", body="how long does shipping take?", customer=customer)
    old = message.created_at - __import__("datetime").timedelta(minutes=5)
    Message.objects.filter(pk=message.pk).update(pipeline=Message.Pipeline.RUNNING, pipeline_claimed_at=old, created_at=old)
    monkeypatch.undo()
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)
    counts = pipeline.sweep(stale_seconds=60)
    assert counts["requeued"] == 1
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.ANSWERED
