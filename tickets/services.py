"""Writes on the shared schema. `ticket_receive` is the only door into the queue."""

from __future__ import annotations

import logging
import re
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from tickets.models import Channel, Customer, Message, Ticket, TicketEvent, TrainingExample
from tickets.webhooks import webhooks_emit

log = logging.getLogger(__name__)

MAX_BODY_CHARS = 20_000
CLOSED_STATES = {Ticket.Status.RESOLVED, Ticket.Status.CLOSED}


def chat_group(ticket_id: int) -> str:
    return f"ticket.{ticket_id}"


def customer_resolve(*, email: str | None = None, name: str = "", phone: str = "") -> Customer:
    """Find the customer by email, then phone, or create one. Never overwrites a known name."""
    email = (email or "").strip().lower() or None
    phone = re.sub(r"[^\d+]", "", phone or "")
    customer = None
    if email:
        customer = Customer.objects.filter(email=email).first()
    if customer is None and phone:
        customer = Customer.objects.filter(phone=phone).first()
    if customer is None:
        try:
            with transaction.atomic():
                customer = Customer.objects.create(email=email, name=name[:200], phone=phone)
        except IntegrityError:  # a concurrent request created the same email first
            customer = Customer.objects.get(email=email)
    elif (name and not customer.name) or (phone and not customer.phone):
        customer.name = customer.name or name[:200]
        customer.phone = customer.phone or phone
        customer.save(update_fields=["name", "phone"])
    return customer


def ticket_receive(
    *,
    channel: str,
    body: str,
    customer: Customer | None = None,
    email: str | None = None,
    name: str = "",
    phone: str = "",
    subject: str = "",
    external_id: str | None = None,
    ticket: Ticket | None = None,
    meta: dict[str, Any] | None = None,
) -> tuple[Ticket, Message, bool]:
    """Persist one inbound customer message, then enqueue the pipeline after commit.

    Opens a new ticket unless `ticket` is given (a follow-up). Resending an `external_id`
    returns the ticket it created before and stores nothing new. Returns
    (ticket, message, created) where created says whether a new ticket was opened.
    """
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "The message is empty."})
    if len(body) > MAX_BODY_CHARS:
        raise ValidationError({"body": f"The message is longer than {MAX_BODY_CHARS} characters."})
    if channel not in Channel.values:
        raise ValidationError({"channel": f"Unknown channel {channel!r}."})
    if external_id:
        existing = Ticket.objects.filter(external_id=external_id).first()
        if existing is not None:
            return existing, existing.messages.filter(author=Message.Author.CUSTOMER).first(), False

    with transaction.atomic():
        created = ticket is None
        if created:
            customer = customer or customer_resolve(email=email, name=name, phone=phone)
            try:
                with transaction.atomic():
                    ticket = Ticket.objects.create(
                        channel=channel,
                        customer=customer,
                        subject=(subject or body)[:255],
                        external_id=external_id or None,
                    )
            except IntegrityError:
                if not external_id:
                    raise
                # A concurrent retry with the same external_id committed between our check
                # and our insert; the unique constraint caught it, so answer with its ticket.
                existing = Ticket.objects.get(external_id=external_id)
                return existing, existing.messages.filter(author=Message.Author.CUSTOMER).first(), False
            ticket.number = f"FL-{100000 + ticket.pk}"
            ticket.save(update_fields=["number"])
            _event(ticket, stage="intake", outcome="received", detail={"channel": channel})
            webhooks_emit(event="ticket.created", ticket=ticket)
        else:
            ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
            if ticket.status in CLOSED_STATES:
                ticket.status = Ticket.Status.REOPENED
                ticket.resolved_at = None
                ticket.save(update_fields=["status", "resolved_at", "updated_at"])
                _event(ticket, stage="intake", outcome="reopened")
        message = Message.objects.create(
            ticket=ticket,
            author=Message.Author.CUSTOMER,
            body=body,
            meta=meta or {},
            pipeline=Message.Pipeline.PENDING,
        )
        webhooks_emit(event="message.created", ticket=ticket, message=message)
        transaction.on_commit(lambda: pipeline_enqueue(message_id=message.pk))
    return ticket, message, created


def pipeline_enqueue(*, message_id: int) -> None:
    """Hand a message to the background pipeline. A failure here is picked up by the sweeper."""
    from django_q.tasks import async_task

    try:
        async_task("tickets.tasks.run_pipeline", message_id, task_name=f"pipeline-{message_id}")
    except Exception:
        log.exception("could not enqueue message %s; the sweeper will retry", message_id)


def message_post(
    *,
    ticket: Ticket,
    author: str,
    body: str,
    in_reply_to: Message | None = None,
    agent=None,
    meta: dict[str, Any] | None = None,
    deliver: bool = True,
) -> Message:
    """Store an outbound (ai / agent / system) message and deliver it on the ticket's channel after commit.

    `deliver=False` stores it for agents only (an AI draft awaiting approval): it never leaves.
    """
    message = Message.objects.create(
        ticket=ticket, author=author, body=body, in_reply_to=in_reply_to, agent=agent, meta=meta or {}
    )
    if deliver:
        webhooks_emit(event="message.created", ticket=ticket, message=message)
        transaction.on_commit(lambda: message_deliver(message_id=message.pk))
    return message


