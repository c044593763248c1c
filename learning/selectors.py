"""What the pipeline achieved, read from tickets and their events (the metrics dashboard's data)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Any

import numpy as np
from django.db.models import Count

from channels_intake.selectors import intake_coverage
from tickets.models import Ticket, TicketEvent

OUTCOMES = ("answered", "action", "escalated")


def _counts(field: str) -> dict[str, int]:
    """Tickets per value of `field`; tickets with no value yet (not classified) are left out."""
    rows = (
        Ticket.objects.exclude(**{field: ""})
        .order_by(field)
        .values_list(field)
        .annotate(n=Count("id"))
    )
    return dict(rows)


def _reason_kind(reason: str) -> str:
    # Reasons carry numbers ("low confidence (0.21 < 0.35)"); grouping on the raw text would
    # split one cause into as many rows as there are scores.
    return re.sub(r"\s*\([^)]*\d[^)]*\)", "", reason).strip()


def ticket_outcomes() -> dict[str, Any]:
    """Ticket counts by status, outcome, intent and channel; outcome rates; top escalation reasons.

    Rates are over tickets that reached an outcome, so tickets still in flight do not dilute them.
    """
    by_outcome = _counts("outcome")
    decided = sum(by_outcome.get(name, 0) for name in OUTCOMES)
    reasons: Counter[str] = Counter()
    for reason, n in (
        Ticket.objects.exclude(escalation_reason="")
        .order_by()
        .values_list("escalation_reason")
        .annotate(n=Count("id"))
    ):
        reasons[_reason_kind(reason)] += n
    return {
        "tickets": Ticket.objects.count(),
        "by_status": _counts("status"),
        "by_intent": _counts("intent"),
        "by_channel": _counts("channel"),
        "outcomes": {
            "decided": decided,
            **{name: by_outcome.get(name, 0) for name in OUTCOMES},
            **{
                f"{name}_rate": round(by_outcome.get(name, 0) / decided, 4) if decided else None
                for name in OUTCOMES
            },
        },
        "escalation_reasons": [
            {"reason": reason, "count": n} for reason, n in reasons.most_common(10)
        ],
    }


def stage_latencies() -> dict[str, dict[str, float | int]]:
    """p50 / p95 milliseconds per stage, over the events whose duration was measured.

    Bookkeeping events (intake, escalate, knowledge_gap) are recorded with no duration and
    would drag every percentile to zero, so only positive durations count.
    """
    values: dict[str, list[float]] = defaultdict(list)
    for stage, duration in TicketEvent.objects.filter(duration_ms__gt=0).values_list(
        "stage", "duration_ms"
    ):
        values[stage].append(duration)
    latencies = {}
    for stage, durations in sorted(values.items()):
        p50, p95 = np.percentile(durations, [50, 95])
        latencies[stage] = {
            "count": len(durations),
            "p50": round(float(p50), 2),
            "p95": round(float(p95), 2),
        }
    return latencies


def knowledge_gaps_count() -> int:
    return TicketEvent.objects.filter(stage="knowledge_gap").count()


def metrics_summary() -> dict[str, Any]:
    return {
        **ticket_outcomes(),
        "latency_ms": stage_latencies(),
        "knowledge_gaps": knowledge_gaps_count(),
        "intake": intake_coverage(),
    }
