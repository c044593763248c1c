"""Stage 2 of the pipeline: classify, route, and the final catch-all."""

from __future__ import annotations

import re

from django.conf import settings

from tickets import llm, llm_triage, routing, services, triage
from tickets.models import Intent, Message, RoutingRule, Ticket
from tickets.pipeline import PipelineContext, StageOutcome

ESCALATE_INTENTS = {"oos", "out_of_scope"}


def _text_for_classification(ctx: PipelineContext) -> str:
    subject = ctx.ticket.subject if ctx.ticket.channel == "email" else ""
    body = ctx.message.body
    if subject and not body.startswith(subject[:40]):
        return f"{subject}. {body}"
    return body


def classify(ctx: PipelineContext) -> StageOutcome:
    text = _text_for_classification(ctx)
    mode = "offline"
    if ctx.workspace.triage_enabled:
        paths = dict(Intent.objects.values_list("name", "path"))
        result = None
        if llm.enabled() and settings.LLM_CLASSIFY:
            try:
                result, mode = llm_triage.classify(text, paths=paths), "llm"
            except llm.LLMError as exc:
                services.event_record(
                    ctx.ticket,
                    stage="llm",
                    outcome="fallback",
                    message=ctx.message,
                    detail={"task": "classify", "error": str(exc)[:300]},
                )
        if result is None:
            result = triage.classify(text, paths=paths)
    else:
        # No taxonomy and no model to train (e.g. a knowledge base alone): route sends it to retrieval.
        result = triage.classify_without_intent(text)
    ctx.triage = result
    ticket = ctx.ticket
    first_message = not ticket.intent
    # A short follow-up ("and how long does that take?") keeps the ticket's intent unless the
    # model is confident it is about something else.
    if first_message or result.confidence >= 0.5:
        ticket.intent = result.intent
        ticket.confidence = result.confidence
    ticket.urgency, ticket.sentiment, ticket.complexity = result.urgency, result.sentiment, result.complexity
    if ticket.status in {Ticket.Status.NEW, Ticket.Status.REOPENED}:
        ticket.status = Ticket.Status.TRIAGED
    ticket.save(update_fields=["intent", "confidence", "urgency", "sentiment", "complexity", "status", "updated_at"])
    return StageOutcome(
        result.intent,
        {
            "mode": mode,
            "confidence": round(result.confidence, 4),
            "sentiment": result.sentiment,
            "urgency": result.urgency,
            "complexity": result.complexity,
            "alternatives": [[name, round(p, 4)] for name, p in result.alternatives],
        },
    )


def route(ctx: PipelineContext) -> StageOutcome:
    """The editable rules (tickets.routing) first, in their order; then the built-in ones:
    workspace keywords, escalate intents, VIP complaints, low confidence."""
    workspace = ctx.workspace
    text = ctx.message.body
    intent = ctx.triage.intent
    intent_row = Intent.objects.filter(name=intent).first()
    decision = routing.rules_evaluate(
        ticket=ctx.ticket, text=text, intent=intent, urgency=ctx.triage.urgency, sentiment=ctx.triage.sentiment
    )
    detail: dict = {}
    if decision.priorities:
        urgency = decision.priorities[-1][1]
        ctx.triage.urgency = ctx.ticket.urgency = urgency
        ctx.ticket.save(update_fields=["urgency", "updated_at"])
        detail["priority"] = [f"rule '{name}' set {value}" for name, value in decision.priorities]
    if decision.action == RoutingRule.Action.ESCALATE:
        return _escalate(ctx, f"'{decision.rule.name}'", detail)
    if decision.action == RoutingRule.Action.RESOLVE:
        # The customer's rule says "let the AI try": low confidence and escalate paths are
        # overridden; a ticket the AI cannot answer still reaches a person through finalize.
        path = intent_row.path if intent_row else Intent.Path.ANSWER
        ctx.route = Intent.Path.ANSWER if path == Intent.Path.ESCALATE else path
        ctx.data["intent_row"] = intent_row
        return StageOutcome(ctx.route, {**detail, "rule": f"'{decision.rule.name}'", "intent": intent})
    for keyword in workspace.escalate_keywords or []:
        if keyword and re.search(rf"\b{re.escape(keyword)}\b", text, re.I):
            return _escalate(ctx, f"keyword '{keyword}'", detail)
    if intent in ESCALATE_INTENTS or (intent_row and intent_row.path == Intent.Path.ESCALATE):
        return _escalate(ctx, f"intent '{intent}' always goes to a person", detail)
    customer = ctx.ticket.customer
    if workspace.escalate_vip_complaints and customer.vip and (intent == "complaint" or ctx.triage.sentiment == "negative"):
        return _escalate(ctx, "'VIP complaint'", detail)
    threshold = workspace.confidence_threshold or settings.TRIAGE_CONFIDENCE_THRESHOLD
    if getattr(ctx.triage, "doubtful", False):
        return _escalate(ctx, f"fits no intent well (confidence {ctx.triage.confidence:.2f})", detail)
    if ctx.triage.confidence < threshold:
        return _escalate(ctx, f"low confidence ({ctx.triage.confidence:.2f} < {threshold:.2f})", detail)
    ctx.route = intent_row.path if intent_row else Intent.Path.ANSWER
    ctx.data["intent_row"] = intent_row
    return StageOutcome(ctx.route, {**detail, "rule": "intent path", "intent": intent})


def _escalate(ctx: PipelineContext, reason: str, detail: dict | None = None) -> StageOutcome:
    ctx.route, ctx.route_reason, ctx.done = "escalate", reason, True
    services.ticket_escalate(ticket=ctx.ticket, reason=f"escalated: rule {reason}", message=ctx.message)
    return StageOutcome("escalate", {**(detail or {}), "rule": reason})


def finalize(ctx: PipelineContext) -> StageOutcome:
    """No stage answered or acted: a person takes it."""
    already = ctx.message.replies.filter(author__in=[Message.Author.AI, Message.Author.SYSTEM]).exists()
    if already:
        return StageOutcome("noop")
    reason = ctx.route_reason or "no stage could answer"
    services.ticket_escalate(ticket=ctx.ticket, reason=reason, message=ctx.message)
    return StageOutcome("escalated", {"reason": reason})
