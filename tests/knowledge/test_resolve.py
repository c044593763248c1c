"""The resolve stage end to end: the confidence gate's three outcomes, drafts an agent
approves in admin, and follow-ups answered with the conversation's context."""

from __future__ import annotations

import pytest
from django.urls import reverse

from channels_intake.selectors import chat_messages_since
from tickets import services
from tickets.models import Message, Ticket, TicketEvent, Workspace
from tickets.permissions import groups_ensure


def _ask(body, customer, capture, ticket=None):
    with capture(execute=True):
        ticket, _, _ = services.ticket_receive(channel="chat", body=body, customer=customer, ticket=ticket)
    ticket.refresh_from_db()
    return ticket


@pytest.fixture
def retrieval_only(db):
    """A workspace with no taxonomy: every question is answered (or not) by retrieval alone."""
    workspace = Workspace.current()
    workspace.triage_enabled = False
    workspace.save()
    return workspace


@pytest.fixture
def delivered(monkeypatch):
    """Ids of messages handed to delivery (what actually leaves for the customer)."""
    sent: list[int] = []
    real = services.message_deliver

    def record(*, message_id):
        sent.append(message_id)
        real(message_id=message_id)

    monkeypatch.setattr(services, "message_deliver", record)
    return sent


@pytest.mark.django_db
def test_gate_answers_when_retrieval_is_confident(articles, customer, retrieval_only, settings, django_capture_on_commit_callbacks):
    settings.RETRIEVAL_MIN_SCORE, settings.RETRIEVAL_DRAFT_SCORE = 0.3, 0.2
    ticket = _ask("I forgot my password and can't log in", customer, django_capture_on_commit_callbacks)
    reply = ticket.messages.get(author=Message.Author.AI)
    assert ticket.status == Ticket.Status.ANSWERED
    assert reply.meta["kind"] == "answer" and reply.meta["citations"][0]["article"] == "reset-password"
    assert "/help/reset-password/" in reply.body


@pytest.mark.django_db
def test_gate_drafts_a_middling_answer_for_an_agent_and_sends_nothing(
    articles, customer, retrieval_only, settings, delivered, django_capture_on_commit_callbacks
):
    settings.RETRIEVAL_MIN_SCORE, settings.RETRIEVAL_DRAFT_SCORE = 0.99, 0.2  # read at call time
    ticket = _ask("I forgot my password and can't log in", customer, django_capture_on_commit_callbacks)
    draft = ticket.messages.get(author=Message.Author.AI)
    assert draft.meta["kind"] == "draft" and draft.meta["status"] == "pending"
    assert draft.meta["citations"][0]["article"] == "reset-password"
    assert ticket.status == Ticket.Status.ESCALATED
    assert ticket.escalation_reason == "draft awaiting approval"
    assert draft.pk not in delivered
    assert draft.pk not in [m.pk for m in chat_messages_since(ticket_id=ticket.pk)]
    assert not TicketEvent.objects.filter(ticket=ticket, stage="knowledge_gap").exists()


@pytest.mark.django_db
def test_gate_escalates_missing_knowledge_and_records_the_gap(
    articles, customer, retrieval_only, settings, django_capture_on_commit_callbacks
):
    settings.RETRIEVAL_MIN_SCORE, settings.RETRIEVAL_DRAFT_SCORE = 0.99, 0.98
    ticket = _ask("Do you rent out party tents for weddings?", customer, django_capture_on_commit_callbacks)
    assert ticket.status == Ticket.Status.ESCALATED
    assert ticket.escalation_reason == "missing knowledge"
    assert not ticket.messages.filter(author=Message.Author.AI).exists()
    gap = TicketEvent.objects.get(ticket=ticket, stage="knowledge_gap")
    assert gap.detail["question"] == "Do you rent out party tents for weddings?"


@pytest.mark.django_db
def test_agent_edits_a_draft_in_admin_and_the_customer_gets_the_edit(
    articles, customer, retrieval_only, settings, agent_user, client, delivered, django_capture_on_commit_callbacks
):
    settings.RETRIEVAL_MIN_SCORE, settings.RETRIEVAL_DRAFT_SCORE = 0.99, 0.2
    ticket = _ask("I forgot my password and can't log in", customer, django_capture_on_commit_callbacks)
    draft = ticket.messages.get(author=Message.Author.AI, meta__kind="draft")
    groups_ensure()
    client.force_login(agent_user)
    page = client.get(reverse("admin:tickets_ticket_change", args=[ticket.pk]))
    assert "AI draft awaiting approval" in page.content.decode()

    edited = "Hi Maya, use Forgot password on the sign-in page; the link works for an hour."
    url = reverse("admin:tickets_ticket_draft_approve", args=[ticket.pk, draft.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"body": edited})
    assert response.status_code == 302

    sent = ticket.messages.filter(author=Message.Author.AI).exclude(pk=draft.pk).get()
    assert sent.body == edited
    assert sent.pk in delivered and draft.pk not in delivered
    assert [m.body for m in chat_messages_since(ticket_id=ticket.pk) if m.author == Message.Author.AI] == [edited]
    assert sent.meta["draft"] == {"message": draft.pk, "original": draft.body, "final": edited, "edited": True}
    draft.refresh_from_db()
    assert draft.meta["status"] == "approved" and draft.meta["final"] == edited
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.ANSWERED and ticket.assigned_to == agent_user
    assert TicketEvent.objects.filter(ticket=ticket, stage="agent", outcome="draft_edited").exists()

    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"body": edited})  # a double click sends nothing more
    assert ticket.messages.filter(author=Message.Author.AI).count() == 2


@pytest.mark.django_db
def test_follow_up_is_answered_from_the_conversation(triage_model, articles, customer, django_capture_on_commit_callbacks):
    ticket = _ask("Can I get a refund for the towels I bought?", customer, django_capture_on_commit_callbacks)
    first = ticket.messages.filter(author=Message.Author.AI).get()
    refund_articles = {"refund-policy", "refund-status", "returns-and-exchanges"}
    assert first.meta["citations"][0]["article"] in refund_articles

    ticket = _ask("and how long does that take?", customer, django_capture_on_commit_callbacks, ticket=ticket)
    follow_up = ticket.messages.filter(author=Message.Author.AI).order_by("-id").first()
    assert follow_up.pk != first.pk
    assert follow_up.meta["citations"][0]["article"] in refund_articles
    assert "business days" in follow_up.body
    assert ticket.status == Ticket.Status.ANSWERED
