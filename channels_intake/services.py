"""Live chat sessions: who is talking, which ticket the conversation feeds, what to replay.

The chat consumer calls these through `database_sync_to_async`; every customer message still
enters through `tickets.services.ticket_receive`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from channels_intake.identity import identity_verify
from channels_intake.models import ChatSession
from tickets.models import Message, Ticket
from tickets.services import customer_resolve, ticket_receive


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
