from __future__ import annotations

import io
import json
import threading
import time

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.conftest import make_order
from tickets import services
from tickets.models import Customer, Message, Ticket

TICKETS = "/api/v1/tickets/"


@pytest.fixture
def api(db):
    user = User.objects.create_user("integration")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def send(api, django_capture_on_commit_callbacks):
    """POST through the API and run the pipeline the commit enqueues, as a worker would."""

    def send(path, payload):
        with django_capture_on_commit_callbacks(execute=True):
            return api.post(path, payload, format="json")

    return send


def _new(body, email="maya@example.com", **extra):
    return {
        "channel": "api",
        "customer": {"email": email, "name": "Maya Lopez"},
        "body": body,
        **extra,
    }


def test_create_stores_the_ticket_and_the_pipeline_answers_it(
    send, api, triage_model, articles, django_assert_max_num_queries
):
    response = send(TICKETS, _new("how long does shipping take?", subject="Shipping"))

    assert response.status_code == 201
    created = response.json()
    # The pipeline runs after the commit, in a worker: the response shows the ticket as stored.
    assert created["number"].startswith("FL-") and created["id"] and created["created_at"]
    assert created["status"] == "new"
    assert created["customer"]["email"] == "maya@example.com" and created["subject"] == "Shipping"

    with django_assert_max_num_queries(4):  # token, ticket with its people, messages, events
        response = api.get(f"{TICKETS}{created['number']}/")

    data = response.json()
    assert response.status_code == 200 and data["id"] == created["id"]
    assert data["status"] == "answered" and data["outcome"] == "answered"
    assert data["channel"] == "api" and data["intent"] == "shipping" and data["confidence"] > 0
    for field in ("urgency", "sentiment", "complexity", "assigned_to"):
        assert field in data
    customer, ai = data["messages"]
    assert (customer["author"], customer["body"]) == ("customer", "how long does shipping take?")
    assert ai["author"] == "ai" and "business days" in ai["body"] and ai["created_at"]
    assert {"stage", "outcome", "duration_ms", "created_at"} <= set(data["events"][0])
    stages = [e["stage"] for e in data["events"]]
    assert stages[0] == "intake" and {"classify", "resolve", "pipeline"} <= set(stages)


def test_resending_an_external_id_returns_the_same_ticket(api):
    first = api.post(
        TICKETS, _new("how long does shipping take?", external_id="shop-77"), format="json"
    )
    again = api.post(
        TICKETS, _new("how long does shipping take?", external_id="shop-77"), format="json"
    )

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert Ticket.objects.count() == 1
    assert Message.objects.filter(author=Message.Author.CUSTOMER).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_of_one_external_id_open_one_ticket(monkeypatch):
    """The retry checks before the first request commits; the unique constraint must catch it."""
    monkeypatch.setattr("tickets.services.pipeline_enqueue", lambda **kw: None)
    customer = Customer.objects.create(email="maya@example.com")
    result = {}

    def retry():
        try:
            result["ticket"], _, result["created"] = services.ticket_receive(
                channel="api", body="hello again", customer=customer, external_id="shop-9"
            )
        finally:
            connection.close()

    with transaction.atomic():
        first, _, _ = services.ticket_receive(
            channel="api", body="hello", customer=customer, external_id="shop-9"
        )
        racer = threading.Thread(target=retry)
        racer.start()
        time.sleep(0.5)  # the retry has passed its lookup and now waits on the unique index
    racer.join(timeout=10)

    assert result == {"ticket": first, "created": False}
    assert Ticket.objects.count() == 1 and Message.objects.count() == 1


def test_confirmation_answered_over_the_api_cancels_the_order(
    send, api, triage_model, articles, customer
):
    order = make_order(customer, "N-1050", status="paid", total="34.99")
    number = send(TICKETS, _new("please cancel my order N-1050", email=customer.email)).json()[
        "number"
    ]
    proposed = api.get(f"{TICKETS}{number}/").json()
    assert proposed["status"] == "awaiting_confirmation"
    confirm = proposed["messages"][-1]
    assert confirm["kind"] == "confirm" and "34.99" in confirm["body"]

    response = send(f"{TICKETS}{number}/messages/", {"body": "yes please"})

    assert response.status_code == 201
    assert response.json()["author"] == "customer" and response.json()["ticket"] == number
    order.refresh_from_db()
    assert order.status == "cancelled"
    ticket = api.get(f"{TICKETS}{number}/").json()
    assert ticket["status"] == "resolved" and ticket["outcome"] == "action"
    assert ticket["messages"][-1]["kind"] == "action_done"


