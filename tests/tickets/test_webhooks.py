from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.fake_http import FakeServer
from tickets import services, tasks
from tickets.models import Message, Ticket, WebhookDelivery, WebhookEndpoint
from tickets.webhooks import (
    backoff,
    webhook_deliver,
    webhook_endpoint_create,
    webhook_url_check,
    webhooks_emit,
)

WEBHOOKS = "/api/v1/webhooks/"


class Receiver(FakeServer):
    """An integration's endpoint on 127.0.0.1 that records what it is sent."""

    def __init__(self):
        super().__init__()
        self.url = f"{self.base}/hooks"

    def record(self, path: str, headers: dict, raw: bytes) -> dict:
        return {"path": path, "headers": headers, "raw": raw, "json": json.loads(raw)}

    def events(self) -> list[str]:
        return [r["json"]["type"] for r in self.requests]


@pytest.fixture
def receiver(settings):
    # Tests run with DEBUG off, where the SSRF guard would refuse 127.0.0.1.
    settings.WEBHOOK_ALLOW_PRIVATE = True
    server = Receiver().start()
    yield server
    server.stop()


def _client(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def staff_api(db):
    return _client(User.objects.create_user("ops", is_staff=True))


@pytest.fixture
def api(db):
    return _client(User.objects.create_user("integration"))


def _verify(request: dict, secret: str) -> bool:
    timestamp = request["headers"]["X-Frontline-Timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + request["raw"], hashlib.sha256)
    return hmac.compare_digest(request["headers"]["X-Frontline-Signature"], "sha256=" + expected.hexdigest())


def _receive(body="where is my order?", **extra):
    return services.ticket_receive(
        channel="api", body=body, email="maya@example.com", name="Maya Lopez", **extra
    )


def _make_due(delivery: WebhookDelivery) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - dt.timedelta(seconds=1)
    )


def test_a_ticket_created_through_the_api_reaches_the_endpoint_signed(
    receiver, staff_api, api, triage_model, articles, django_capture_on_commit_callbacks
):
    registered = staff_api.post(WEBHOOKS, {"url": receiver.url}, format="json")
    assert registered.status_code == 201
    secret = registered.json()["secret"]
    assert len(secret) == 64

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/tickets/",
            {"channel": "api", "customer": {"email": "maya@example.com", "name": "Maya Lopez"},
             "body": "how long does shipping take?"},
            format="json",
        )
    assert response.status_code == 201
    number = response.json()["number"]

    events = receiver.events()
    assert events[:2] == ["ticket.created", "message.created"]
    created, message = receiver.requests[0], receiver.requests[1]
    assert all(_verify(r, secret) for r in receiver.requests)
    assert not _verify(created, "another-secret")
    assert created["headers"]["Content-Type"] == "application/json"
    assert created["headers"]["X-Frontline-Event"] == "ticket.created"
    assert created["headers"]["X-Frontline-Delivery"] == created["json"]["id"]
    ticket = created["json"]["data"]["ticket"]
    assert ticket["number"] == number and ticket["channel"] == "api" and ticket["status"] == "new"
    assert ticket["customer"] == {"email": "maya@example.com", "name": "Maya Lopez"}
    assert message["json"]["data"]["message"]["author"] == "customer"
    assert message["json"]["data"]["message"]["body"] == "how long does shipping take?"
    # The pipeline then answered: the AI's reply and the status change are events too.
    assert {"message.created", "ticket.updated"} <= set(events[2:])
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_a_failed_attempt_backs_off_and_a_later_success_is_delivered(
    receiver, db, django_capture_on_commit_callbacks
):
    webhook_endpoint_create(url=receiver.url, events=["ticket.created"])
    receiver.status = 500
    # The commit also runs the pipeline (training triage first), so the attempt's moment is
    # only known to lie between these two.
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        _receive()
    after = timezone.now()

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and delivery.attempts == 1 and delivery.last_status_code == 500
    assert before + dt.timedelta(seconds=30) <= delivery.next_attempt_at <= after + dt.timedelta(seconds=30)
    assert tasks.retry_webhooks() == 0  # not due yet

    _make_due(delivery)
    before = timezone.now()
    tasks.retry_webhooks()
    after = timezone.now()
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and delivery.status == "pending"
    assert before + dt.timedelta(seconds=60) <= delivery.next_attempt_at <= after + dt.timedelta(seconds=60)

    receiver.status = 204
    _make_due(delivery)
    assert tasks.retry_webhooks() == 1
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 3 and delivery.delivered_at
    assert delivery.last_error == "" and delivery.last_status_code == 204
    # Every attempt carries the same event id, so the receiver can drop duplicates.
    assert len({r["headers"]["X-Frontline-Delivery"] for r in receiver.requests}) == 1
    assert len(receiver.requests) == 3


