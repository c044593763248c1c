"""SMS through Twilio: request signatures, inbound messages, and splitting long replies."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from django.conf import settings

from channels_intake.inbound import Inbound, inbound_accept, inbound_ignore
from channels_intake.models import InboundEvent
from tickets.models import Channel, Ticket
from tickets.services import CLOSED_STATES, customer_resolve

# Twilio answers opt-out/opt-in keywords itself; they are not support requests. "yes" and
# "cancel" are left out on purpose: customers use them to answer a confirmation.
CARRIER_KEYWORDS = {"stop", "stopall", "unsubscribe", "end", "quit", "start", "unstop"}


def twilio_signature(*, url: str, params: list[tuple[str, str]], token: str) -> str:
    """X-Twilio-Signature: base64 HMAC-SHA1 of the full URL followed by each POST parameter's
    name and value, sorted by name."""
    payload = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def twilio_request_valid(*, url: str, params: list[tuple[str, str]], signature: str) -> bool:
    """Whether the request came from Twilio. Without a token only a DEBUG server that opted in
    with TWILIO_ALLOW_UNSIGNED accepts it; production always refuses."""
    token = settings.TWILIO_AUTH_TOKEN
    if not token:
        return bool(settings.DEBUG and settings.TWILIO_ALLOW_UNSIGNED)
    expected = twilio_signature(url=url, params=params, token=token)
    return hmac.compare_digest(expected, signature or "")


def sms_receive(*, params: dict[str, str]) -> InboundEvent:
    """One inbound Twilio SMS/MMS: a follow-up on the customer's open SMS ticket, or a new one."""
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    sender = params.get("From", "")
    body = (params.get("Body") or "").strip()
    media = int(params.get("NumMedia") or 0)
    log_args = {"channel": Channel.SMS, "provider": "twilio", "external_id": sid, "sender": sender}
    if not sender:
        return inbound_ignore(**log_args, reason="no sender number")
    if not body:
        reason = f"unsupported: media only ({media} attachments)" if media else "empty message"
        return inbound_ignore(**log_args, reason=reason)
    if body.lower() in CARRIER_KEYWORDS or params.get("OptOutType"):
        return inbound_ignore(**log_args, reason=f"carrier keyword {body.upper()[:20]}")
    customer = customer_resolve(phone=sender)
    ticket = (
        Ticket.objects.filter(customer=customer, channel=Channel.SMS)
        .exclude(status__in=CLOSED_STATES)
        .order_by("-created_at")
        .first()
    )
    meta = {"from": sender, "to": params.get("To", ""), "sid": sid}
    if media:
        meta["media"] = [params.get(f"MediaUrl{i}", "") for i in range(media)]
    return inbound_accept(
        inbound=Inbound(
            channel=Channel.SMS,
            provider="twilio",
            external_id=sid,
            sender=sender,
            body=body,
            customer=customer,
            ticket=ticket,
            meta=meta,
        )
    )


def text_split(text: str, *, limit: int) -> list[str]:
    """Cut a long reply into messages of at most `limit` characters, preferring paragraph, then
    sentence, then word boundaries, so no part ends mid-word when it can be helped."""
    text = text.strip()
    parts: list[str] = []
    while len(text) > limit:
        window = text[: limit + 1]
        cut = window.rfind("\n\n")
        if cut < limit // 3:
            ends = [m.end() for m in re.finditer(r"[.!?…](?=\s)", window[:limit])]
            cut = ends[-1] if ends and ends[-1] >= limit // 3 else -1
        if cut < limit // 3:
            cut = window.rfind(" ")
        if cut <= 0:
            cut = limit
        parts.append(text[:cut].strip())
        text = text[cut:].strip()
    if text:
        parts.append(text)
    return parts