def message_deliver(*, message_id: int) -> None:
    """Push a stored message to open chats and to the ticket's channel adapter."""
    message = Message.objects.select_related("ticket__customer").get(pk=message_id)
    ticket_notify(ticket_id=message.ticket_id, kind="message", message_id=message.pk)
    path = settings.FRONTLINE_OUTBOUND.get(message.ticket.channel)
    if not path:
        return
    try:
        import_string(path)().send(message)
    except Exception:
        log.exception("delivery of message %s on %s failed", message.pk, message.ticket.channel)
        _event(message.ticket, stage="deliver", outcome="failed", detail={"message": message.pk})


def ticket_notify(*, ticket_id: int, kind: str, **payload: Any) -> None:
    """Tell the chat consumers following this ticket that something changed (best effort)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(chat_group(ticket_id), {"type": "ticket.changed", "kind": kind, **payload})
    except Exception:
        log.warning("channel layer notify failed for ticket %s", ticket_id, exc_info=True)


def ticket_set_status(*, ticket: Ticket, status: str, outcome: str = "", reason: str = "") -> None:
    fields = ["status", "updated_at"]
    ticket.status = status
    if outcome:
        ticket.outcome = outcome
        fields.append("outcome")
    if reason:
        ticket.escalation_reason = reason[:255]
        fields.append("escalation_reason")
    if status in CLOSED_STATES:
        ticket.resolved_at = timezone.now()
        fields.append("resolved_at")
    ticket.save(update_fields=fields)
    webhooks_emit(event="ticket.updated", ticket=ticket)


def ticket_escalate(*, ticket: Ticket, reason: str, message: Message | None = None, tell_customer: bool = True) -> None:
    """Hand the ticket to a human with the reason; the customer is told a person will follow up."""
    with transaction.atomic():
        ticket_set_status(ticket=ticket, status=Ticket.Status.ESCALATED, outcome="escalated", reason=reason)
        _event(ticket, stage="escalate", outcome="escalated", message=message, detail={"reason": reason})
        already_told = message is not None and message.replies.filter(author=Message.Author.SYSTEM).exists()
        if tell_customer and not already_told:
            message_post(
                ticket=ticket,
                author=Message.Author.SYSTEM,
                body="Thanks for your patience. I've passed this to a member of our team, "
                "who will follow up with you here shortly.",
                in_reply_to=message,
                meta={"kind": "handoff"},
            )


def ticket_reply_agent(*, ticket: Ticket, agent, body: str, resolve: bool = False) -> Message:
    """An agent's reply from the console; it goes out on the ticket's channel."""
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "The reply is empty."})
    with transaction.atomic():
        message = message_post(ticket=ticket, author=Message.Author.AGENT, body=body, agent=agent)
        if ticket.assigned_to_id is None:
            ticket.assigned_to = agent
            ticket.save(update_fields=["assigned_to"])
        ticket_set_status(ticket=ticket, status=Ticket.Status.RESOLVED if resolve else Ticket.Status.ANSWERED)
        _event(ticket, stage="agent", outcome="resolved" if resolve else "replied", detail={"agent": agent.get_username()})
    return message


def ticket_assign(*, ticket: Ticket, agent) -> None:
    """Give the ticket to an agent (None unassigns). Assigning to the current owner records nothing."""
    if ticket.assigned_to_id == (agent.pk if agent else None):
        return
    with transaction.atomic():
        ticket.assigned_to = agent
        ticket.save(update_fields=["assigned_to", "updated_at"])
        username = agent.get_username() if agent else None
        _event(ticket, stage="agent", outcome="assigned" if agent else "unassigned", detail={"agent": username})


def ticket_intent_correct(*, ticket: Ticket, intent: str, agent) -> None:
    """An agent relabels the ticket. The first customer message becomes a training example
    (source "correction") so the next retraining learns from the mistake."""
    previous = ticket.intent
    if intent == previous:
        return
    with transaction.atomic():
        ticket.intent = intent
        ticket.save(update_fields=["intent", "updated_at"])
        first = ticket.messages.filter(author=Message.Author.CUSTOMER).order_by("created_at", "id").first()
        if first is not None:
            TrainingExample.objects.create(text=first.body, intent=intent, source=TrainingExample.Source.CORRECTION)
        _event(
            ticket,
            stage="triage",
            outcome="corrected",
            detail={"from": previous, "to": intent, "agent": agent.get_username()},
        )


def ticket_resolve(*, ticket: Ticket, agent) -> None:
    """An agent closes the case without replying. A resolved or closed ticket is left as it is."""
    if ticket.status in CLOSED_STATES:
        return
    with transaction.atomic():
        ticket_set_status(ticket=ticket, status=Ticket.Status.RESOLVED)
        _event(ticket, stage="agent", outcome="resolved", detail={"agent": agent.get_username()})


def _event(
    ticket: Ticket,
    *,
    stage: str,
    outcome: str,
    duration_ms: float = 0.0,
    message: Message | None = None,
    detail: dict[str, Any] | None = None,
) -> TicketEvent:
    return TicketEvent.objects.create(
        ticket=ticket, message=message, stage=stage, outcome=outcome, duration_ms=duration_ms, detail=detail or {}
    )


event_record = _event
