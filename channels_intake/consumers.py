"""The live chat socket (DESIGN 5, live chat): frames in, services called, replies out.

Replies are produced anywhere — the AI in a django-q2 worker, an agent in the admin of another
web process — so this consumer learns about them two ways: a `ticket.changed` event on the
ticket's group (instant with Redis), and a poll of the database every CHAT_POLL_SECONDS, which
is the only way across processes on the in-memory layer. Both end in `_deliver_new`, which
sends each stored message once per connection.

Each connection is limited to CHAT_RATE_LIMIT customer messages and CHAT_MAX_MESSAGE_CHARS
characters a message; a refused message gets an error frame with a `code` ("rate_limited",
"too_long") so the widget can hand the text back to the customer instead of losing it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import deque
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.core.exceptions import ValidationError

from channels_intake import selectors, services
from channels_intake.models import ChatSession
from tickets.services import chat_group

log = logging.getLogger(__name__)

RATE_LIMITED = "You're sending messages too quickly — please wait a few seconds."
RATE_PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}
# JSON escaping can make a frame several times longer than its text (a "\u00e9" per character).
FRAME_OVERHEAD_FACTOR, FRAME_OVERHEAD_CHARS = 6, 1024


class ChatConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.session: ChatSession | None = None
        self.ticket_id: int | None = None
        self.last_delivered_id = 0
        self.delivered: set[int] = set()
        # The poll task, group events and the customer's own frames all deliver; the lock keeps
        # two of them from sending the same message.
        self.delivery_lock = asyncio.Lock()
        self.poll_task: asyncio.Task | None = None
        self.limit, self.period = rate_limit_parse(settings.CHAT_RATE_LIMIT)
        self.accepted_at: deque[float] = deque()  # monotonic times of accepted messages
        # An email the page gave without a valid signature: noted on messages, never trusted.
        self.claimed_email = ""
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.poll_task is not None:
            self.poll_task.cancel()
        if self.ticket_id is not None:
            await self.channel_layer.group_discard(chat_group(self.ticket_id), self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        max_frame = settings.CHAT_MAX_MESSAGE_CHARS * FRAME_OVERHEAD_FACTOR + FRAME_OVERHEAD_CHARS
        if text_data is not None and len(text_data) > max_frame:
            await self._too_long()  # not even parsed
            return
        try:
            content = json.loads(text_data) if text_data is not None else None
        except ValueError:
            content = None
        if not isinstance(content, dict):
            await self._error(
                'Frames must be JSON objects, like {"type": "message", "text": "..."}.'
            )
            return
        await self.receive_json(content)

    async def receive_json(self, content: dict[str, Any], **kwargs: Any) -> None:
        kind = content.get("type")
        if kind == "hello":
            await self._hello(content)
        elif kind == "typing":
            return  # accepted from the widget; nobody watches the customer type yet
        elif self.session is None:
            await self._error('Say {"type": "hello"} first.')
        elif kind == "message":
            await self._customer_message(content.get("text"), meta=None)
        elif kind == "confirm":
            answer = content.get("answer")
            if answer not in ("yes", "no"):
                await self._error('A confirm answer is "yes" or "no".')
                return
            await self._customer_message(answer, meta={"confirm_answer": answer})
        else:
            await self._error(f"Unknown frame type {kind!r}.")

    async def ticket_changed(self, event: dict[str, Any]) -> None:
        await self._deliver_new()

    async def _hello(self, content: dict[str, Any]) -> None:
        token = content.get("session") or (self.session.token if self.session else None)
        try:
            session, self.claimed_email = await database_sync_to_async(
                services.chat_session_start
            )(
                token=_text(token),
                email=_text(content.get("email")),
                name=_text(content.get("name")),
                signature=_text(content.get("signature")),
            )
        except ValidationError as exc:
            await self._error(_first_error(exc))
            return
        async with self.delivery_lock:
            if self.ticket_id is not None and self.ticket_id != session.ticket_id:
                await self.channel_layer.group_discard(
                    chat_group(self.ticket_id), self.channel_name
                )
                self.ticket_id = None
            self.session = session
            # Every session frame is followed by the whole transcript, so a page can always
            # rebuild from it (a reload, a reconnect, a hello that updates who the customer is).
            self.delivered, self.last_delivered_id = set(), 0
            await self.send_json(
                {
                    "type": "session",
                    "session": session.token,
                    "ticket": session.ticket.number if session.ticket else None,
                    "verified": session.verified,
                }
            )
            if session.ticket_id is not None:
                await self._follow(session.ticket_id)
                await self._send_new(include_customer=True)
        if self.poll_task is None and settings.CHAT_POLL_SECONDS > 0:
            self.poll_task = asyncio.create_task(self._poll(settings.CHAT_POLL_SECONDS))

    async def _customer_message(self, text: Any, *, meta: dict[str, Any] | None) -> None:
        assert self.session is not None
        if isinstance(text, str) and len(text) > settings.CHAT_MAX_MESSAGE_CHARS:
            await self._too_long()
            return
        if not self._rate_allows():
            await self._error(RATE_LIMITED, code="rate_limited")
            return
        if self.claimed_email:
            meta = {**(meta or {}), "claimed_email": self.claimed_email}
        try:
            ticket, message, _ = await database_sync_to_async(services.chat_message_receive)(
                session=self.session, text=text, meta=meta
            )
        except ValidationError as exc:
            await self._error(_first_error(exc))
            return
        self.accepted_at.append(time.monotonic())
        # The customer's page already shows what they typed; only a replay sends it back.
        self.delivered.add(message.pk)
        await self.send_json({"type": "typing", "author": "ai"})
        if self.ticket_id != ticket.pk:
            await self._follow(ticket.pk)
        # The pipeline may have answered before we joined the group (it runs inline in tests).
        await self._deliver_new()

    async def _follow(self, ticket_id: int) -> None:
        self.ticket_id = ticket_id
        await self.channel_layer.group_add(chat_group(ticket_id), self.channel_name)

    async def _deliver_new(self) -> None:
        async with self.delivery_lock:
            await self._send_new()

    async def _send_new(self, *, include_customer: bool = False) -> None:
        """Send the ticket's messages this connection has not sent yet; hold delivery_lock."""
        if self.ticket_id is None:
            return
        messages = await database_sync_to_async(selectors.chat_messages_since)(
            ticket_id=self.ticket_id,
            after_id=self.last_delivered_id,
            include_customer=include_customer,
        )
        for message in messages:
            if message.pk in self.delivered:
                continue
            for frame in selectors.message_frames(message):
                await self.send_json(frame)
            self.delivered.add(message.pk)
            self.last_delivered_id = max(self.last_delivered_id, message.pk)

    async def _poll(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self._deliver_new()
            except Exception:
                # A database hiccup must not end the conversation; the next tick retries.
                log.warning("chat poll failed for ticket %s", self.ticket_id, exc_info=True)

    def _rate_allows(self) -> bool:
        """Sliding window over accepted messages: refused ones do not count, so a customer who
        waits is never locked out by their own retries."""
        now = time.monotonic()
        while self.accepted_at and now - self.accepted_at[0] >= self.period:
            self.accepted_at.popleft()
        return len(self.accepted_at) < self.limit

    async def _too_long(self) -> None:
        limit = settings.CHAT_MAX_MESSAGE_CHARS
        await self._error(
            f"That message is too long — please keep it under {limit:,} characters.",
            code="too_long",
        )

    async def _error(self, error: str, *, code: str | None = None) -> None:
        frame = {"type": "error", "error": error}
        if code:
            frame["code"] = code
        await self.send_json(frame)


def rate_limit_parse(value: str) -> tuple[int, float]:
    """ "20/min" -> (20, 60.0): how many messages per how many seconds ("5/10s" also works)."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d*)\s*([a-z]+)\s*", value.lower())
    if not match or match[3] not in RATE_PERIODS:
        raise ValueError(f'CHAT_RATE_LIMIT must look like "20/min" or "5/10s", not {value!r}.')
    return int(match[1]), int(match[2] or 1) * float(RATE_PERIODS[match[3]])


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _first_error(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return next(iter(exc.message_dict.values()))[0]
    return exc.messages[0]
