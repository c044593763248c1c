"""Social DMs through Meta's webhook: Messenger, Instagram and WhatsApp Cloud."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from channels_intake.inbound import Inbound, inbound_accept, inbound_ignore
from channels_intake.models import InboundEvent, SocialIdentity
from tickets.models import Channel, Customer, Ticket
from tickets.services import CLOSED_STATES, customer_resolve

PLATFORM_BY_OBJECT = {
    "page": "messenger",
    "instagram": "instagram",
    "whatsapp_business_account": "whatsapp",
}


@dataclass
class SocialMessage:
    platform: str
    sender_id: str
    recipient_id: str  # our Page / Instagram account id, or the WhatsApp phone_number_id
    message_id: str
    text: str
    name: str = ""
    unsupported: str = ""  # why the message cannot be taken in (an image, a reaction, ...)


def meta_signature_valid(*, body: bytes, header: str) -> bool:
    """X-Hub-Signature-256 is "sha256=" + hex HMAC-SHA256 of the raw body with the app secret.
    With no secret configured every request is refused."""
    secret = settings.META_APP_SECRET
    if not secret or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256="))


def meta_verify(*, mode: str, token: str) -> bool:
    """The GET handshake Meta makes when the webhook URL is registered."""
    expected = settings.META_VERIFY_TOKEN
    return mode == "subscribe" and bool(expected) and hmac.compare_digest(expected, token)


def _messaging_event(platform: str, event: dict[str, Any]) -> SocialMessage | None:
    """Messenger and Instagram share the `entry[].messaging[]` shape."""
    sender = str(event.get("sender", {}).get("id", ""))
    recipient = str(event.get("recipient", {}).get("id", ""))
    if "reaction" in event:
        mid = event["reaction"].get("mid", "")
        return SocialMessage(
            platform,
            sender,
            recipient,
            f"reaction:{mid}:{event.get('timestamp', '')}",
            "",
            unsupported="unsupported: reaction",
        )
    message = event.get("message")
    if not isinstance(message, dict):
        return None  # delivery and read receipts, postback-less events: not messages
    if message.get("is_echo"):
        return SocialMessage(
            platform,
            sender,
            recipient,
            message.get("mid", ""),
            "",
            unsupported="echo of our own message",
        )
    text = (message.get("text") or "").strip()
    unsupported = ""
    if not text:
        if message.get("sticker_id"):
            unsupported = "unsupported: sticker"
        else:
            kinds = sorted({a.get("type", "unknown") for a in message.get("attachments", [])}) or [
                "empty"
            ]
            unsupported = "unsupported: " + ", ".join(kinds)
    return SocialMessage(
        platform, sender, recipient, message.get("mid", ""), text, unsupported=unsupported
    )


def _whatsapp_messages(value: dict[str, Any]) -> list[SocialMessage]:
    names = {
        c.get("wa_id"): c.get("profile", {}).get("name", "") for c in value.get("contacts", [])
    }
    phone_number_id = str(value.get("metadata", {}).get("phone_number_id", ""))
    found = []
    for message in value.get("messages", []):
        kind = message.get("type", "")
        text = message.get("text", {}).get("body", "").strip() if kind == "text" else ""
        if kind == "button":  # a quick-reply button on a template message carries its label
            text = message.get("button", {}).get("text", "").strip()
        sender = str(message.get("from", ""))
        found.append(
            SocialMessage(
                "whatsapp",
                sender,
                phone_number_id,
                message.get("id", ""),
                text,
                name=names.get(sender, ""),
                unsupported="" if text else f"unsupported: {kind or 'unknown'}",
            )
        )
    return found


def meta_messages(payload: dict[str, Any]) -> list[SocialMessage]:
    """Every message in one webhook payload (Meta batches several entries and events)."""
    platform = PLATFORM_BY_OBJECT.get(payload.get("object", ""))
    if platform is None:
        return []
    found: list[SocialMessage] = []
    for entry in payload.get("entry", []):
        if platform == "whatsapp":
            for change in entry.get("changes", []):
                if change.get("field") == "messages":
                    found.extend(_whatsapp_messages(change.get("value", {})))
            continue
        for event in entry.get("messaging", []):
            message = _messaging_event(platform, event)
            if message is not None:
                found.append(message)
    return found


def social_customer(*, platform: str, sender_id: str, name: str = "") -> Customer:
    """The customer behind a platform sender id. A WhatsApp id is a phone number, so it finds the
    same Customer the person's SMS or email already created."""
    identity = (
        SocialIdentity.objects.select_related("customer")
        .filter(platform=platform, sender_id=sender_id)
        .first()
    )
    if identity is not None:
        return identity.customer
    phone = f"+{sender_id.lstrip('+')}" if platform == SocialIdentity.Platform.WHATSAPP else ""
    customer = (
        customer_resolve(phone=phone, name=name)
        if phone
        else Customer.objects.create(name=name[:200])
    )
    try:
        with transaction.atomic():
            SocialIdentity.objects.create(platform=platform, sender_id=sender_id, customer=customer)
    except IntegrityError:  # the same sender's concurrent message created it first
        return SocialIdentity.objects.get(platform=platform, sender_id=sender_id).customer
    return customer


def social_receive(*, message: SocialMessage) -> InboundEvent:
    """One DM: a follow-up on the customer's open ticket on that platform, or a new ticket.
    Unsupported kinds are logged as ignored with the reason, so they are visible, not lost."""
    log_args = {
        "channel": Channel.SOCIAL,
        "provider": message.platform,
        "external_id": message.message_id,
        "sender": message.sender_id,
    }
    if message.unsupported:
        return inbound_ignore(**log_args, reason=message.unsupported)
    customer = social_customer(
        platform=message.platform, sender_id=message.sender_id, name=message.name
    )
    ticket = (
        Ticket.objects.filter(
            customer=customer, channel=Channel.SOCIAL, messages__meta__platform=message.platform
        )
        .exclude(status__in=CLOSED_STATES)
        .order_by("-created_at")
        .first()
    )
    meta = {
        "platform": message.platform,
        "sender_id": message.sender_id,
        "recipient_id": message.recipient_id,
        "mid": message.message_id,
    }
    return inbound_accept(
        inbound=Inbound(
            channel=Channel.SOCIAL,
            provider=message.platform,
            external_id=message.message_id,
            sender=message.sender_id,
            body=message.text,
            customer=customer,
            ticket=ticket,
            meta=meta,
        )
    )