def test_list_filters_by_status_intent_and_channel(api, customer, django_assert_max_num_queries):
    def ticket(channel, status, intent):
        return Ticket.objects.create(
            channel=channel,
            customer=customer,
            status=status,
            intent=intent,
            number=f"FL-{channel}-{status}",
        )

    ticket("api", "escalated", "complaint")
    ticket("email", "escalated", "refund")
    ticket("email", "answered", "refund")

    with django_assert_max_num_queries(4):
        everything = api.get(TICKETS).json()
    assert (
        everything["count"] == 3 and everything["results"][0]["customer"]["email"] == customer.email
    )
    numbers = lambda query: sorted(t["number"] for t in api.get(TICKETS, query).json()["results"])  # noqa: E731
    assert numbers({"status": "escalated"}) == ["FL-api-escalated", "FL-email-escalated"]
    assert numbers({"intent": "refund", "channel": "email"}) == [
        "FL-email-answered",
        "FL-email-escalated",
    ]
    assert numbers({"channel": "sms"}) == []
    assert api.get(TICKETS, {"status": "sleeping"}).status_code == 400


def test_requests_without_a_token_are_refused(db):
    anonymous = APIClient()
    assert anonymous.get(TICKETS).status_code == 401
    assert anonymous.post(TICKETS, _new("hello"), format="json").status_code == 401
    assert Ticket.objects.count() == 0


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"channel": "api", "customer": {"email": "maya@example.com"}}, "body"),
        (_new("   "), "body"),
        (_new("x" * 20_001), "body"),
        (_new("hello", email="not-an-email"), "customer"),
        ({**_new("hello"), "channel": "pigeon"}, "channel"),
    ],
)
def test_invalid_tickets_are_refused_with_the_field(api, payload, field):
    response = api.post(TICKETS, payload, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert Ticket.objects.count() == 0


def test_malformed_json_is_a_400(api):
    response = api.post(TICKETS, '{"body": "hello', content_type="application/json")

    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


def test_oversized_request_is_refused_before_it_is_read(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    response = api.post(TICKETS, json.dumps(_new("x" * 2_000)), content_type="application/json")

    assert response.status_code == 413
    assert Ticket.objects.count() == 0


def test_unknown_ticket_is_a_404(api):
    assert api.get(f"{TICKETS}FL-999999/").status_code == 404
    assert (
        api.post(f"{TICKETS}FL-999999/messages/", {"body": "hi"}, format="json").status_code == 404
    )


def test_create_api_token_prints_the_token_last_and_reuses_it(db):
    User.objects.create_user("shopify")
    out = io.StringIO()
    call_command("create_api_token", "shopify", stdout=out, stderr=io.StringIO())
    again = io.StringIO()
    call_command("create_api_token", "shopify", stdout=again, stderr=io.StringIO())

    key = out.getvalue().strip().splitlines()[-1]
    assert key == Token.objects.get(user__username="shopify").key
    assert again.getvalue().strip().splitlines()[-1] == key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get(TICKETS).status_code == 200


def test_create_api_token_needs_an_existing_user_unless_told_to_create(db):
    with pytest.raises(CommandError, match="--create"):
        call_command("create_api_token", "zapier", stdout=io.StringIO(), stderr=io.StringIO())

    out = io.StringIO()
    call_command("create_api_token", "zapier", "--create", stdout=out, stderr=io.StringIO())
    user = User.objects.get(username="zapier")
    assert not user.is_staff and not user.has_usable_password()
    assert out.getvalue().strip().splitlines()[-1] == user.auth_token.key


def test_articles_list_search_and_detail(api, articles):
    listing = api.get("/api/v1/articles/").json()
    assert listing["count"] == len(articles)
    assert {"slug", "title", "category", "intents", "body", "updated_at"} <= set(
        listing["results"][0]
    )
    assert listing["results"][0]["match"] is None

    hits = api.get("/api/v1/articles/", {"q": "how long does shipping take"}).json()["results"]
    assert hits[0]["slug"].startswith("shipping")
    assert hits[0]["match"]["score"] >= hits[-1]["match"]["score"] > 0
    assert hits[0]["match"]["passage"]

    slug = articles[0].slug
    assert api.get(f"/api/v1/articles/{slug}/").json()["title"] == articles[0].title
    assert api.get("/api/v1/articles/no-such-article/").status_code == 404


def test_schema_and_docs_are_served(api):
    schema = api.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/tickets/{number}/messages/" in schema.content
    assert api.get("/api/docs/").status_code == 200


@pytest.mark.django_db
def test_a_token_over_its_rate_gets_429_with_retry_after(monkeypatch):
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient
    from rest_framework.throttling import UserRateThrottle

    monkeypatch.setitem(UserRateThrottle.THROTTLE_RATES, "user", "3/min")
    token = Token.objects.create(user=User.objects.create_user("busy-integration"))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    statuses = [api.get("/api/v1/tickets/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    throttled = api.get("/api/v1/tickets/")
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) > 0
    assert "throttled" in throttled.json()["detail"].lower()
