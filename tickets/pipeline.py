"""Runs one customer message through the stages listed in settings.FRONTLINE_PIPELINE."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string

from tickets import services
from tickets.models import Message, Ticket, Workspace

log = logging.getLogger(__name__)


@dataclass
class StageOutcome:
    outcome: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class PipelineContext:
    ticket: Ticket
    message: Message
    triage: Any = None  # tickets.triage.Triage
    route: str = ""  # answer | action | escalate
    route_reason: str = ""
    done: bool = False  # a stage answered, acted or escalated: later stages are skipped
    data: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def workspace(self) -> Workspace:
        """The workspace's settings, read once for all the stages of this run."""
        return Workspace.current()

    def history(self, limit: int = 6) -> list[Message]:
        """The conversation before this message, oldest first."""
        earlier = self.ticket.messages.filter(id__lt=self.message.id).order_by("-id")[:limit]
        return list(reversed(earlier))


def run_pipeline(*, message_id: int) -> str:
    """Claim the message and run every stage. Safe to call twice: only one caller claims it."""
    claimed = Message.objects.filter(id=message_id, pipeline=Message.Pipeline.PENDING).update(
        pipeline=Message.Pipeline.RUNNING,
        pipeline_claimed_at=timezone.now(),
        pipeline_attempts=F("pipeline_attempts") + 1,
    )
    if not claimed:
        return "not-claimed"
    message = Message.objects.select_related("ticket__customer").get(pk=message_id)
    ctx = PipelineContext(ticket=message.ticket, message=message)
    started = time.perf_counter()
    stage_name = "pipeline"
    try:
        for path in settings.FRONTLINE_PIPELINE:
            if ctx.done:
                break
            stage_name = path.rsplit(".", 1)[-1]
            t0 = time.perf_counter()
            with transaction.atomic():
                result = import_string(path)(ctx)
                if result is not None:
                    services.event_record(
                        ctx.ticket,
                        stage=stage_name,
                        outcome=result.outcome,
                        duration_ms=(time.perf_counter() - t0) * 1000,
                        message=message,
                        detail=result.detail,
                    )
    except Exception as exc:
        log.exception("pipeline stage %s failed on message %s", stage_name, message_id)
        ctx.ticket.refresh_from_db()
        services.ticket_escalate(
            ticket=ctx.ticket, reason=f"{stage_name} failed: {type(exc).__name__}: {exc}"[:255], message=message
        )
    finally:
        Message.objects.filter(pk=message_id).update(pipeline=Message.Pipeline.DONE)
    services.event_record(
        ctx.ticket,
        stage="pipeline",
        outcome=ctx.ticket.status,
        duration_ms=(time.perf_counter() - started) * 1000,
        message=message,
    )
    return ctx.ticket.status


def sweep(*, stale_seconds: int | None = None, max_attempts: int = 3) -> dict[str, int]:
    """Re-enqueue messages a crashed or lost worker left behind; escalate ones that keep failing."""
    stale_seconds = settings.SWEEP_STALE_SECONDS if stale_seconds is None else stale_seconds
    cutoff = timezone.now() - timezone.timedelta(seconds=stale_seconds)
    counts = {"requeued": 0, "gave_up": 0}
    # A worker killed mid-way leaves RUNNING behind; put it back to PENDING.
    stuck = Message.objects.filter(pipeline=Message.Pipeline.RUNNING, pipeline_claimed_at__lt=cutoff)
    for message in stuck.select_related("ticket"):
        if message.pipeline_attempts >= max_attempts:
            if Message.objects.filter(pk=message.pk, pipeline=Message.Pipeline.RUNNING).update(
                pipeline=Message.Pipeline.FAILED
            ):
                services.ticket_escalate(
                    ticket=message.ticket, reason="the pipeline failed repeatedly on this message", message=message
                )
                counts["gave_up"] += 1
            continue
        Message.objects.filter(pk=message.pk, pipeline=Message.Pipeline.RUNNING).update(
            pipeline=Message.Pipeline.PENDING
        )
    waiting = Message.objects.filter(pipeline=Message.Pipeline.PENDING, created_at__lt=cutoff)
    for message_id in waiting.values_list("id", flat=True):
        services.pipeline_enqueue(message_id=message_id)
        counts["requeued"] += 1
    return counts
