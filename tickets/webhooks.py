"""Outbound webhooks: signed ticket and message events for integrations, retried with backoff.

An event becomes one WebhookDelivery per interested endpoint inside the caller's transaction;
the first attempt is queued after commit, later attempts by the "webhook retries" schedule.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
import urllib.error
import urllib.request
import uuid
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tickets.models import Message, Ticket, WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)

RETRY_SCHEDULE = "webhook retries"
BACKOFF_BASE_SECONDS = 30
BACKOFF_CAP_SECONDS = 3600
RETRY_BATCH = 100


def webhook_url_check(*, url: str) -> None:
    """Refuse URLs a webhook must not reach (SSRF guard).

    Always http(s). With DEBUG off, https only and never a loopback, private, link-local or
    reserved address, unless WEBHOOK_ALLOW_PRIVATE says the receivers live on a private network.
    """
    parts = urlsplit(url or "")
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValidationError({"url": "Use an http:// or https:// URL."})
    if settings.DEBUG or settings.WEBHOOK_ALLOW_PRIVATE:
        return
    if parts.scheme != "https":
        raise ValidationError({"url": "Use an https:// URL."})
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise ValidationError({"url": f"The host {parts.hostname!r} does not resolve."}) from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global:
            raise ValidationError({"url": "The URL points at a private or local address."})


def webhook_endpoint_create(
    *, url: str, events: list[str] | None = None, secret: str = "", created_by=None
) -> WebhookEndpoint:
    webhook_url_check(url=url)
    unknown = sorted(set(events or []) - set(WebhookEndpoint.EVENTS))
    if unknown:
        raise ValidationError({"events": f"Unknown events: {', '.join(unknown)}."})
    return WebhookEndpoint.objects.create(
        url=url, events=list(events or []), secret=secret, created_by=created_by
    )


def webhooks_emit(*, event: str, ticket: Ticket, message: Message | None = None) -> None:
    """Record the event for every active endpoint that wants it; send each after commit.

    Without endpoints this is a single query on the indexed `active` column.
    """
    endpoints = [
        e for e in WebhookEndpoint.objects.filter(active=True) if not e.events or event in e.events
    ]
    if not endpoints:
        return
    now = timezone.now()
    data = {"ticket": _ticket_data(ticket)}
    if message is not None:
        data["message"] = {
            "author": message.author,
            "body": message.body,
            "created_at": message.created_at.isoformat(),
        }
    deliveries = []
    for endpoint in endpoints:
        event_id = uuid.uuid4()
        payload = {"id": str(event_id), "type": event, "created_at": now.isoformat(), "data": data}
        deliveries.append(
            WebhookDelivery(
                endpoint=endpoint, event=event, payload=payload, event_id=event_id, next_attempt_at=now
            )
        )
    created = WebhookDelivery.objects.bulk_create(deliveries)
    ids = [d.pk for d in created]
    transaction.on_commit(lambda: _enqueue(ids))


def webhook_deliver(*, delivery_id: int) -> str:
    """Make one attempt at a due delivery. Returns its status, or "skipped" if not ours to send."""
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    now = timezone.now()
    if (
        delivery is None
        or delivery.status != WebhookDelivery.Status.PENDING
        or (delivery.next_attempt_at and delivery.next_attempt_at > now)
    ):
        return "skipped"
    # Claim this attempt: only the worker whose update matches the row as read sends it. The
    # lease pushes next_attempt_at past the request timeout, so a crashed worker's attempt is
    # retried by the schedule rather than lost.
    lease = now + dt.timedelta(seconds=settings.WEBHOOK_TIMEOUT + 60)
    claimed = WebhookDelivery.objects.filter(
        pk=delivery.pk,
        status=WebhookDelivery.Status.PENDING,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at,
    ).update(next_attempt_at=lease)
    if not claimed:
        return "skipped"

    code, error = _send(delivery)
    delivery.attempts += 1
    delivery.last_status_code = code
    delivery.last_error = error[:2000]
    if error:
        if delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.next_attempt_at = None
        else:
            delivery.next_attempt_at = timezone.now() + backoff(attempts=delivery.attempts)
    else:
        delivery.status = WebhookDelivery.Status.DELIVERED
        delivery.delivered_at = timezone.now()
        delivery.next_attempt_at = None
    delivery.save(
        update_fields=[
            "attempts", "last_status_code", "last_error", "status", "next_attempt_at", "delivered_at",
        ]
    )
    return delivery.status


def backoff(*, attempts: int) -> dt.timedelta:
    """Wait after the `attempts`-th failure: 30 s, 1 min, 2 min, … capped at an hour."""
    return dt.timedelta(seconds=min(BACKOFF_BASE_SECONDS * 2 ** (attempts - 1), BACKOFF_CAP_SECONDS))


def webhooks_retry_due() -> int:
    """Queue every pending delivery whose next attempt is due; returns how many."""
    ids = list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=timezone.now()
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:RETRY_BATCH]
    )
    _enqueue(ids)
    return len(ids)


def webhooks_schedule_ensure() -> None:
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=RETRY_SCHEDULE,
        defaults={
            "func": "tickets.tasks.retry_webhooks",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )


def signature(*, secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _ticket_data(ticket: Ticket) -> dict[str, Any]:
    customer = ticket.customer
    return {
        "number": ticket.number,
        "status": ticket.status,
        "channel": ticket.channel,
        "intent": ticket.intent,
        "urgency": ticket.urgency,
        "sentiment": ticket.sentiment,
        "outcome": ticket.outcome,
        "escalation_reason": ticket.escalation_reason,
        "customer": {"email": customer.email, "name": customer.name},
    }


def _enqueue(ids: list[int]) -> None:
    from django_q.tasks import async_task

    for pk in ids:
        try:
            async_task("tickets.tasks.deliver_webhook", pk, task_name=f"webhook-{pk}")
        except Exception:
            log.exception("could not enqueue webhook delivery %s; the retry schedule will", pk)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect could lead past the URL check to an internal address: treat it as a failure.
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _send(delivery: WebhookDelivery) -> tuple[int | None, str]:
    """POST the signed payload. Returns (status code, error text; empty when delivered)."""
    endpoint = delivery.endpoint
    try:
        # Checked again at send time: the host's DNS may have changed since it was registered.
        webhook_url_check(url=endpoint.url)
    except ValidationError as exc:
        return None, "; ".join(exc.messages)
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    request = urllib.request.Request(
        endpoint.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Frontline-Webhooks/1",
            "X-Frontline-Event": delivery.event,
            "X-Frontline-Delivery": str(delivery.event_id),
            "X-Frontline-Timestamp": timestamp,
            "X-Frontline-Signature": signature(secret=endpoint.secret, timestamp=timestamp, body=body),
        },
    )
    try:
        with _opener.open(request, timeout=settings.WEBHOOK_TIMEOUT) as response:
            code = response.status
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    if 200 <= code < 300:
        return code, ""
    return code, f"HTTP {code}"

