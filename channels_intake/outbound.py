"""How a reply leaves on the ticket's channel. Chat needs nothing more: open sockets are
notified through the channel layer and also poll the database, so a reply made in any
process reaches them."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage

from tickets.models import Message


class NullOutbound:
    def send(self, message: Message) -> None:
        return None


class ChatOutbound(NullOutbound):
    pass


class EmailOutbound:
    def send(self, message: Message) -> None:
        ticket = message.ticket
        if not ticket.customer.email:
            return
        subject = ticket.subject or "Your request"
        EmailMessage(
            subject=f"Re: {subject} [{ticket.number}]",
            body=message.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[ticket.customer.email],
        ).send()
