"""Propose, confirm, execute: an action runs at most once and only after a spoken yes."""

from __future__ import annotations

import logging
import re

from django.db import transaction
from django.utils import timezone

from actions.connectors.base import BackendError
from actions.handlers import Plan, handler_for
from actions.models import ActionAudit, ActionRequest
from tickets import services
from tickets.models import Message, Ticket, Workspace

log = logging.getLogger(__name__)
CONFIRMATION_TTL_HOURS = 24

_NO = re.compile(
    r"^\s*(no|nope|nah|n)\b|\b(don'?t|do not|cancel that|stop|never ?mind|keep it|not now|hold on|wait)\b", re.I
)
_YES = re.compile(
    r"^\s*(yes|yeah|yep|yup|y|sure|ok|okay|go ahead|please do|do it|confirm(ed)?|correct|absolutely|"
    r"of course|please|that'?s right|sounds good|proceed)\b",
    re.I,
)


def interpret_answer(text: str) -> str:
    """'yes', 'no' or 'unclear' for a reply to a confirmation question."""
    if _NO.search(text):
        return "no"
    if _YES.search(text):
        return "yes"
    return "unclear"


def action_request_confirm(*, ticket: Ticket, message: Message, action_type: str, plan: Plan) -> ActionRequest:
    """Record the proposal and ask the customer, naming what will happen."""
    key = f"{ticket.pk}:{message.pk}:{action_type}:{plan.order.number if plan.order else ''}"
    action, created = ActionRequest.objects.get_or_create(
        idempotency_key=key,
        defaults={
            "ticket": ticket,
            "type": action_type,
            "order": plan.order,
            "amount": plan.amount,
            "params": plan.params,
            "summary": plan.summary,
            "requested_in": message,
        },
    )
    if created:
        ActionAudit.objects.create(action=action, event="proposed", detail=action.as_payload())
        services.message_post(
            ticket=ticket,
            author=Message.Author.AI,
            body=plan.summary,
            in_reply_to=message,
            meta={"kind": "confirm", "action": action.as_payload()},
        )
        services.ticket_set_status(ticket=ticket, status=Ticket.Status.AWAITING_CONFIRMATION)
    return action


def pending_action(ticket: Ticket) -> ActionRequest | None:
    action = ticket.actions.filter(status=ActionRequest.Status.PROPOSED).select_related("order").first()
    # Real elapsed time, not clock.now(): a replayed bundle's "now" moves order ages, not how
    # long ago the customer was asked.
    if action and (timezone.now() - action.created_at).total_seconds() > CONFIRMATION_TTL_HOURS * 3600:
        action_expire(action=action)
        return None
    return action


def action_expire(*, action: ActionRequest) -> None:
    if ActionRequest.objects.filter(pk=action.pk, status=ActionRequest.Status.PROPOSED).update(
        status=ActionRequest.Status.EXPIRED, decided_at=timezone.now()
    ):
        ActionAudit.objects.create(action=action, event="expired")


def action_decline(*, action: ActionRequest, message: Message) -> None:
    if not ActionRequest.objects.filter(pk=action.pk, status=ActionRequest.Status.PROPOSED).update(
        status=ActionRequest.Status.DECLINED, decided_at=timezone.now(), confirmed_in=message
    ):
        return
    ActionAudit.objects.create(action=action, event="declined", detail={"message": message.body[:200]})
    services.message_post(
        ticket=action.ticket,
        author=Message.Author.AI,
        body="No problem, I haven't changed anything. Is there anything else I can help with?",
        in_reply_to=message,
        meta={"kind": "declined", "action": action.as_payload()},
    )
    services.ticket_set_status(ticket=action.ticket, status=Ticket.Status.ANSWERED, outcome="answered")


def action_execute(*, action: ActionRequest, message: Message) -> str:
    """Run a confirmed action once. Only the caller whose conditional update wins executes."""
    claimed = ActionRequest.objects.filter(pk=action.pk, status=ActionRequest.Status.PROPOSED).update(
        status=ActionRequest.Status.CONFIRMED, decided_at=timezone.now(), confirmed_in=message
    )
    if not claimed:
        return "already-decided"
    ActionAudit.objects.create(action=action, event="confirmed", detail={"message": message.body[:200]})
    handler = handler_for(action.type)
    workspace = Workspace.current()
    try:
        with transaction.atomic():
            result = handler.execute(plan_params=action.params, order=action.order, workspace=workspace)
    except BackendError as exc:
        ActionRequest.objects.filter(pk=action.pk).update(status=ActionRequest.Status.FAILED, result={"error": str(exc)})
        ActionAudit.objects.create(action=action, event="failed", detail={"error": str(exc)})
        services.ticket_escalate(ticket=action.ticket, reason=f"{action.type} failed: {exc}", message=message)
        return "failed"
    if action.order is not None:
        action.order.refresh_from_db()
    ActionRequest.objects.filter(pk=action.pk).update(
        status=ActionRequest.Status.EXECUTED, executed_at=timezone.now(), result=result
    )
    ActionAudit.objects.create(action=action, event="executed", detail=result)
    services.message_post(
        ticket=action.ticket,
        author=Message.Author.AI,
        body=handler.done_text(result=result, order=action.order),
        in_reply_to=message,
        meta={"kind": "action_done", "action": action.as_payload(), "result": result},
    )
    services.ticket_set_status(ticket=action.ticket, status=Ticket.Status.RESOLVED, outcome="action")
    return "executed"
