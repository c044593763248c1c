"""The live chat socket, driven like a browser through the real ASGI application."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.db import connection
from django.test import override_settings

from channels_intake.models import ChatSession
from config.asgi import application
from tests.channels_intake.sockets import PIPELINE_SECONDS, frames_until, hello, open_socket
from tests.conftest import ROOT
from tickets import services as ticket_services
from tickets.models import Message, Order, Ticket

pytestmark = pytest.mark.usefixtures("close_consumer_connections")


@pytest.mark.django_db(transaction=True)
async def test_a_question_is_answered_with_a_cited_article(triage_model, articles):
    socket, session = await hello()
    assert session["ticket"] is None and session["session"]

    await socket.send_json_to({"type": "message", "text": "how long does shipping take?"})
    assert await socket.receive_json_from(timeout=PIPELINE_SECONDS) == {
        "type": "typing",
        "author": "ai",
    }
    reply = await socket.receive_json_from(timeout=PIPELINE_SECONDS)
    await socket.disconnect()

    assert reply["type"] == "message" and reply["author"] == "ai"
    assert "business days" in reply["text"]
    ticket = await database_sync_to_async(Ticket.objects.get)(number=reply["ticket"])
    assert ticket.channel == "chat" and ticket.status == Ticket.Status.ANSWERED
    stored = await database_sync_to_async(ticket.messages.get)(author=Message.Author.AI)
    assert stored.meta["citations"][0]["article"].startswith("shipping")
    first = await database_sync_to_async(ticket.messages.get)(author=Message.Author.CUSTOMER)
    assert first.meta["chat_session"] == session["session"]


@pytest.mark.django_db(transaction=True)
async def test_cancel_is_confirmed_in_plain_words_then_executed(triage_model, articles, paid_order):
    socket, _ = await hello(email="Maya@Example.com")

    await socket.send_json_to({"type": "message", "text": "please cancel order N-1042"})
    frames = await frames_until(socket, "confirm")
    confirm = frames[-1]
    assert "N-1042" in confirm["text"] and "34.99" in confirm["text"]
    assert confirm["action"]["order"] == "N-1042" and confirm["action"]["amount"] == "34.99"
    # The question is also a plain message, so any transcript shows it.
    assert frames[-2] == {
        "type": "message",
        "author": "ai",
        "text": confirm["text"],
        "ticket": frames[-2]["ticket"],
    }
    await paid_order.arefresh_from_db()
    assert paid_order.status == Order.Status.PAID

    await socket.send_json_to({"type": "message", "text": "yes"})
    done = (await frames_until(socket, "message"))[-1]
    await socket.disconnect()

    assert done["author"] == "ai" and "cancel" in done["text"].lower()
    await paid_order.arefresh_from_db()
    assert paid_order.status == Order.Status.CANCELLED


@pytest.mark.django_db(transaction=True)
async def test_the_no_button_cancels_nothing(triage_model, articles, paid_order):
    socket, _ = await hello(email="maya@example.com")
    await socket.send_json_to({"type": "message", "text": "please cancel order N-1042"})
    await frames_until(socket, "confirm")

    await socket.send_json_to({"type": "confirm", "answer": "no"})
    answer = (await frames_until(socket, "message"))[-1]
    await socket.disconnect()

    assert answer["author"] == "ai"
    await paid_order.arefresh_from_db()
    assert paid_order.status == Order.Status.PAID
    stored = await database_sync_to_async(Message.objects.get)(
        author=Message.Author.CUSTOMER, body="no"
    )
    assert stored.meta["confirm_answer"] == "no"
    action = await database_sync_to_async(lambda: Ticket.objects.get().actions.get())()
    assert action.status == "declined"


@pytest.mark.django_db(transaction=True)
async def test_reconnecting_resumes_the_ticket_and_replays_the_transcript(no_pipeline):
    socket, first = await hello()
    await socket.send_json_to({"type": "message", "text": "where is my parcel?"})
    await socket.receive_json_from()
    ticket = await database_sync_to_async(Ticket.objects.get)()
    await database_sync_to_async(Message.objects.create)(
        ticket=ticket, author=Message.Author.AI, body="It left today."
    )
    assert (await socket.receive_json_from(timeout=2))["text"] == "It left today."
    await socket.disconnect()

    socket, resumed = await hello(session=first["session"])
    replay = [await socket.receive_json_from(), await socket.receive_json_from()]
    assert resumed == {
        "type": "session",
        "session": first["session"],
        "ticket": ticket.number,
        "verified": False,
    }
    assert [(f["type"], f["author"], f["text"]) for f in replay] == [
        ("message", "customer", "where is my parcel?"),
        ("message", "ai", "It left today."),
    ]
    assert await socket.receive_nothing(timeout=0.5)
    # Any hello is answered with the whole transcript, so a page can always rebuild from it.
    await socket.send_json_to({"type": "hello", "session": first["session"]})
    assert [await socket.receive_json_from() for _ in range(3)] == [resumed, *replay]

    await socket.send_json_to({"type": "message", "text": "thanks!"})
    assert (await socket.receive_json_from())["type"] == "typing"
    await socket.disconnect()
    assert (
        await database_sync_to_async(ticket.messages.filter(author=Message.Author.CUSTOMER).count)()
        == 2
    )
    assert await database_sync_to_async(Ticket.objects.count)() == 1


@pytest.mark.django_db(transaction=True)
async def test_an_unknown_session_token_starts_a_new_conversation(no_pipeline):
    socket, session = await hello(session="no-such-token")
    await socket.disconnect()
    assert session["session"] != "no-such-token" and session["ticket"] is None
    assert await database_sync_to_async(
        ChatSession.objects.filter(token=session["session"]).exists
    )()


@pytest.mark.django_db(transaction=True)
@override_settings(CHAT_POLL_SECONDS=0.2)
async def test_a_reply_written_by_another_process_arrives_by_polling(no_pipeline):
    """On the in-memory layer another process cannot notify us: the row itself must be found."""
    socket, _ = await hello()
    await socket.send_json_to({"type": "message", "text": "is anyone there?"})
    assert (await socket.receive_json_from())["type"] == "typing"
    ticket = await database_sync_to_async(Ticket.objects.get)()

    # Written straight to the table, as a worker process would: no group_send reaches us.
    await database_sync_to_async(Message.objects.create)(
        ticket=ticket, author=Message.Author.AGENT, body="Yes, Jo here."
    )
    frame = await socket.receive_json_from(timeout=2)
    assert frame == {
        "type": "message",
        "author": "agent",
        "text": "Yes, Jo here.",
        "ticket": ticket.number,
    }
    assert await socket.receive_nothing(timeout=0.6)  # several polls later, still sent once
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_an_agent_reply_in_this_process_arrives_once(no_pipeline, agent_user):
    """Group event and poll both see the reply; the customer sees it once."""
    socket, _ = await hello()
    await socket.send_json_to({"type": "message", "text": "my parcel is lost"})
    await socket.receive_json_from()
    ticket = await database_sync_to_async(Ticket.objects.get)()

    await database_sync_to_async(ticket_services.ticket_reply_agent)(
        ticket=ticket, agent=agent_user, body="Checking now."
    )
    frame = await socket.receive_json_from(timeout=2)
    assert (frame["author"], frame["text"]) == ("agent", "Checking now.")
    assert await socket.receive_nothing(timeout=1)
    await socket.disconnect()


def _redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis at {url} is unreachable: {exc}")
    return url


@pytest.fixture
def redis_layer():
    """This process's chat consumer on channels_redis, with polling off: only Redis can deliver."""
    url = _redis_url()
    prefix = f"fltest{uuid.uuid4().hex[:8]}"  # other test runs may share the Redis database
    layers = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [url], "prefix": prefix},
        }
    }
    channel_layers.backends.clear()
    with override_settings(CHANNEL_LAYERS=layers, CHAT_POLL_SECONDS=0):
        yield url, prefix
    channel_layers.backends.clear()


