from __future__ import annotations

import pytest

from tickets import services
from tickets.models import Message, Ticket, TicketEvent


@pytest.fixture(autouse=True)
def _offline_classification(settings):
    """These tests are about composition; LLM classification has its own (tests/tickets/test_llm_triage.py)."""
    settings.LLM_CLASSIFY = False


def _ask(body, customer, capture):
    with capture(execute=True):
        ticket, _, _ = services.ticket_receive(channel="api", body=body, customer=customer)
    ticket.refresh_from_db()
    return ticket


@pytest.mark.django_db
def test_grounded_llm_reply_is_used_and_cites_the_article(
    triage_model, articles, customer, fake_llm, django_capture_on_commit_callbacks
):
    fake_llm.reply = "Standard shipping takes 3 to 5 business days [shipping-times-and-costs]."
    ticket = _ask("how many days does shipping take? my card is 4111 1111 1111 1111", customer, django_capture_on_commit_callbacks)
    reply = ticket.messages.get(author=Message.Author.AI)
    assert reply.body == "Standard shipping takes 3 to 5 business days."
    assert reply.meta["llm"] is True
    assert reply.meta["citations"][0]["article"] == "shipping-times-and-costs"
    sent = fake_llm.requests[0]["json"]
    prompt = " ".join(m["content"] for m in sent["messages"])
    assert "4111" not in prompt and "[card]" in prompt  # redacted before leaving
    assert "<customer>" in prompt  # customer text fenced as untrusted


@pytest.mark.django_db
def test_reply_citing_nothing_falls_back_to_the_offline_composer(
    triage_model, articles, customer, fake_llm, django_capture_on_commit_callbacks
):
    fake_llm.reply = "Sure! Shipping is instant and free everywhere."
    ticket = _ask("how long does shipping take?", customer, django_capture_on_commit_callbacks)
    reply = ticket.messages.get(author=Message.Author.AI)
    assert "instant" not in reply.body
    assert not reply.meta.get("llm")
    assert TicketEvent.objects.filter(ticket=ticket, stage="llm", outcome="fallback").exists()
    assert ticket.status == Ticket.Status.ANSWERED


@pytest.mark.django_db
def test_provider_error_falls_back(triage_model, articles, customer, fake_llm, django_capture_on_commit_callbacks):
    fake_llm.status = 500
    ticket = _ask("how long does shipping take?", customer, django_capture_on_commit_callbacks)
    assert ticket.status == Ticket.Status.ANSWERED
    assert "business days" in ticket.messages.get(author=Message.Author.AI).body
    assert len(fake_llm.requests) == 1  # max_retries=0: one attempt, no retry storm