def test_a_delivery_fails_after_the_last_attempt_and_is_not_sent_again(receiver, db, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    webhook_endpoint_create(url=receiver.url, events=["ticket.created"])
    receiver.status = 500
    _receive()
    delivery = WebhookDelivery.objects.get()

    for _ in range(3):
        _make_due(delivery)
        webhook_deliver(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 3 and delivery.next_attempt_at is None

    _make_due(delivery)
    assert webhook_deliver(delivery_id=delivery.pk) == "skipped"
    assert len(receiver.requests) == 3
    assert backoff(attempts=20) == dt.timedelta(hours=1)


def test_an_attempt_in_flight_or_done_is_not_sent_twice(receiver, db):
    webhook_endpoint_create(url=receiver.url, events=["ticket.created"])
    _receive()
    delivery = WebhookDelivery.objects.get()

    assert webhook_deliver(delivery_id=delivery.pk) == "delivered"
    assert webhook_deliver(delivery_id=delivery.pk) == "skipped"
    assert len(receiver.requests) == 1


def test_a_network_error_is_retried(db, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    # Nothing listens on port 9 of the loopback: the connection is refused.
    webhook_endpoint_create(url="http://127.0.0.1:9/hooks", events=["ticket.created"])
    _receive()
    delivery = WebhookDelivery.objects.get()

    assert webhook_deliver(delivery_id=delivery.pk) == "pending"
    delivery.refresh_from_db()
    assert delivery.attempts == 1 and delivery.last_status_code is None and delivery.last_error


def test_without_endpoints_emitting_costs_one_query_and_stores_nothing(
    db, django_assert_num_queries, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ticket, _, _ = _receive()
    with django_assert_num_queries(1):
        webhooks_emit(event="ticket.updated", ticket=ticket)
    assert not WebhookDelivery.objects.exists()


def test_status_changes_and_outbound_messages_are_events_but_drafts_are_not(receiver, db):
    endpoint = webhook_endpoint_create(url=receiver.url, events=["ticket.updated", "message.created"])
    inactive = webhook_endpoint_create(url=receiver.url)
    WebhookEndpoint.objects.filter(pk=inactive.pk).update(active=False)
    ticket, _, _ = _receive()

    services.message_post(ticket=ticket, author=Message.Author.AI, body="a draft", deliver=False)
    services.ticket_escalate(ticket=ticket, reason="asked for a lawyer")

    deliveries = {d.event: d for d in WebhookDelivery.objects.all()}
    assert set(WebhookDelivery.objects.values_list("endpoint", flat=True)) == {endpoint.pk}
    bodies = [
        d.payload["data"]["message"]["body"]
        for d in WebhookDelivery.objects.filter(event="message.created")
    ]
    assert "a draft" not in bodies and len(bodies) == 2  # the customer's message and the handoff
    updated = deliveries["ticket.updated"].payload["data"]["ticket"]
    assert updated["status"] == Ticket.Status.ESCALATED
    assert updated["outcome"] == "escalated" and updated["escalation_reason"] == "asked for a lawyer"


def test_only_staff_tokens_manage_endpoints_and_the_secret_is_shown_once(staff_api, api, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    assert api.get(WEBHOOKS).status_code == 403
    assert api.post(WEBHOOKS, {"url": "https://hooks.example.com/x"}, format="json").status_code == 403

    created = staff_api.post(
        WEBHOOKS, {"url": "https://hooks.example.com/x", "events": ["ticket.created"]}, format="json"
    )
    assert created.status_code == 201 and created.json()["secret"]
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.created_by.username == "ops" and endpoint.events == ["ticket.created"]

    listed = staff_api.get(WEBHOOKS).json()["results"]
    assert [row["url"] for row in listed] == ["https://hooks.example.com/x"]
    assert "secret" not in listed[0]

    bad = staff_api.post(WEBHOOKS, {"url": "https://x.example.com", "events": ["nope"]}, format="json")
    assert bad.status_code == 400 and "events" in bad.json()

    assert api.delete(f"{WEBHOOKS}{endpoint.pk}/").status_code == 403
    assert staff_api.delete(f"{WEBHOOKS}{endpoint.pk}/").status_code == 204
    assert not WebhookEndpoint.objects.exists()


def test_the_url_guard_refuses_private_and_plain_http_addresses_in_production(
    staff_api, settings
):
    settings.DEBUG = False
    settings.WEBHOOK_ALLOW_PRIVATE = False
    for url in [
        "ftp://hooks.example.com/x",
        "http://93.184.215.14/hooks",
        "https://127.0.0.1/hooks",
        "https://10.1.2.3/hooks",
        "https://169.254.169.254/latest",
        "https://[::1]/hooks",
    ]:
        with pytest.raises(ValidationError):
            webhook_url_check(url=url)
    webhook_url_check(url="https://93.184.215.14/hooks")

    refused = staff_api.post(WEBHOOKS, {"url": "https://127.0.0.1:8000/x"}, format="json")
    assert refused.status_code == 400 and "url" in refused.json()
    assert not WebhookEndpoint.objects.exists()

    settings.DEBUG = True  # local development: loopback and plain http are fine, other schemes never
    webhook_url_check(url="http://127.0.0.1:8000/x")
    with pytest.raises(ValidationError):
        webhook_url_check(url="file:///etc/passwd")


def test_the_admin_lists_endpoints_with_their_deliveries_and_hides_the_secret_from_agents(
    client, admin_user_, agent_user, db, settings
):
    from tickets.permissions import groups_ensure

    groups_ensure()
    settings.WEBHOOK_ALLOW_PRIVATE = True
    endpoint = webhook_endpoint_create(url="https://hooks.example.com/x", events=["ticket.created"])
    _receive()
    page = f"/admin/tickets/webhookendpoint/{endpoint.pk}/change/"

    client.force_login(admin_user_)
    response = client.get(page)
    assert response.status_code == 200
    assert endpoint.secret in response.content.decode() and "ticket.created" in response.content.decode()

    client.force_login(agent_user)
    response = client.get(page)
    assert response.status_code == 200 and endpoint.secret not in response.content.decode()
