"""Stage 3 of the pipeline: retrieve, compose, reply — or record a knowledge gap."""

from __future__ import annotations

import logging

from django.conf import settings

from knowledge import compose, retrieval
from knowledge.models import Article, Passage
from tickets import llm, services
from tickets.models import Message, Ticket
from tickets.pipeline import PipelineContext, StageOutcome
from tickets.selectors import order_for_customer

log = logging.getLogger(__name__)
ORDER_INTENTS = {"order_status", "track_order"}


def _query(ctx: PipelineContext) -> str:
    """The message, with the previous customer turn when it is a short follow-up."""
    text = ctx.message.body
    if len(text.split()) <= 8:
        earlier = [m.body for m in ctx.history() if m.author == Message.Author.CUSTOMER]
        if earlier:
            return f"{earlier[-1]} {text}"
    return text


def _linked_articles(intent: str, intent_row) -> list[Article]:
    """Articles configured for the intent: the intent's own article, else those listing it."""
    published = Article.objects.filter(status=Article.Status.PUBLISHED)
    if intent_row is not None and intent_row.article_slug:
        article = published.filter(slug=intent_row.article_slug).first()
        if article:
            return [article]
    # JSON containment is not portable to SQLite: filter the (small) candidate set in Python.
    return [a for a in published.exclude(intents=[]).only("id", "slug", "title", "intents") if intent in (a.intents or [])]


def resolve(ctx: PipelineContext) -> StageOutcome | None:
    if ctx.route != "answer":
        return None
    if ctx.message.replies.filter(author=Message.Author.AI).exists():  # a re-run after a crash
        ctx.done = True
        return StageOutcome("already-answered")
    query = _query(ctx)
    intent = ctx.triage.intent if ctx.triage else ctx.ticket.intent
    candidates = _linked_articles(intent, ctx.data.get("intent_row"))
    hits = retrieval.search(query, k=3, boost_articles={a.pk for a in candidates})
    linked = next((a for h in hits for a in candidates if a.pk == h.article_id), candidates[0] if candidates else None)
    ranking = [h.slug for h in hits]
    order, missing = order_for_customer(customer=ctx.ticket.customer, text=ctx.message.body)

    passage = None
    if linked is not None:
        passages = retrieval.passages_of(linked, query)
        passage = passages[0] if passages else None
    elif hits and (hits[0].similarity >= settings.RETRIEVAL_MIN_SCORE or hits[0].similarity == 0.0):
        passage = Passage.objects.select_related("article").get(pk=hits[0].passage_id)
    if passage is None and order is None:
        ctx.done = True
        services.event_record(
            ctx.ticket, stage="knowledge_gap", outcome="missing", message=ctx.message,
            detail={"question": ctx.message.body[:500], "intent": intent, "retrieval": ranking},
        )
        services.ticket_escalate(ticket=ctx.ticket, reason="missing knowledge", message=ctx.message)
        return StageOutcome("missing-knowledge", {"retrieval": ranking})

    sentiment = ctx.triage.sentiment if ctx.triage else ctx.ticket.sentiment
    body, meta = None, None
    if llm.enabled():
        from knowledge.llm_compose import compose_with_llm

        try:
            body, meta = compose_with_llm(ctx=ctx, query=query, passages=[passage] if passage else [], order=order)
        except llm.LLMError as exc:
            log.warning("LLM composition failed, using the offline composer: %s", exc)
            services.event_record(ctx.ticket, stage="llm", outcome="fallback", detail={"error": str(exc)[:300]})
    if body is None:
        body, meta = compose.compose_answer(
            customer=ctx.ticket.customer,
            query=query,
            passage=passage,
            sentiment=sentiment,
            order=order if intent in ORDER_INTENTS or order else None,
            missing_order=missing if order is None else None,
        )
    services.message_post(ticket=ctx.ticket, author=Message.Author.AI, body=body, in_reply_to=ctx.message, meta=meta)
    services.ticket_set_status(ticket=ctx.ticket, status=Ticket.Status.ANSWERED, outcome="answered")
    ctx.done = True
    cited = [c["article"] for c in meta.get("citations", [])]
    return StageOutcome("answered", {"article": cited[0] if cited else None, "retrieval": ranking,
                                     "similarity": round(hits[0].similarity, 4) if hits else None})
