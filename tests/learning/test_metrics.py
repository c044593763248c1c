from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from learning.selectors import stage_latencies, ticket_outcomes
from tests.conftest import make_order
from tickets import services
from tickets.models import Ticket, TicketEvent


@pytest.fixture
def api(db):
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=User.objects.create_user('dash')).key}"
    )
    return client


def test_metrics_after_a_few_tickets(
    api, triage_model, articles, customer, django_capture_on_commit_callbacks
):
    make_order(customer, "N-1050", status="paid")

    def send(body, ticket=None, channel="api"):
        with django_capture_on_commit_callbacks(execute=True):
            return services.ticket_receive(
                channel=channel, body=body, customer=customer, ticket=ticket
            )[0]

    send("how long does shipping take?")
    send("Refund me now or I'm calling my lawyer", channel="email")
    send("yes", ticket=send("please cancel my order N-1050"))
    services.ticket_receive(
        channel="chat", body="hello?", customer=customer
    )  # still in flight: no worker ran

    response = api.get("/api/v1/metrics/")

    assert response.status_code == 200
    data = response.json()
    assert data["tickets"] == 4
    assert data["by_channel"] == {"api": 2, "chat": 1, "email": 1}
    assert data["by_status"] == {"answered": 1, "escalated": 1, "resolved": 1, "new": 1}
    assert data["by_intent"] == {
        "cancel_order": 1,
        "refund": 1,
        "shipping": 1,
    }  # the unclassified one is left out
    assert data["outcomes"] == {
        "decided": 3,
        "answered": 1,
        "action": 1,
        "escalated": 1,
        "answered_rate": 0.3333,
        "action_rate": 0.3333,
        "escalated_rate": 0.3333,
    }
    assert data["escalation_reasons"] == [
        {"reason": "escalated: rule keyword 'lawyer'", "count": 1}
    ]
    classify = data["latency_ms"]["classify"]
    assert classify["count"] == 3 and 0 < classify["p50"] <= classify["p95"]
    assert (
        data["latency_ms"]["pipeline"]["count"] == 4
    )  # the "yes" skips classify: it answers the confirmation
    assert "intake" not in data["latency_ms"]  # recorded without a duration
    assert data["knowledge_gaps"] == 0


def test_metrics_of_an_empty_system_have_no_rates(api):
    data = api.get("/api/v1/metrics/").json()

    assert data["tickets"] == 0 and data["outcomes"]["decided"] == 0
    assert data["outcomes"]["escalated_rate"] is None
    assert data["latency_ms"] == {} and data["escalation_reasons"] == []


def test_stage_latency_percentiles(customer):
    ticket = Ticket.objects.create(channel="api", customer=customer)
    for ms in (10, 20, 30, 40, 100):
        TicketEvent.objects.create(
            ticket=ticket, stage="resolve", outcome="answered", duration_ms=ms
        )
    TicketEvent.objects.create(ticket=ticket, stage="intake", outcome="received")

    assert stage_latencies() == {"resolve": {"count": 5, "p50": 30.0, "p95": 88.0}}


def test_escalation_reasons_group_scores_and_keep_the_top_ten(customer):
    def escalated(reason, n=1):
        for _ in range(n):
            Ticket.objects.create(
                channel="api", customer=customer, outcome="escalated", escalation_reason=reason
            )

    escalated("low confidence (0.21 < 0.35)")
    escalated("low confidence (0.30 < 0.35)")
    escalated("missing knowledge", n=3)
    for i in range(10):
        escalated(f"rare reason {chr(97 + i)}")

    reasons = ticket_outcomes()["escalation_reasons"]

    assert reasons[:2] == [
        {"reason": "missing knowledge", "count": 3},
        {"reason": "low confidence", "count": 2},
    ]
    assert len(reasons) == 10


def test_knowledge_gaps_are_counted(api, customer):
    ticket = Ticket.objects.create(channel="api", customer=customer)
    services.event_record(
        ticket,
        stage="knowledge_gap",
        outcome="missing",
        detail={"question": "do you ship to Mars?"},
    )
    services.event_record(ticket, stage="resolve", outcome="answered", duration_ms=5)

    assert api.get("/api/v1/metrics/").json()["knowledge_gaps"] == 1
