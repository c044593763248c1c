"""Reads for the intake channels: the intake log, and a chat ticket's messages as protocol frames."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from channels_intake.models import InboundEvent
from tickets.models import Message

STATUS_KEYS = {
    InboundEvent.Status.TICKET_CREATED: "tickets_created",
    InboundEvent.Status.FOLLOWUP: "followups",
    InboundEvent.Status.IGNORED: "ignored",
    InboundEvent.Status.FAILED: "failed",
    InboundEvent.Status.DUPLICATE: "duplicates",
}


def intake_coverage() -> dict[str, dict[str, Any]]:
    """Per provider channel (email, sms, social): deliveries received and what became of them.

    `received` counts distinct deliveries, so provider retries (duplicates) do not inflate it;
    ignored deliveries are broken down by reason. Two grouped queries whatever the volume.
    """
    coverage: dict[str, dict[str, Any]] = {}
    rows = InboundEvent.objects.order_by().values_list("channel", "status").annotate(n=Count("id"))
    for channel, status, n in rows:
        entry = coverage.setdefault(
            channel,
            {"received": 0, **dict.fromkeys(STATUS_KEYS.values(), 0), "ignored_by_reason": {}},
        )
        if status in STATUS_KEYS:
            entry[STATUS_KEYS[status]] += n
        if status != InboundEvent.Status.DUPLICATE:
            entry["received"] += n
    reasons = (
        InboundEvent.objects.filter(status=InboundEvent.Status.IGNORED)
        .order_by()
        .values_list("channel", "reason")
        .annotate(n=Count("id"))
    )
    for channel, reason, n in reasons:
        coverage[channel]["ignored_by_reason"][reason] = n
    return coverage


OUTBOUND_AUTHORS = (Message.Author.AI, Message.Author.AGENT, Message.Author.SYSTEM)
# A reply's id is taken at insert but becomes visible at commit, so a lower id can appear after
# a higher one was delivered (two workers on one ticket, or an agent beside the AI). Messages
# this young are re-read even below the delivered id; it must exceed the longest stage
# transaction (the task timeout).
LATE_COMMIT_SECONDS = 180


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
