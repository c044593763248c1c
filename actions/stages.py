"""Stage 4 of the pipeline: answer a pending confirmation, or propose an action."""

from __future__ import annotations

from actions import services
from actions.handlers import Plan, handler_for
from tickets import services as ticket_services
from tickets.models import Message, Ticket
from tickets.pipeline import PipelineContext, StageOutcome
from tickets.selectors import order_for_customer


def confirmation(ctx: PipelineContext) -> StageOutcome | None:
    """A message on a ticket that awaits a yes/no is first read as that answer."""
    action = services.pending_action(ctx.ticket)
    if action is None:
        return None
    button = (ctx.message.meta or {}).get("confirm_answer")
    answer = button if button in ("yes", "no") else services.interpret_answer(ctx.message.body)
    if answer == "yes":
        ctx.done = True
        return StageOutcome(services.action_execute(action=action, message=ctx.message), {"action": action.pk})
    if answer == "no":
        ctx.done = True
        services.action_decline(action=action, message=ctx.message)
        return StageOutcome("declined", {"action": action.pk})
    if len(ctx.message.body.split()) > 6:
        # A new request rather than an answer: drop the proposal and run the message normally.
        services.action_expire(action=action)
        return StageOutcome("superseded", {"action": action.pk})
    ctx.done = True
    ticket_services.message_post(
        ticket=ctx.ticket,
        author=Message.Author.AI,
        body=f"Just to be sure — {action.summary} Please reply yes or no.",
        in_reply_to=ctx.message,
        meta={"kind": "confirm", "action": action.as_payload()},
    )
    return StageOutcome("asked-again", {"action": action.pk})


def act(ctx: PipelineContext) -> StageOutcome | None:
    if ctx.route != "action":
        return None
    intent_row = ctx.data.get("intent_row")
    action_type = intent_row.action_type if intent_row else ""
    handler = handler_for(action_type)
    if handler is None:
        ctx.route, ctx.route_reason = "escalate", f"no handler for action '{action_type}'"
        return StageOutcome("no-handler", {"action": action_type})
    order, missing = order_for_customer(customer=ctx.ticket.customer, text=ctx.message.body)
    if handler.needs_order and order is None and missing:
        ctx.done = True
        _reply(ctx, f"I couldn't find an order {missing} on your account. Could you check the number?")
        return StageOutcome("unknown-order", {"order": missing})
    decision = handler.plan(customer=ctx.ticket.customer, order=order, text=ctx.message.body, workspace=ctx.workspace)
    ctx.done = True
    if isinstance(decision, Plan):
        action = services.action_request_confirm(ticket=ctx.ticket, message=ctx.message, action_type=action_type, plan=decision)
        return StageOutcome("proposed", action.as_payload())
    if decision.escalate:
        ticket_services.ticket_escalate(ticket=ctx.ticket, reason=decision.reason or decision.reply, message=ctx.message)
        return StageOutcome("escalated", {"reason": decision.reason})
    _reply(ctx, decision.reply)
    return StageOutcome("refused", {"reply": decision.reply})


def _reply(ctx: PipelineContext, text: str) -> None:
    name = ctx.ticket.customer.first_name
    body = f"Hi {name},\n\n{text}" if name else text
    ticket_services.message_post(
        ticket=ctx.ticket, author=Message.Author.AI, body=body, in_reply_to=ctx.message, meta={"kind": "policy"}
    )
    ticket_services.ticket_set_status(ticket=ctx.ticket, status=Ticket.Status.ANSWERED, outcome="answered")
