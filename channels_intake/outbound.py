"""How a reply leaves on the ticket's channel (settings.FRONTLINE_OUTBOUND maps channel → class).

Chat needs nothing more: open sockets are notified through the channel layer and also poll the
database, so a reply made in any process reaches them. Email threads in the customer's mail
client through Message-ID/In-Reply-To/References; SMS goes through Twilio's REST API and
social replies through Meta's Graph API, both over HTTPS with their base URL a setting.
An adapter raises when delivery fails; `message_deliver` records the failure on the ticket.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from email.utils import make_msgid, parseaddr
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage

from channels_intake.sms import text_split
from tickets.models import Message

# Per-message text limits of each platform's send API.
SOCIAL_TEXT_LIMIT = {"messenger": 2000, "instagram": 1000, "whatsapp": 4096}


class DeliveryError(Exception):
    pass


class NullOutbound:
    def send(self, message: Message) -> None:
        return None


class ChatOutbound(NullOutbound):
    pass


def _last_customer_meta(message: Message, key: str) -> dict[str, Any]:
    """The channel details of the customer's latest message carrying `key` (where to answer)."""
    last = (
        message.ticket.messages.filter(author=Message.Author.CUSTOMER, meta__has_key=key)
        .order_by("-created_at", "-id")
        .first()
    )
    return last.meta if last else {}


def _http_post(
    url: str, *, headers: dict[str, str], form: dict[str, str] | None = None, payload: Any = None
) -> dict:
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
    else:
        data = json.dumps(payload).encode()
        headers = {**headers, "Content-Type": "application/json"}
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=settings.CHANNEL_HTTP_TIMEOUT) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"{url} answered {exc.code}: {exc.read()[:300]!r}") from exc
    except (urllib.error.URLError, TimeoutError) as exc:
        raise DeliveryError(f"{url} unreachable: {exc}") from exc


def _save_meta(message: Message, **values: Any) -> None:
    message.meta = {**message.meta, **values}
    message.save(update_fields=["meta"])


class EmailOutbound:
    """Through Django's mail backend (anymail's ESP backend in production, via EMAIL_BACKEND)."""

    def send(self, message: Message) -> None:
        ticket = message.ticket
        if not ticket.customer.email:
            return
        domain = (
            parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "frontline.localhost"
        )
        message_id = make_msgid(idstring="frontline", domain=domain)
        # Stored before sending: an answer to it must thread even if the send call then times out.
        _save_meta(message, message_id=message_id)
        headers = {"Message-ID": message_id}
        last = _last_customer_meta(message, "message_id")
        if last.get("message_id"):
            headers["In-Reply-To"] = last["message_id"]
            headers["References"] = " ".join(
                [*last.get("references", []), last["message_id"]][-10:]
            )
        subject = ticket.subject or "Your request"
        EmailMessage(
            subject=f"Re: {subject} [{ticket.number}]",
            body=message.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[ticket.customer.email],
            headers=headers,
        ).send()


class SmsOutbound:
    """Twilio's Messages API; a long reply goes out as several messages, split at sentences."""

    def send(self, message: Message) -> None:
        last = _last_customer_meta(message, "from")
        to = last.get("from") or message.ticket.customer.phone
        if not to:
            raise DeliveryError("the customer has no phone number")
        sid, token = settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN
        if not (sid and token):
            raise DeliveryError("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set")
        url = f"{settings.TWILIO_API_BASE.rstrip('/')}/2010-04-01/Accounts/{sid}/Messages.json"
        auth = base64.b64encode(f"{sid}:{token}".encode()).decode()
        sender = (
            {"MessagingServiceSid": settings.TWILIO_MESSAGING_SERVICE_SID}
            if settings.TWILIO_MESSAGING_SERVICE_SID
            else {"From": settings.TWILIO_FROM_NUMBER or last.get("to", "")}
        )
        sent = []
        for part in text_split(message.body, limit=settings.SMS_MAX_CHARS):
            reply = _http_post(
                url,
                headers={"Authorization": f"Basic {auth}"},
                form={"To": to, "Body": part, **sender},
            )
            sent.append(reply.get("sid", ""))
        _save_meta(message, sms_sids=sent)


class SocialOutbound:
    """Meta's Graph API Send endpoints: Messenger and Instagram by the sender's scoped id,
    WhatsApp Cloud by phone number through our phone_number_id."""

    def send(self, message: Message) -> None:
        last = _last_customer_meta(message, "platform")
        platform, to, account = (
            last.get("platform"),
            last.get("sender_id"),
            last.get("recipient_id") or "me",
        )
        if not (platform and to):
            raise DeliveryError("no social sender to answer on this ticket")
        base = settings.META_GRAPH_BASE.rstrip("/")
        token = (
            settings.META_WHATSAPP_ACCESS_TOKEN
            if platform == "whatsapp"
            else settings.META_PAGE_ACCESS_TOKEN
        )
        if not token:
            raise DeliveryError(f"no Graph API access token for {platform}")
        headers = {"Authorization": f"Bearer {token}"}
        sent = []
        for part in text_split(message.body, limit=SOCIAL_TEXT_LIMIT.get(platform, 1000)):
            if platform == "whatsapp":
                payload = {
                    "messaging_product": "whatsapp",
                    "recipient_type": "individual",
                    "to": to,
                    "type": "text",
                    "text": {"preview_url": False, "body": part},
                }
                reply = _http_post(f"{base}/{account}/messages", headers=headers, payload=payload)
                sent.append((reply.get("messages") or [{}])[0].get("id", ""))
            else:
                payload = {
                    "recipient": {"id": to},
                    "messaging_type": "RESPONSE",
                    "message": {"text": part},
                }
                reply = _http_post(f"{base}/{account}/messages", headers=headers, payload=payload)
                sent.append(reply.get("message_id", ""))
        _save_meta(message, graph_ids=sent)
