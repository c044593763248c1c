"""Live chat sessions: who is talking, which ticket the conversation feeds, what to replay.

The chat consumer calls these through `database_sync_to_async`; every customer message still
enters through `tickets.services.ticket_receive`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from channels_intake.identity import identity_verify
from channels_intake.models import ChatSession
from tickets.models import Message, Ticket
from tickets.services import customer_resolve, ticket_receive

OUTBOUND_AUTHORS = (Message.Author.AI, Message.Author.AGENT, Message.Author.SYSTEM)
# A reply's id is taken at insert but becomes visible at commit, so a lower id can appear after
# a higher one was delivered (two workers on one ticket, or an agent beside the AI). Messages
# this young are re-read even below the delivered id; it must exceed the longest stage
# transaction (the task timeout).
LATE_COMMIT_SECONDS = 180


def chat_session_start(
    *,
    token: str | None = None,
    email: str | None = None,
    name: str = "",
    signature: str | None = None,
) -> tuple[ChatSession, str]:
    """Resume the session with this token, or open a new one (also for an unknown token).

    An email or name identifies the customer, but only until the conversation has a ticket:
    after that, the ticket's customer is who the session speaks for. With CHAT_IDENTITY_SECRET
    set, an email counts only with its valid signature (the session is then `verified`); an
    unsigned one is returned as the second value, the claimed email, for the record only.
    A signed identity that is not the customer of the session's ticket opens a new session, so
    one browser shared by two signed-in people never mixes their conversations. Raises
    ValidationError on a malformed email.
    """
    email = (email or "").strip().lower()
    name = (name or "").strip()[:200]
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise ValidationError({"email": "That email address does not look right."}) from None
    claimed = ""
    verified = bool(email) and identity_verify(email=email, signature=signature or "")
    if email and settings.CHAT_IDENTITY_SECRET and not verified:
        claimed, email = email, ""
    with transaction.atomic():
        session = None
        if token:
            session = (
                ChatSession.objects.select_for_update(of=("self",))
                .select_related("ticket", "customer")
                .filter(token=token)
                .first()
            )
        if session is not None and verified and session.ticket_id is not None:
            if session.customer is None or session.customer.email != email:
                session = None
        if session is None:
            session = ChatSession.objects.create()
        if session.ticket_id is None and (email or name):
            known = session.customer
            if email and (known is None or known.email != email):
                session.customer = customer_resolve(email=email, name=name)
                session.verified = verified
            elif email and verified:
                session.verified = True
            elif known is None:
                session.customer = customer_resolve(name=name)
        session.save()
    return session, claimed


def chat_message_receive(
    *, session: ChatSession, text: str, meta: dict[str, Any] | None = None
) -> tuple[Ticket, Message, bool]:
    """Take one customer message from the chat into intake.

    The first message opens the session's ticket (with an anonymous customer when the session
    never said who it is); later ones are follow-ups on it. Returns ticket_receive's
    (ticket, message, created). Raises ValidationError on an empty or too long text.
    """
    if not isinstance(text, str):
        raise ValidationError({"text": "The message must be text."})
    with transaction.atomic():
        # Locked so two tabs on one session cannot both open a ticket.
        session = (
            ChatSession.objects.select_for_update(of=("self",))
            .select_related("customer", "ticket")
            .get(pk=session.pk)
        )
        meta = {"chat_session": session.token, **(meta or {})}
        if session.verified:
            meta["verified"] = True
        if session.ticket is not None:
            ticket, message, created = ticket_receive(
                channel="chat", body=text, ticket=session.ticket, meta=meta
            )
        else:
            customer = session.customer or customer_resolve()
            ticket, message, created = ticket_receive(
                channel="chat", body=text, customer=customer, meta=meta
            )
            session.customer, session.ticket = customer, ticket
        session.save()
    return ticket, message, created


def chat_messages_since(
    *, ticket_id: int, after_id: int = 0, include_customer: bool = False
) -> list[Message]:
    """The ticket's messages after `after_id`, oldest first, plus recent ones that may have
    committed late (see LATE_COMMIT_SECONDS): the caller skips those it already sent."""
    recent = timezone.now() - dt.timedelta(seconds=LATE_COMMIT_SECONDS)
    messages = Message.objects.filter(ticket_id=ticket_id).filter(
        Q(id__gt=after_id) | Q(created_at__gte=recent)
    )
    if not include_customer:
        messages = messages.filter(author__in=OUTBOUND_AUTHORS)
    # AI drafts wait for an agent's approval (knowledge.services_drafts); the customer never sees them.
    # has_key too: a message without "kind" would otherwise compare as NULL and be excluded.
    messages = messages.exclude(meta__has_key="kind", meta__kind="draft")
    return list(messages.select_related("ticket").order_by("id"))


def message_frames(message: Message) -> list[dict[str, Any]]:
    """The chat protocol frames (DESIGN 5, live chat) one stored message becomes.

    A confirmation is sent as a message, so every transcript and simple client shows it, then
    as a confirm frame carrying the action for the Yes/No buttons.
    """
    frames: list[dict[str, Any]] = [
        {
            "type": "message",
            "author": message.author,
            "text": message.body,
            "ticket": message.ticket.number,
        }
    ]
    meta = message.meta or {}
    if message.author == Message.Author.AI and meta.get("kind") == "confirm":
        frames.append({"type": "confirm", "action": meta.get("action") or {}, "text": message.body})
    return frames
