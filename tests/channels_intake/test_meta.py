"""Meta webhook (Messenger, Instagram, WhatsApp Cloud): handshake, signatures, DMs into tickets,
replies through the Graph API, and the intake coverage every channel reports."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token

from channels_intake.models import InboundEvent, SocialIdentity
from channels_intake.outbound import SocialOutbound
from tests.channels_intake.fake_provider import FakeProvider
from tickets.models import Message, Ticket
from tickets.services import message_post

SECRET = "meta-app-secret"


@pytest.fixture
def meta(db, settings):
    settings.META_APP_SECRET = SECRET
    settings.META_VERIFY_TOKEN = "verify-me"
    settings.META_PAGE_ACCESS_TOKEN = "page-token"
    settings.META_WHATSAPP_ACCESS_TOKEN = "wa-token"
    return settings


def payload(name: str) -> dict:
    return json.loads((Path(__file__).parent / "fixtures" / name).read_text())


def post(client, body: dict, *, secret: str = SECRET, signature: str | None = None):
    raw = json.dumps(body).encode()
    signature = signature or "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return client.post(
        "/webhooks/meta/", raw, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=signature
    )


def test_verify_token_handshake(client, meta):
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": "verify-me",
        "hub.challenge": "1158201444",
    }

    ok = client.get("/webhooks/meta/", query)
    wrong = client.get("/webhooks/meta/", {**query, "hub.verify_token": "guess"})

    assert (ok.status_code, ok.content) == (200, b"1158201444")
    assert wrong.status_code == 403


def test_handshake_is_refused_when_no_verify_token_is_configured(db, client, settings):
    settings.META_VERIFY_TOKEN = ""
    query = {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"}

    assert client.get("/webhooks/meta/", query).status_code == 403


@pytest.mark.parametrize("secret", ["wrong-secret", None])
def test_bad_or_unconfigured_signature_is_refused_and_stores_nothing(client, meta, secret):
    if secret is None:
        meta.META_APP_SECRET = ""
    response = post(client, payload("meta_messenger.json"), secret=secret or SECRET)

    assert response.status_code == 403
    assert not Ticket.objects.exists() and not InboundEvent.objects.exists()


def test_messenger_dm_opens_a_social_ticket_and_the_next_one_follows_up(client, meta):
    first = payload("meta_messenger.json")
    second = payload("meta_messenger.json")
    second["entry"][0]["messaging"][0]["message"] = {
        "mid": "m_second",
        "text": "It was order FL-2041.",
    }

    assert post(client, first).status_code == 200
    post(client, second)
    post(client, second)  # Meta redelivers when it does not get a 200 in time

    ticket = Ticket.objects.get()
    assert ticket.channel == "social"
    bodies = list(ticket.messages.values_list("body", flat=True))
    assert bodies == ["Hello, I was charged twice for my last order.", "It was order FL-2041."]
    first_meta = ticket.messages.first().meta
    assert (first_meta["platform"], first_meta["sender_id"]) == ("messenger", "6785432109876543")
    identity = SocialIdentity.objects.get()
    assert (identity.platform, identity.customer) == ("messenger", ticket.customer)
    assert list(InboundEvent.objects.order_by("id").values_list("status", flat=True)) == [
        "ticket_created",
        "followup",
        "duplicate",
    ]


def test_instagram_dm_opens_its_own_ticket(client, meta):
    post(client, payload("meta_messenger.json"))
    post(client, payload("meta_instagram.json"))

    instagram = Ticket.objects.get(messages__meta__platform="instagram")
    assert instagram.messages.get().body == "Do you ship to Canada?"
    assert Ticket.objects.count() == 2


def test_whatsapp_sender_is_the_same_customer_as_their_sms_and_email(client, meta, customer):
    post(client, payload("meta_whatsapp.json"))

    ticket = Ticket.objects.get()
    assert ticket.customer == customer  # wa_id 15550001111 is the phone +15550001111
    assert ticket.messages.get().meta["recipient_id"] == "106540352242922"


def test_unsupported_messages_are_acknowledged_and_recorded(client, meta):
    response = post(client, payload("meta_unsupported.json"))

    assert response.status_code == 200
    reasons = sorted(InboundEvent.objects.values_list("status", "reason"))
    assert reasons == [
        ("ignored", "unsupported: image"),
        ("ignored", "unsupported: reaction"),
        ("ignored", "unsupported: sticker"),
    ]
    assert not Ticket.objects.exists()


def test_whatsapp_image_is_recorded_as_unsupported(client, meta):
    body = payload("meta_whatsapp.json")
    body["entry"][0]["changes"][0]["value"]["messages"][0] = {
        "from": "15550001111",
        "id": "wamid.image1",
        "timestamp": "1796223300",
        "type": "image",
        "image": {"mime_type": "image/jpeg", "sha256": "abc", "id": "1234567890"},
    }

    post(client, body)

    assert InboundEvent.objects.get().reason == "unsupported: image"


def test_replies_go_out_through_the_graph_api_per_platform(client, meta):
    post(client, payload("meta_messenger.json"))
    post(client, payload("meta_whatsapp.json"))
    messenger = Ticket.objects.get(messages__meta__platform="messenger")
    whatsapp = Ticket.objects.get(messages__meta__platform="whatsapp")

    with FakeProvider() as graph:
        meta.META_GRAPH_BASE = graph.base + "/v21.0"
        SocialOutbound().send(
            message_post(ticket=messenger, author=Message.Author.AI, body="Refund on its way.")
        )
        SocialOutbound().send(
            message_post(ticket=whatsapp, author=Message.Author.AI, body="Address updated.")
        )

    to_page, to_whatsapp = graph.requests
    assert to_page["path"] == "/v21.0/104338092541234/messages"
    assert to_page["headers"]["Authorization"] == "Bearer page-token"
    assert to_page["body"] == {
        "recipient": {"id": "6785432109876543"},
        "messaging_type": "RESPONSE",
        "message": {"text": "Refund on its way."},
    }
    assert to_whatsapp["path"] == "/v21.0/106540352242922/messages"
    assert to_whatsapp["headers"]["Authorization"] == "Bearer wa-token"
    assert to_whatsapp["body"]["to"] == "15550001111"
    assert to_whatsapp["body"]["text"]["body"] == "Address updated."


def test_intake_coverage_in_metrics_api_and_admin(client, meta, admin_user_):
    post(client, payload("meta_messenger.json"))
    post(client, payload("meta_messenger.json"))
    post(client, payload("meta_unsupported.json"))

    token = Token.objects.create(user=admin_user_)
    metrics = client.get("/api/v1/metrics/", HTTP_AUTHORIZATION=f"Token {token.key}").json()

    assert metrics["intake"]["social"] == {
        "received": 4,
        "tickets_created": 1,
        "followups": 0,
        "ignored": 3,
        "failed": 0,
        "duplicates": 1,
        "ignored_by_reason": {
            "unsupported: image": 1,
            "unsupported: reaction": 1,
            "unsupported: sticker": 1,
        },
    }
    client.force_login(admin_user_)
    page = client.get("/admin/channels_intake/inboundevent/?status__exact=ignored")
    assert page.status_code == 200
    assert b"Intake coverage" in page.content and b"unsupported: sticker: 1" in page.content