AGENT_REPLY = textwrap.dedent(
    """
    import sys
    from django.conf import settings
    settings.DATABASES["default"]["NAME"] = sys.argv[1]  # the test database
    import django
    django.setup()
    from django.contrib.auth.models import User
    from tickets.models import Ticket
    from tickets.services import ticket_reply_agent
    ticket_reply_agent(ticket=Ticket.objects.get(number=sys.argv[2]), agent=User.objects.get(username="agent"), body=sys.argv[3])
    """
)


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
async def test_an_agent_replying_from_another_process_reaches_the_chat_through_redis(
    redis_layer, no_pipeline, agent_user
):
    url, prefix = redis_layer
    socket, _ = await hello()
    await socket.send_json_to({"type": "message", "text": "I need a human please"})
    await socket.receive_json_from()
    ticket = await database_sync_to_async(Ticket.objects.get)()

    env = {
        **os.environ,
        "REDIS_URL": url,
        "CHANNELS_PREFIX": prefix,
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    done = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-c",
            AGENT_REPLY,
            connection.settings_dict["NAME"],
            ticket.number,
            "Hi, Jo from support.",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    frame = await socket.receive_json_from(timeout=2)
    await socket.disconnect()
    assert (frame["author"], frame["text"], frame["ticket"]) == (
        "agent",
        "Hi, Jo from support.",
        ticket.number,
    )


@pytest.mark.django_db(transaction=True)
async def test_malformed_frames_get_an_error_and_the_socket_stays_usable(no_pipeline):
    socket, connected = await open_socket()
    assert connected
    for bad in ["not json", "[1, 2]"]:
        await socket.send_to(text_data=bad)
        assert (await socket.receive_json_from())["type"] == "error"
    await socket.send_json_to({"type": "message", "text": "before hello"})
    assert "hello" in (await socket.receive_json_from())["error"]

    await socket.send_json_to({"type": "hello", "email": "not-an-email"})
    assert "email" in (await socket.receive_json_from())["error"]
    await socket.send_json_to({"type": "hello"})
    assert (await socket.receive_json_from())["type"] == "session"
    for bad in [
        {"type": "shout", "text": "hi"},
        {"type": "message", "text": "   "},
        {"type": "message", "text": "x" * (ticket_services.MAX_BODY_CHARS + 1)},
        {"type": "message", "text": 42},
        {"type": "confirm", "answer": "maybe"},
    ]:
        await socket.send_json_to(bad)
        frame = await socket.receive_json_from()
        assert frame["type"] == "error" and frame["error"], bad
    assert not await database_sync_to_async(Message.objects.exists)()

    await socket.send_json_to({"type": "typing"})
    await socket.send_json_to({"type": "message", "text": "still there?"})
    assert await socket.receive_json_from() == {"type": "typing", "author": "ai"}
    await socket.disconnect()
    assert await database_sync_to_async(Message.objects.filter(body="still there?").exists)()


@pytest.mark.django_db(transaction=True)
async def test_a_socket_from_a_foreign_origin_is_refused():
    socket = WebsocketCommunicator(
        application, "/ws/chat/", headers=[(b"origin", b"http://evil.example")]
    )
    connected, _ = await socket.connect()
    assert not connected
