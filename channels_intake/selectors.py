"""Reads over the intake log."""

from __future__ import annotations

from typing import Any

from django.db.models import Count

from channels_intake.models import InboundEvent

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
