"""The chat widget's server side: allowed origins, per-connection limits, signed identity, and
the demo host page. The widget itself runs in a real browser in test_widget_browser.py."""

from __future__ import annotations

import asyncio
import hashlib
import hmac

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from channels_intake.consumers import RATE_LIMITED, rate_limit_parse
from channels_intake.models import ChatSession
from config.asgi import application
from tests.channels_intake.sockets import SITE, frames_until, hello, open_socket
from tickets.models import Message, Order, Ticket

SECRET = "widget-test-secret"
pytestmark = pytest.mark.usefixtures("close_consumer_connections")


def _sign(email: str, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), email.encode(), hashlib.sha256).hexdigest()


@pytest.mark.django_db(transaction=True)
@override_settings(CHAT_ALLOWED_ORIGINS=["https://shop.example.com", "https://.brand.example"])
async def test_only_the_configured_origins_may_open_the_socket():
    for origin, allowed in [
        ("https://shop.example.com", True),
        ("https://help.brand.example", True),
        ("http://shop.example.com", False),  # scheme is part of the origin
        ("https://evil.example", False),
        (SITE, False),  # the setting replaces the default of the site's own hosts
    ]:
        socket, connected = await open_socket(origin)
        assert connected is allowed, origin
        await socket.disconnect()
    socket = WebsocketCommunicator(application, "/ws/chat/")  # no Origin header at all
    assert not (await socket.connect())[0]


@pytest.mark.django_db(transaction=True)
async def test_by_default_the_sites_own_hosts_are_allowed():
    socket, connected = await open_socket(SITE)
    await socket.disconnect()
    assert connected
    socket, connected = await open_socket("https://shop.example.com")
    assert not connected


@pytest.mark.django_db(transaction=True)
@override_settings(CHAT_RATE_LIMIT="2/min")
async def test_too_many_messages_are_refused_with_a_clear_error_and_not_stored(no_pipeline):
    socket, _ = await hello()
    for text in ["one", "two"]:
        await socket.send_json_to({"type": "message", "text": text})
        assert (await socket.receive_json_from())["type"] == "typing"

    await socket.send_json_to({"type": "message", "text": "three"})
    assert await socket.receive_json_from() == {
        "type": "error",
        "error": RATE_LIMITED,
        "code": "rate_limited",
    }
    # A confirm answer is a message too.
    await socket.send_json_to({"type": "confirm", "answer": "yes"})
    assert (await socket.receive_json_from())["code"] == "rate_limited"
    await socket.disconnect()
    bodies = await database_sync_to_async(
        lambda: list(Message.objects.order_by("id").values_list("body", flat=True))
    )()
    assert bodies == ["one", "two"]


@pytest.mark.django_db(transaction=True)
@override_settings(CHAT_RATE_LIMIT="1/1s")
async def test_the_rate_limit_window_slides(no_pipeline):
    socket, _ = await hello()
    await socket.send_json_to({"type": "message", "text": "first"})
    assert (await socket.receive_json_from())["type"] == "typing"
    await socket.send_json_to({"type": "message", "text": "too soon"})
    assert (await socket.receive_json_from())["code"] == "rate_limited"
    await asyncio.sleep(1.1)
    await socket.send_json_to({"type": "message", "text": "later"})
    assert (await socket.receive_json_from())["type"] == "typing"
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
@override_settings(CHAT_MAX_MESSAGE_CHARS=50)
async def test_an_oversize_message_is_refused_and_the_socket_stays_usable(no_pipeline):
    socket, _ = await hello()
    await socket.send_json_to({"type": "message", "text": "x" * 51})
    frame = await socket.receive_json_from()
    assert frame["code"] == "too_long" and "50" in frame["error"]
    # A frame far past any legal message is refused before it is even parsed.
    await socket.send_to(text_data='{"type": "message", "text": "' + "y" * 5000 + '"}')
    assert (await socket.receive_json_from())["code"] == "too_long"

    await socket.send_json_to({"type": "message", "text": "x" * 50})
    assert (await socket.receive_json_from())["type"] == "typing"
    await socket.disconnect()
    assert await database_sync_to_async(Message.objects.count)() == 1


