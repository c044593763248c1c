"""Inbound email through anymail's webhooks (provider-shaped payloads) and IMAP; outbound threading."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import call_command

from channels_intake.email import email_ingest_raw, html_to_text, reply_strip
from channels_intake.models import Attachment, InboundEvent
from channels_intake.outbound import EmailOutbound
from tickets.models import Message, Ticket
from tickets.services import message_post, ticket_receive

FIXTURES = Path(__file__).parent / "fixtures"
SECRET = "hook-user:hook-pass"


def fixture(name: str):
    text = (FIXTURES / name).read_text()
    return json.loads(text) if name.endswith(".json") else text


def basic_auth(secret: str = SECRET) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode()}


@pytest.fixture
def webhooks(db, settings, tmp_path):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET, "MAILGUN_WEBHOOK_SIGNING_KEY": "mg-signing-key"}
    settings.MEDIA_ROOT = tmp_path
    return settings


def post_postmark(client, payload, **extra):
    return client.post(
        "/anymail/postmark/inbound/", json.dumps(payload), content_type="application/json", **extra
    )


def test_postmark_inbound_opens_ticket_with_clean_body_and_attachments(client, webhooks, tmp_path):
    response = post_postmark(client, fixture("postmark_inbound.json"), **basic_auth())

    assert response.status_code == 200
    ticket = Ticket.objects.get()
    assert (ticket.channel, ticket.subject, ticket.customer.email) == (
        "email",
        "Where is my order?",
        "maya@example.com",
    )
    assert ticket.customer.name == "Maya Lopez"
    message = ticket.messages.get()
    assert message.body.startswith("Hi,\n\nMy order FL-2041")
    assert "Lopez Design Studio" not in message.body  # the "-- " signature is cut
    assert message.meta["message_id"] == "<CAFxY3b8kQ2mV0@mail.example.com>"
    pdf, exe = Attachment.objects.order_by("filename")
    assert (pdf.filename, pdf.skipped_reason) == ("receipt.pdf", "")
    assert Path(pdf.file.path).read_bytes().startswith(b"%PDF-1.4")
    assert str(tmp_path) in pdf.file.path
    assert exe.skipped_reason == "type application/x-msdownload is not allowed" and not exe.file
    event = InboundEvent.objects.get()
    assert (event.status, event.provider, event.ticket) == ("ticket_created", "postmark", ticket)


def test_oversized_attachment_is_recorded_as_skipped(client, webhooks):
    webhooks.EMAIL_ATTACHMENT_MAX_BYTES = 50
    post_postmark(client, fixture("postmark_inbound.json"), **basic_auth())

    pdf = Attachment.objects.get(filename="receipt.pdf")
    assert pdf.skipped_reason == "larger than 50 bytes" and not pdf.file


@pytest.mark.parametrize("auth", [{}, basic_auth("hook-user:wrong")])
def test_postmark_without_the_webhook_secret_is_rejected_and_stores_nothing(client, webhooks, auth):
    response = post_postmark(client, fixture("postmark_inbound.json"), **auth)

    assert response.status_code == 400
    assert not Ticket.objects.exists() and not InboundEvent.objects.exists()


def test_provider_retry_of_the_same_message_creates_nothing_twice(client, webhooks):
    payload = fixture("postmark_inbound.json")
    post_postmark(client, payload, **basic_auth())
    payload["MessageID"] = (
        "a-new-postmark-delivery-uuid"  # a retry is a new delivery of the same mail
    )
    post_postmark(client, payload, **basic_auth())

    assert Ticket.objects.count() == 1 and Message.objects.count() == 1
    assert list(InboundEvent.objects.order_by("id").values_list("status", flat=True)) == [
        "ticket_created",
        "duplicate",
    ]


def mailgun_form(key: str = "mg-signing-key") -> dict[str, str]:
    form = fixture("mailgun_inbound.json")
    digest = hmac.new(
        key.encode(), (form["timestamp"] + form["token"]).encode(), hashlib.sha256
    ).hexdigest()
    return {**form, "signature": digest}


def test_mailgun_signed_html_only_mail_becomes_safe_text(client, webhooks):
    response = client.post("/anymail/mailgun/inbound/", mailgun_form(), **basic_auth())

    assert response.status_code == 200
    message = Message.objects.get()
    assert message.body == "Hello,\n\nI reset my password twice & still can't log in.\n\nTom"
    assert message.ticket.customer.email == "tom@example.org"


def test_mailgun_with_a_wrong_signature_is_rejected_and_stores_nothing(client, webhooks):
    response = client.post(
        "/anymail/mailgun/inbound/", mailgun_form(key="not-the-key"), **basic_auth()
    )

    assert response.status_code == 400
    assert not Ticket.objects.exists() and not InboundEvent.objects.exists()


def test_sendgrid_reply_threads_by_ticket_number_in_subject(client, webhooks, customer):
    ticket, _, _ = ticket_receive(
        channel="email", customer=customer, subject="Where is my order?", body="Where is it?"
    )
    form = fixture("sendgrid_inbound.json")
    form["headers"] = form["headers"].replace("FL-100001", ticket.number)
    form["subject"] = form["subject"].replace("FL-100001", ticket.number)

    response = client.post("/anymail/sendgrid/inbound/", form, **basic_auth())

    assert response.status_code == 200
    assert Ticket.objects.count() == 1
    followup = ticket.messages.order_by("-id").first()
    assert followup.body == "It arrived today, thank you!"  # mobile signature and quote gone
    assert InboundEvent.objects.get().status == "followup"


def test_ticket_number_in_subject_from_a_stranger_opens_a_new_ticket(customer):
    ticket, _, _ = ticket_receive(channel="email", customer=customer, body="Where is it?")
    raw = (
        f"From: mallory@example.net\r\nTo: support@frontline.localhost\r\nSubject: Re: [{ticket.number}]\r\n"
        "Message-ID: <x1@example.net>\r\n\r\nPlease send the refund to my card instead.\r\n"
    ).encode()

    event = email_ingest_raw(raw=raw)

    assert event.status == "ticket_created" and event.ticket != ticket


def test_amazon_ses_sns_notification_opens_ticket(client, webhooks):
    payload = fixture("amazon_ses_inbound.json")
    response = client.post(
        "/anymail/amazon_ses/inbound/",
        json.dumps(payload),
        content_type="text/plain; charset=UTF-8",
        HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification",
        HTTP_X_AMZ_SNS_MESSAGE_ID=payload["MessageId"],
        **basic_auth(),
    )

    assert response.status_code == 200
    ticket = Ticket.objects.get()
    assert (ticket.subject, ticket.customer.email) == (
        "Refund for a damaged mug",
        "lena@example.net",
    )
    assert (
        ticket.messages.get().body
        == "The mug in order FL-2077 arrived broken. Can I get a refund?\n\nLena"
    )


def test_amazon_ses_without_basic_auth_is_challenged(client, webhooks):
    payload = fixture("amazon_ses_inbound.json")
    response = client.post(
        "/anymail/amazon_ses/inbound/",
        json.dumps(payload),
        content_type="text/plain",
        HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification",
        HTTP_X_AMZ_SNS_MESSAGE_ID=payload["MessageId"],
    )

    assert response.status_code == 401 and not Ticket.objects.exists()


def test_outbound_reply_threads_and_the_customer_answer_comes_back_to_the_ticket(webhooks, client):
    post_postmark(client, fixture("postmark_inbound.json"), **basic_auth())
    ticket = Ticket.objects.get()
    reply = message_post(
        ticket=ticket,
        author=Message.Author.AI,
        body="Your parcel seems lost. Shall I send a replacement?",
    )

    EmailOutbound().send(reply)

    sent = mail.outbox[-1]
    reply.refresh_from_db()
    assert sent.extra_headers["Message-ID"] == reply.meta["message_id"]
    assert sent.extra_headers["In-Reply-To"] == "<CAFxY3b8kQ2mV0@mail.example.com>"
    assert "<CAFxY3b8kQ2mV0@mail.example.com>" in sent.extra_headers["References"]
    assert sent.subject == f"Re: Where is my order? [{ticket.number}]"
    assert sent.message()["Message-ID"] == reply.meta["message_id"]

    answer = fixture("reply_gmail.eml").replace("{in_reply_to}", reply.meta["message_id"])
    answer = answer.replace("[FL-100001]", "")  # threading must come from In-Reply-To alone
    event = email_ingest_raw(raw=answer.encode())

    assert (event.status, event.ticket) == ("followup", ticket)
    assert event.message.body == "Yes, please go ahead and send a replacement."


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("auto_reply.eml", "auto-reply (Auto-Submitted: auto-replied)"),
        ("bounce.eml", "bounce (delivery status report)"),
    ],
)
def test_auto_replies_and_bounces_are_ignored_with_the_reason(db, name, reason):
    event = email_ingest_raw(raw=fixture(name).encode())

    assert (event.status, event.reason) == ("ignored", reason)
    assert not Ticket.objects.exists()


def test_precedence_bulk_and_noreply_senders_are_ignored(db):
    bulk = b"From: news@shop.example\r\nPrecedence: bulk\r\nMessage-ID: <b1@shop.example>\r\n\r\nSale!\r\n"
    noreply = b"From: noreply@shop.example\r\nMessage-ID: <n1@shop.example>\r\n\r\nYour receipt\r\n"

    assert email_ingest_raw(raw=bulk).reason == "auto-reply (Precedence: bulk)"
    assert email_ingest_raw(raw=noreply).reason == "automated sender (noreply)"
    assert not Ticket.objects.exists()


def test_a_sender_flooding_the_mailbox_is_cut_off_as_a_loop(db, settings):
    settings.EMAIL_LOOP_MAX_MESSAGES = 3
    events = [
        email_ingest_raw(
            raw=f"From: bot@example.org\r\nMessage-ID: <loop{i}@example.org>\r\n\r\nPing {i}\r\n".encode()
        )
        for i in range(5)
    ]

    assert [e.status for e in events] == ["ticket_created"] * 3 + ["ignored"] * 2
    assert events[-1].reason.startswith("mail loop: more than 3 messages")
    assert Ticket.objects.count() == 3


def test_our_own_message_coming_back_is_a_loop(customer):
    ticket, _, _ = ticket_receive(channel="email", customer=customer, body="Hello")
    message_post(
        ticket=ticket,
        author=Message.Author.AI,
        body="Hi!",
        meta={"message_id": "<ours.1@frontline.localhost>"},
    )
    raw = b"From: maya@example.com\r\nMessage-ID: <ours.1@frontline.localhost>\r\n\r\nHi!\r\n"

    event = email_ingest_raw(raw=raw)

    assert (event.status, event.reason) == ("ignored", "mail loop: the Message-ID is one we sent")
    assert ticket.messages.count() == 2


def test_reply_strip_removes_quotes_and_signatures():
    outlook = (
        "Thanks, that works.\n\n-----Original Message-----\nFrom: Support\nSent: Monday\n\nOld text"
    )
    outlook_rule = "Fine by me.\n\n________________________________\nFrom: Acme Support\nSent: 3 December 2026\nOld"
    inline = "Great.\n> quoted line\nSee you"
    mobile = "Ok!\n\nGet Outlook for iOS"

    assert reply_strip(outlook) == "Thanks, that works."
    assert reply_strip(outlook_rule) == "Fine by me."
    assert reply_strip(inline) == "Great.\nSee you"
    assert reply_strip(mobile) == "Ok!"
    assert reply_strip("> only a quote") == "> only a quote"  # never strips a message to nothing


def test_html_to_text_keeps_text_only():
    html = '<p>Hi &lt;b&gt;</p><img src=x onerror="alert(1)"><script>steal()</script><ul><li>one</li></ul>'

    assert html_to_text(html) == "Hi <b>\n\n- one"


def test_poll_imap_ingests_unseen_messages_and_marks_them_seen(db, settings, monkeypatch):
    import imaplib

    settings.IMAP_HOST, settings.IMAP_USER, settings.IMAP_PASSWORD = "imap.test", "support", "pw"
    mailbox = {
        b"7": b"From: Ana <ana@example.com>\r\nSubject: Hello\r\nMessage-ID: <imap7@example.com>\r\n\r\nIs the shop open?\r\n"
    }
    seen: list[bytes] = []

    class FakeIMAP:
        def __init__(self, host, port):
            assert (host, port) == ("imap.test", 993)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def login(self, user, password):
            assert (user, password) == ("support", "pw")

        def select(self, folder):
            assert folder == "INBOX"

        def uid(self, command, *args):
            if command == "search":
                return "OK", [b" ".join(uid for uid in mailbox if uid not in seen)]
            if command == "fetch":
                return "OK", [(b"7 (UID 7 BODY[] {90}", mailbox[args[0]]), b")"]
            seen.append(args[0])
            return "OK", []

    monkeypatch.setattr(imaplib, "IMAP4_SSL", FakeIMAP)

    call_command("poll_imap", "--once")
    call_command("poll_imap", "--once")

    ticket = Ticket.objects.get()
    assert (ticket.customer.email, ticket.messages.get().body) == (
        "ana@example.com",
        "Is the shop open?",
    )
    assert seen == [b"7"]
    assert InboundEvent.objects.get().provider == "imap"


def test_emailed_question_is_answered_by_email_in_the_same_thread(
    client, webhooks, triage_model, articles, django_capture_on_commit_callbacks
):
    payload = fixture("postmark_inbound.json")
    payload.update(
        Subject="Shipping time", TextBody="Hi, how long does shipping take?\n\nMaya", Attachments=[]
    )

    with django_capture_on_commit_callbacks(execute=True):
        post_postmark(client, payload, **basic_auth())

    ticket = Ticket.objects.get()
    assert ticket.status == Ticket.Status.ANSWERED
    sent = mail.outbox[-1]
    assert sent.to == ["maya@example.com"] and "business days" in sent.body
    assert sent.extra_headers["In-Reply-To"] == "<CAFxY3b8kQ2mV0@mail.example.com>"
