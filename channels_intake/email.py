"""Inbound email: anymail's inbound signal (Mailgun, Postmark, SendGrid, Amazon SES webhooks)
and the IMAP poller both end in `email_ingest`, which parses, filters and threads one message."""

from __future__ import annotations

import fnmatch
import hashlib
import re
from datetime import timedelta
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from channels_intake.inbound import (
    Inbound,
    inbound_accept,
    inbound_duplicate,
    inbound_ignore,
    inbound_seen,
)
from channels_intake.models import Attachment, InboundEvent
from tickets.models import Channel, Message, Ticket

TICKET_IN_SUBJECT = re.compile(r"\[(FL-\d+)\]", re.IGNORECASE)
MESSAGE_ID = re.compile(r"<[^<>\s]+>")
AUTOMATED_SENDERS = {
    "mailer-daemon",
    "postmaster",
    "noreply",
    "no-reply",
    "donotreply",
    "do-not-reply",
}
AUTO_PRECEDENCE = {"bulk", "junk", "auto_reply"}
# Each is matched against a line joined with the next one, since clients wrap these headers.
QUOTE_HEADERS = [
    # "On Tue, 3 Dec 2024 at 10:02, Maya <maya@example.com> wrote:" (Gmail may wrap it).
    re.compile(
        r"\AOn\b[^\n]{0,300}(?:\n[^\n]{0,300})?\bwrote:[ \t]*$", re.IGNORECASE | re.MULTILINE
    ),
    re.compile(r"\A-{2,}\s*(Original Message|Forwarded message)\s*-{2,}", re.IGNORECASE),
    re.compile(
        r"\A_{10,}[ \t]*$", re.MULTILINE
    ),  # Outlook's rule above its "From: ... Sent:" block
    re.compile(r"\AFrom:\s[^\n]+\n(Sent|Date):\s", re.IGNORECASE),
]
MOBILE_SIGNATURES = re.compile(
    r"^(Sent from my \w+|Sent from (Mail|Outlook|Yahoo Mail|Gmail)\b|Get Outlook for \w+|Sent via \w+)",
    re.IGNORECASE,
)