def test_rate_limits_are_read_like_20_per_minute():
    assert rate_limit_parse("20/min") == (20, 60.0)
    assert rate_limit_parse("5/10s") == (5, 10.0)
    assert rate_limit_parse("100 / hour") == (100, 3600.0)
    with pytest.raises(ValueError, match="CHAT_RATE_LIMIT"):
        rate_limit_parse("lots")


@pytest.mark.django_db(transaction=True)
@override_settings(CHAT_IDENTITY_SECRET=SECRET)
async def test_a_signed_identity_is_verified_and_acts_on_the_customers_orders(
    triage_model, articles, paid_order
):
    socket, session = await hello(
        email="maya@example.com", name="Maya", signature=_sign("maya@example.com")
    )
    assert session["verified"] is True

    await socket.send_json_to({"type": "message", "text": "please cancel order N-1042"})
    confirm = (await frames_until(socket, "confirm"))[-1]
    assert confirm["action"]["order"] == "N-1042"
    await socket.send_json_to({"type": "confirm", "answer": "yes"})
    done = (await frames_until(socket, "message"))[-1]
    await socket.disconnect()

    assert done["author"] == "ai"
    await paid_order.arefresh_from_db()
    assert paid_order.status == Order.Status.CANCELLED
    row = await database_sync_to_async(ChatSession.objects.select_related("customer").get)()
    assert row.verified and row.customer.email == "maya@example.com"
    first = await database_sync_to_async(Message.objects.filter(author="customer").first)()
    assert first.meta["verified"] is True and "claimed_email" not in first.meta


@pytest.mark.django_db(transaction=True)
@override_settings(CHAT_IDENTITY_SECRET=SECRET)
@pytest.mark.parametrize(
    "signature",
    [None, "", _sign("maya@example.com", secret="another-secret"), _sign("sam@example.com")],
    ids=["unsigned", "empty", "wrong-secret", "someone-elses"],
)
async def test_an_email_without_a_valid_signature_cannot_act_on_that_customers_orders(
    triage_model, articles, paid_order, signature
):
    fields = {"email": "maya@example.com", "name": "Maya"}
    if signature is not None:
        fields["signature"] = signature
    socket, session = await hello(**fields)
    assert session["verified"] is False

    await socket.send_json_to({"type": "message", "text": "please cancel order N-1042"})
    frames = await frames_until(socket, "message")
    await socket.send_json_to({"type": "confirm", "answer": "yes"})
    await frames_until(socket, "message", "error")
    await socket.disconnect()

    assert all(f["type"] != "confirm" for f in frames)
    await paid_order.arefresh_from_db()
    assert paid_order.status == Order.Status.PAID
    ticket = await database_sync_to_async(Ticket.objects.select_related("customer").get)()
    assert ticket.customer.email is None  # anonymous, not Maya
    first = await database_sync_to_async(Message.objects.filter(author="customer").first)()
    assert first.meta["claimed_email"] == "maya@example.com" and "verified" not in first.meta


@pytest.mark.django_db(transaction=True)
@override_settings(CHAT_IDENTITY_SECRET=SECRET)
async def test_another_signed_in_person_on_the_same_browser_gets_a_new_conversation(
    no_pipeline, customer, outsider
):
    socket, first = await hello(email=customer.email, signature=_sign(customer.email))
    await socket.send_json_to({"type": "message", "text": "hello"})
    await socket.receive_json_from()

    await socket.send_json_to(
        {"type": "hello", "session": first["session"], "email": outsider.email,
         "signature": _sign(outsider.email)}
    )
    second = await socket.receive_json_from()
    await socket.disconnect()
    assert second["session"] != first["session"] and second["ticket"] is None
    assert second["verified"] is True


@pytest.mark.django_db
def test_the_demo_page_embeds_the_widget_with_a_signed_identity(client, settings):
    settings.CHAT_IDENTITY_SECRET = SECRET
    html = client.get("/widget/demo/").content.decode()
    assert "/static/frontline/widget.js" in html
    assert 'data-frontline-host="testserver"' in html
    assert 'data-customer-email="maya@example.com"' in html
    assert f'data-customer-signature="{_sign("maya@example.com")}"' in html

    settings.CHAT_IDENTITY_SECRET = ""
    assert "data-customer-signature" not in client.get("/widget/demo/").content.decode()
