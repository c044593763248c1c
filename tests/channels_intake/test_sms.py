"""Twilio SMS: signed webhook, threading by phone, idempotence, replies split and sent over HTTP."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from channels_intake.models import InboundEvent
from channels_intake.outbound import SmsOutbound
from channels_intake.sms import text_split, twilio_signature
from tests.channels_intake.fake_provider import FakeProvider
from tests.conftest import make_order
from tickets.models import Message, Ticket
from tickets.services import message_post

URL = "http://testserver/webhooks/twilio/sms/"
TOKEN = "twilio-auth-token"


@pytest.fixture
def twilio(db, settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.TWILIO_ACCOUNT_SID = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    settings.TWILIO_FROM_NUMBER = "+15557654321"
    return settings


def sms(**changes) -> dict[str, str]:
    params = json.loads((Path(__file__).parent / "fixtures" / "twilio_sms.json").read_text())
    return {**params, **changes}


def post(client, params, *, token=TOKEN, signature=None):
    signature = signature or twilio_signature(url=URL, params=list(params.items()), token=token)
    return client.post("/webhooks/twilio/sms/", params, HTTP_X_TWILIO_SIGNATURE=signature)


def test_signed_sms_opens_a_ticket_for_the_known_customer_and_answers_empty_twiml(
    client, twilio, customer
):
    response = post(client, sms())

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert response.content.decode().endswith("<Response></Response>")
    ticket = Ticket.objects.get()
    # The phone number belongs to the customer who also writes by email: one person, one Customer.
    assert (ticket.channel, ticket.customer) == ("sms", customer)
    assert ticket.messages.get().body.startswith("Hi, my order FL-2041")


def test_next_sms_is_a_followup_and_a_provider_retry_stores_nothing(client, twilio, customer):
    post(client, sms())
    post(client, sms(MessageSid="SM2", SmsSid="SM2", Body="Any news?"))
    post(client, sms(MessageSid="SM2", SmsSid="SM2", Body="Any news?"))

    ticket = Ticket.objects.get()
    assert list(ticket.messages.values_list("body", flat=True))[1:] == ["Any news?"]
    statuses = list(InboundEvent.objects.order_by("id").values_list("status", flat=True))
    assert statuses == ["ticket_created", "followup", "duplicate"]


@pytest.mark.parametrize("signature", ["bm90IHRoZSBzaWduYXR1cmU=", ""])
def test_bad_or_missing_signature_is_refused_and_stores_nothing(client, twilio, signature):
    params = sms()
    response = client.post(
        "/webhooks/twilio/sms/",
        params,
        **({"HTTP_X_TWILIO_SIGNATURE": signature} if signature else {}),
    )

    assert response.status_code == 403
    assert not Ticket.objects.exists() and not InboundEvent.objects.exists()


def test_a_signature_over_other_params_is_refused(client, twilio):
    signed_for = sms(Body="hello")
    signature = twilio_signature(url=URL, params=list(signed_for.items()), token=TOKEN)

    assert post(client, sms(Body="refund me $500"), signature=signature).status_code == 403


def test_unsigned_requests_need_debug_and_the_explicit_setting(db, client, settings):
    settings.TWILIO_AUTH_TOKEN = ""
    settings.TWILIO_ALLOW_UNSIGNED = True
    settings.DEBUG = False
    assert client.post("/webhooks/twilio/sms/", sms()).status_code == 403

    settings.DEBUG = True
    assert client.post("/webhooks/twilio/sms/", sms()).status_code == 200
    assert Ticket.objects.count() == 1


def test_media_only_mms_and_opt_out_keywords_are_ignored_with_reason(client, twilio):
    post(
        client,
        sms(MessageSid="MM1", Body="", NumMedia="1", MediaUrl0="https://api.twilio.com/media/1"),
    )
    post(client, sms(MessageSid="SM9", Body="STOP"))

    reasons = list(InboundEvent.objects.order_by("id").values_list("status", "reason"))
    assert reasons == [
        ("ignored", "unsupported: media only (1 attachments)"),
        ("ignored", "carrier keyword STOP"),
    ]
    assert not Ticket.objects.exists()


def test_text_split_prefers_sentence_boundaries_and_respects_the_limit():
    sentence = "Your refund of $34.99 was sent to your Visa ending 4821 today. "
    text = sentence * 40  # about 2,600 characters

    parts = text_split(text, limit=1600)

    assert len(parts) == 2
    assert all(len(p) <= 1600 for p in parts)
    assert all(p.endswith("today.") for p in parts)
    assert " ".join(parts).split() == text.split()


def test_text_split_cuts_at_paragraphs_and_never_mid_word():
    text = ("word. " * 200).strip() + "\n\n" + "Second paragraph."

    parts = text_split(text, limit=1210)

    assert parts == [("word. " * 200).strip(), "Second paragraph."]
    assert all(
        not p.startswith("ord") for p in text_split("x" * 10 + " " + "longword " * 50, limit=40)
    )


def test_long_reply_goes_out_through_twilio_in_parts(twilio, client, customer):
    post(client, sms())
    ticket = Ticket.objects.get()
    reply = message_post(ticket=ticket, author=Message.Author.AI, body="Thanks for waiting. " * 120)

    with FakeProvider() as twilio_api:
        twilio.TWILIO_API_BASE = twilio_api.base
        SmsOutbound().send(reply)

    assert len(twilio_api.requests) == 2
    first = twilio_api.requests[0]
    assert first["path"] == "/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages.json"
    auth = base64.b64decode(first["headers"]["Authorization"].removeprefix("Basic ")).decode()
    assert auth == f"ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:{TOKEN}"
    assert (first["body"]["To"], first["body"]["From"]) == ("+15550001111", "+15557654321")
    assert all(len(r["body"]["Body"]) <= 1600 for r in twilio_api.requests)
    reply.refresh_from_db()
    assert len(reply.meta["sms_sids"]) == 2


def test_twilio_error_is_raised_so_delivery_failure_is_recorded(twilio, client, customer):
    from channels_intake.outbound import DeliveryError

    post(client, sms())
    reply = message_post(ticket=Ticket.objects.get(), author=Message.Author.AI, body="Hello")
    with FakeProvider() as twilio_api:
        twilio_api.status = 400
        twilio.TWILIO_API_BASE = twilio_api.base
        with pytest.raises(DeliveryError):
            SmsOutbound().send(reply)


def test_cancel_order_conversation_over_sms_end_to_end(
    client, twilio, customer, triage_model, articles, django_capture_on_commit_callbacks
):
    order = make_order(customer, "N-1050", status="paid", total="34.99")
    with FakeProvider() as twilio_api:
        twilio.TWILIO_API_BASE = twilio_api.base
        with django_capture_on_commit_callbacks(execute=True):
            post(client, sms(MessageSid="SM-a", Body="please cancel my order N-1050"))
        ask = twilio_api.requests[-1]["body"]["Body"]
        with django_capture_on_commit_callbacks(execute=True):
            post(client, sms(MessageSid="SM-b", Body="yes"))

    assert "N-1050" in ask and "34.99" in ask
    order.refresh_from_db()
    assert order.status == "cancelled"
    assert Ticket.objects.get().status == Ticket.Status.RESOLVED
    assert len(twilio_api.requests) >= 2 and all(
        r["body"]["To"] == "+15550001111" for r in twilio_api.requests
    )
