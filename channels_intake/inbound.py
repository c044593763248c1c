"""The provider channels' side of intake: every delivery is logged once in InboundEvent and its
message goes through `tickets.services.ticket_receive`, the only door into the queue.

Email, SMS and social adapters parse their payloads, then call `inbound_accept` or
`inbound_ignore`. A provider retrying a delivery (same external id) is logged as a duplicate
and stores nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from channels_intake.models import InboundEvent
from tickets.models import Customer, Ticket
from tickets.services import ticket_receive

DONE_STATES = [
    InboundEvent.Status.TICKET_CREATED,
    InboundEvent.Status.FOLLOWUP,
    InboundEvent.Status.IGNORED,
]


@dataclass
class Inbound:
    """One parsed inbound customer message, whatever the provider."""

    channel: str
    provider: str
    external_id: str
    sender: str
    body: str
    subject: str = ""
    customer: Customer | None = None
    email: str | None = None
    name: str = ""
    phone: str = ""
    ticket: Ticket | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def inbound_seen(*, channel: str, external_id: str) -> InboundEvent | None:
    """The delivery that already handled this external id, if any."""
    if not external_id:
        return None
    return InboundEvent.objects.filter(
        channel=channel, external_id=external_id, status__in=DONE_STATES
    ).first()


def inbound_duplicate(
    *, channel: str, provider: str, external_id: str, sender: str = ""
) -> InboundEvent:
    first = inbound_seen(channel=channel, external_id=external_id)
    return InboundEvent.objects.create(
        channel=channel,
        provider=provider,
        external_id=external_id,
        sender=sender[:255],
        status=InboundEvent.Status.DUPLICATE,
        reason="provider retry of an event already handled",
        ticket=first.ticket if first else None,
        message=first.message if first else None,
    )


def inbound_ignore(
    *,
    channel: str,
    provider: str,
    external_id: str,
    sender: str,
    reason: str,
    detail: dict[str, Any] | None = None,
) -> InboundEvent:
    """Record a delivery intake chose not to turn into a message, and why."""
    if inbound_seen(channel=channel, external_id=external_id):
        return inbound_duplicate(
            channel=channel, provider=provider, external_id=external_id, sender=sender
        )
    try:
        with transaction.atomic():
            return InboundEvent.objects.create(
                channel=channel,
                provider=provider,
                external_id=external_id[:255],
                sender=sender[:255],
                status=InboundEvent.Status.IGNORED,
                reason=reason[:255],
                detail=detail or {},
            )
    except IntegrityError:  # a concurrent retry logged it first
        return inbound_duplicate(
            channel=channel, provider=provider, external_id=external_id, sender=sender
        )


def inbound_accept(*, inbound: Inbound) -> InboundEvent:
    """Store the message through `ticket_receive` and log the delivery, in one transaction.

    The log row is inserted first under a unique constraint on (channel, external_id), so two
    concurrent deliveries of the same event cannot both create a message. An invalid message
    (empty body, too long) is logged as failed, not raised: the provider must not retry it.
    """
    if inbound_seen(channel=inbound.channel, external_id=inbound.external_id):
        return inbound_duplicate(
            channel=inbound.channel,
            provider=inbound.provider,
            external_id=inbound.external_id,
            sender=inbound.sender,
        )
    try:
        with transaction.atomic():
            event = InboundEvent.objects.create(
                channel=inbound.channel,
                provider=inbound.provider,
                external_id=inbound.external_id[:255],
                sender=inbound.sender[:255],
            )
            ticket, message, created = ticket_receive(
                channel=inbound.channel,
                body=inbound.body,
                customer=inbound.customer,
                email=inbound.email,
                name=inbound.name,
                phone=inbound.phone,
                subject=inbound.subject,
                ticket=inbound.ticket,
                meta=inbound.meta,
            )
            event.status = (
                InboundEvent.Status.TICKET_CREATED if created else InboundEvent.Status.FOLLOWUP
            )
            event.ticket, event.message = ticket, message
            event.save(update_fields=["status", "ticket", "message"])
            return event
    except IntegrityError:
        return inbound_duplicate(
            channel=inbound.channel,
            provider=inbound.provider,
            external_id=inbound.external_id,
            sender=inbound.sender,
        )
    except ValidationError as exc:
        reason = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
        return InboundEvent.objects.create(
            channel=inbound.channel,
            provider=inbound.provider,
            external_id=inbound.external_id[:255],
            sender=inbound.sender[:255],
            status=InboundEvent.Status.FAILED,
            reason=reason[:255],
        )