class _TextExtractor(HTMLParser):
    """HTML to plain text. Only text nodes survive: no markup, scripts or styles reach the body,
    and quoted history in <blockquote> is dropped along with the rest of the reply chain."""

    BLOCK = {
        "p",
        "div",
        "br",
        "li",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "table",
        "ul",
        "ol",
        "hr",
    }
    SKIP = {"script", "style", "head", "title", "blockquote"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")
        if tag == "li" and not self.skipping:
            self.parts.append("- ")

    def handle_startendtag(self, tag: str, attrs) -> None:
        if tag in self.BLOCK and not self.skipping:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = [line.strip() for line in "".join(parser.parts).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def reply_strip(text: str) -> str:
    """The new part of a reply: quoted history and signatures removed.

    Falls back to the whole text when stripping would leave nothing (a message that is all quote).
    """
    lines = text.replace("\r\n", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        pair = line + "\n" + (lines[i + 1] if i + 1 < len(lines) else "")
        if any(pattern.search(pair) for pattern in QUOTE_HEADERS):
            break
        if line.rstrip() in ("--", "-- ") or MOBILE_SIGNATURES.match(line.strip()):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    stripped = "\n".join(kept).strip()
    return stripped or text.strip()


def subject_clean(subject: str) -> str:
    """A new ticket's subject without reply prefixes or a stale ticket number."""
    subject = re.sub(r"^((re|fwd?|aw|sv):\s*)+", "", subject, flags=re.IGNORECASE)
    return TICKET_IN_SUBJECT.sub("", subject).strip()


def message_ids(value: str | None) -> list[str]:
    return MESSAGE_ID.findall(value or "")


def automated_reason(message) -> str:
    """Why this message was sent by a machine (auto-reply, bounce), or "" if a person sent it."""
    auto_submitted = (message.get("Auto-Submitted") or "").strip().lower()
    if auto_submitted and auto_submitted != "no":
        return f"auto-reply (Auto-Submitted: {auto_submitted})"
    precedence = (message.get("Precedence") or "").strip().lower()
    if precedence in AUTO_PRECEDENCE:
        return f"auto-reply (Precedence: {precedence})"
    if message.get("X-Autoreply") or message.get("X-Autorespond"):
        return "auto-reply (X-Autoreply)"
    if message.get_content_type() == "multipart/report":
        return "bounce (delivery status report)"
    local = parseaddr(message.get("From") or "")[1].split("@")[0].lower()
    if local in AUTOMATED_SENDERS:
        return f"automated sender ({local})"
    return ""


def loop_reason(*, sender: str, message_id: str) -> str:
    """Why accepting this message would feed a mail loop, or ""."""
    ours = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].lower()
    if sender == ours:
        return "mail loop: sent from our own address"
    if (
        message_id
        and Message.objects.filter(meta__message_id=message_id)
        .exclude(author=Message.Author.CUSTOMER)
        .exists()
    ):
        return "mail loop: the Message-ID is one we sent"
    window = timezone.now() - timedelta(minutes=settings.EMAIL_LOOP_WINDOW_MINUTES)
    recent = InboundEvent.objects.filter(
        channel=Channel.EMAIL,
        sender=sender,
        created_at__gte=window,
        status__in=[InboundEvent.Status.TICKET_CREATED, InboundEvent.Status.FOLLOWUP],
    ).count()
    if recent >= settings.EMAIL_LOOP_MAX_MESSAGES:
        return (
            f"mail loop: more than {settings.EMAIL_LOOP_MAX_MESSAGES} messages from this sender "
            f"in {settings.EMAIL_LOOP_WINDOW_MINUTES} minutes"
        )
    return ""


def thread_find(*, sender: str, subject: str, references: list[str]) -> Ticket | None:
    """The ticket this email continues: by a Message-ID it answers, else by "[FL-…]" in the subject.

    The subject number alone is guessable, so it threads only mail from the ticket's own customer.
    """
    if references:
        earlier = (
            Message.objects.filter(meta__message_id__in=references)
            .select_related("ticket")
            .order_by("-id")
            .first()
        )
        if earlier is not None:
            return earlier.ticket
    match = TICKET_IN_SUBJECT.search(subject or "")
    if match:
        return Ticket.objects.filter(number=match.group(1).upper(), customer__email=sender).first()
    return None


def _attachment_skip_reason(*, content_type: str, size: int, index: int) -> str:
    if index >= settings.EMAIL_ATTACHMENT_MAX_COUNT:
        return f"more than {settings.EMAIL_ATTACHMENT_MAX_COUNT} attachments"
    if size > settings.EMAIL_ATTACHMENT_MAX_BYTES:
        return f"larger than {settings.EMAIL_ATTACHMENT_MAX_BYTES} bytes"
    if not any(
        fnmatch.fnmatch(content_type, pattern) for pattern in settings.EMAIL_ATTACHMENT_TYPES
    ):
        return f"type {content_type} is not allowed"
    return ""


def attachments_store(*, message: Message, parts) -> list[Attachment]:
    stored = []
    for index, part in enumerate(parts):
        data = part.get_content_bytes() or b""
        content_type = part.get_content_type()
        filename = get_valid_filename(part.get_filename() or "attachment") or "attachment"
        reason = _attachment_skip_reason(content_type=content_type, size=len(data), index=index)
        row = Attachment(
            message=message,
            filename=filename[:255],
            content_type=content_type[:100],
            size=len(data),
            skipped_reason=reason,
        )
        if not reason:
            row.file.save(filename, ContentFile(data), save=False)
        row.save()
        stored.append(row)
    return stored


def _external_id(message, message_id: str) -> str:
    if message_id:
        return message_id
    # No Message-ID (rare, broken clients): the content identifies retries of the same delivery.
    return "sha256:" + hashlib.sha256(message.as_bytes()).hexdigest()


def email_ingest(*, message, provider: str) -> InboundEvent:
    """Turn one inbound email (an AnymailInboundMessage) into a ticket message, or log why not.

    Filters run before anything is stored: provider retries (same Message-ID), auto-replies and
    bounces, spam, mail loops. Replies are threaded by In-Reply-To/References or the ticket
    number in the subject; the body keeps only the new text; attachments are stored within limits.
    """
    message_id = (message_ids(message.get("Message-ID")) or [""])[0]
    external_id = _external_id(message, message_id)
    name, sender = parseaddr(message.get("From") or "")
    sender = sender.strip().lower()
    log_args = {
        "channel": Channel.EMAIL,
        "provider": provider,
        "external_id": external_id,
        "sender": sender,
    }
    if inbound_seen(channel=Channel.EMAIL, external_id=external_id):
        return inbound_duplicate(**log_args)
    references = message_ids(message.get("In-Reply-To")) + message_ids(message.get("References"))
    reason = automated_reason(message)
    if not reason and getattr(message, "spam_detected", None):
        reason = "spam (flagged by the provider)"
    if not reason and not sender:
        reason = "no sender address"
    reason = reason or loop_reason(sender=sender, message_id=message_id)
    if reason:
        return inbound_ignore(**log_args, reason=reason)

    subject = (message.get("Subject") or "").strip()
    text = message.text or ""
    if not text.strip() and message.html:
        text = html_to_text(message.html)
    parts = list(message.attachments)
    body = reply_strip(text) if text.strip() else ""
    if not body:
        names = ", ".join(part.get_filename() or "attachment" for part in parts)
        body = subject or (f"[attachments: {names}]" if names else "")
    if not body:
        return inbound_ignore(**log_args, reason="empty message")

    ticket = thread_find(sender=sender, subject=subject, references=references)
    cc = [addr.lower() for _, addr in getaddresses(message.get_all("Cc") or []) if addr]
    meta = {
        "message_id": message_id,
        "references": references[-20:],
        "provider": provider,
        "subject": subject,
        **({"cc": cc} if cc else {}),
    }
    with transaction.atomic():
        event = inbound_accept(
            inbound=Inbound(
                channel=Channel.EMAIL,
                provider=provider,
                external_id=external_id,
                sender=sender,
                body=body,
                subject=subject_clean(subject),
                email=sender,
                name=name,
                ticket=ticket,
                meta=meta,
            )
        )
        if event.message_id and event.status in (
            InboundEvent.Status.TICKET_CREATED,
            InboundEvent.Status.FOLLOWUP,
        ):
            attachments_store(message=event.message, parts=parts)
    return event


def email_ingest_raw(*, raw: bytes, provider: str = "imap") -> InboundEvent:
    """Ingest one RFC 822 message as bytes (the IMAP poller's path)."""
    from anymail.inbound import AnymailInboundMessage

    return email_ingest(message=AnymailInboundMessage.parse_raw_mime_bytes(raw), provider=provider)


def on_anymail_inbound(sender, event, esp_name: str, **kwargs) -> None:
    """anymail's `inbound` signal receiver (connected in ChannelsIntakeConfig.ready)."""
    email_ingest(message=event.message, provider=esp_name.lower().replace(" ", "_"))
