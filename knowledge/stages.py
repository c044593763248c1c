"""Stage 3 of the pipeline: retrieve, compose, then let the confidence gate decide.

The gate has three outcomes: answer the customer directly; store the answer as a draft an
agent approves or edits (knowledge.services_drafts); or escalate with "missing knowledge"
and record the question as a knowledge gap.
"""

from __future__ import annotations

import logging
import re

from django.conf import settings

from knowledge import compose, retrieval
from knowledge.models import Article, Passage
from tickets import llm, services
from tickets.models import Intent, Message, Ticket
from tickets.pipeline import PipelineContext, StageOutcome
from tickets.selectors import order_for_customer

log = logging.getLogger(__name__)
ANSWER, DRAFT, MISSING = "answer", "draft", "missing"
FOLLOW_UP_WORDS = 8
# Words that point back into the conversation: "how long does *that* take?"
_ANAPHORA = re.compile(r"\b(it|that|this|those|these|they|them|one|there|then|also|and)\b", re.I)


def gate(*, linked: bool, similarity: float, confidence: float) -> str:
    """Answer, draft or missing, from intent confidence and retrieval score (thresholds read at call time).

    An article the classified intent links to goes out when the intent is very confident
    (RETRIEVAL_INTENT_CONFIDENCE) or the article is plausible (the draft score); one found by
    retrieval alone must clear RETRIEVAL_MIN_SCORE to go out unreviewed.
    """
    auto, draft = settings.RETRIEVAL_MIN_SCORE, settings.RETRIEVAL_DRAFT_SCORE
    if linked:
        sure = confidence >= settings.RETRIEVAL_INTENT_CONFIDENCE or similarity >= draft
        return ANSWER if sure else DRAFT
    if similarity >= auto:
        return ANSWER
    return DRAFT if similarity >= draft else MISSING


def _conversation(ctx: PipelineContext) -> tuple[str, Article | None]:
    """The previous customer turn and the article last cited to this customer, if any."""
    earlier_text, article = "", None
    for message in reversed(ctx.history()):
        if not earlier_text and message.author == Message.Author.CUSTOMER:
            earlier_text = message.body
        citations = (message.meta or {}).get("citations") if message.author == Message.Author.AI else None
        if article is None and citations:
            article = Article.objects.filter(slug=citations[0]["article"], status=Article.Status.PUBLISHED).first()
    return earlier_text, article


def _query(ctx: PipelineContext) -> tuple[str, Article | None]:
    """What to search for, and the article the conversation is already about.

    A short follow-up ("and how long does that take?") is searched together with the previous
    customer turn, and the article last cited keeps the lead unless the follow-up is clearly
    about something else (retrieval then outranks the boost by its own strength).
    """
    text = ctx.message.body
    if len(text.split()) > FOLLOW_UP_WORDS:
        return text, None
    earlier, article = _conversation(ctx)
    if not earlier:
        return text, None
    return f"{earlier} {text}", article if _ANAPHORA.search(text) else None


def _linked_articles(intent: str, intent_row) -> list[Article]:
    """Articles configured for the intent: the intent's own article, else those listing it."""
    published = Article.objects.filter(status=Article.Status.PUBLISHED, audience=Article.Audience.PUBLIC)
    if intent_row is not None and intent_row.article_slug:
        article = published.filter(slug=intent_row.article_slug).first()
        if article:
            return [article]
    if not intent:
        return []
    # JSON containment is not portable to SQLite: filter the (small) candidate set in Python.
    return [a for a in published.exclude(intents=[]).only("id", "slug", "title", "intents") if intent in (a.intents or [])]


def resolve(ctx: PipelineContext) -> StageOutcome | None:
    if ctx.route != "answer":
        return None
    if ctx.message.replies.filter(author=Message.Author.AI).exists():  # a re-run after a crash
        ctx.done = True
        return StageOutcome("already-answered")
    query, context_article = _query(ctx)
    # The ticket's intent, not this message's: classify keeps it through a vague follow-up.
    intent = ctx.ticket.intent
    intent_row = ctx.data.get("intent_row")
    if intent_row is not None and intent_row.name != intent:
        intent_row = Intent.objects.filter(name=intent).first()
    candidates = _linked_articles(intent, intent_row)
    if context_article is not None and not any(a.pk == context_article.pk for a in candidates):
        candidates.insert(0, context_article)
    hits = retrieval.search(
        query, k=3, boost_articles={a.pk for a in candidates}, locale=(ctx.message.meta or {}).get("locale")
    )
    ranking = [h.slug for h in hits]
    linked = next((a for h in hits for a in candidates if a.pk == h.article_id), candidates[0] if candidates else None)
    order, missing = order_for_customer(customer=ctx.ticket.customer, text=ctx.message.body)

    passage, similarity = None, 0.0
    if linked is not None:
        # The passage that answers what was just asked: in a follow-up, its own words.
        passages = retrieval.passages_of(linked, ctx.message.body)
        passage = passages[0] if passages else None
        similarity = next((h.similarity for h in hits if h.article_id == linked.pk), 0.0)
    elif hits:
        passage = Passage.objects.select_related("article").get(pk=hits[0].passage_id)
        similarity = hits[0].similarity
    confidence = ctx.ticket.confidence if ctx.ticket.confidence is not None else 1.0
    decision = gate(linked=linked is not None, similarity=similarity, confidence=confidence) if passage is not None else MISSING
    detail = {"retrieval": ranking, "similarity": round(similarity, 4), "gate": decision}
    if decision == MISSING and order is not None:
        decision, passage = ANSWER, None  # the customer's own order answers it
    if decision == MISSING:
        ctx.done = True
        services.event_record(
            ctx.ticket, stage="knowledge_gap", outcome="missing", message=ctx.message,
            detail={"question": ctx.message.body[:500], "intent": intent, "retrieval": ranking},
        )
        services.ticket_escalate(ticket=ctx.ticket, reason="missing knowledge", message=ctx.message)
        return StageOutcome("missing-knowledge", detail)

    body, meta = _compose(ctx, query=query, passage=passage, order=order, missing=missing, intent=intent)
    cited = [c["article"] for c in meta.get("citations", [])]
    detail["article"] = cited[0] if cited else None
    ctx.done = True
    if decision == DRAFT:
        services.message_post(
            ticket=ctx.ticket, author=Message.Author.AI, body=body, in_reply_to=ctx.message,
            meta={**meta, "kind": "draft", "status": "pending"}, deliver=False,
        )
        services.ticket_escalate(ticket=ctx.ticket, reason="draft awaiting approval", message=ctx.message)
        return StageOutcome("draft", detail)
    services.message_post(ticket=ctx.ticket, author=Message.Author.AI, body=body, in_reply_to=ctx.message, meta=meta)
    services.ticket_set_status(ticket=ctx.ticket, status=Ticket.Status.ANSWERED, outcome="answered")
    return StageOutcome("answered", detail)


def _compose(ctx: PipelineContext, *, query: str, passage, order, missing, intent: str) -> tuple[str, dict]:
    if llm.enabled():
        from knowledge.llm_compose import compose_with_llm

        try:
            return compose_with_llm(ctx=ctx, query=query, passages=[passage] if passage else [], order=order)
        except llm.LLMError as exc:
            log.warning("LLM composition failed, using the offline composer: %s", exc)
            services.event_record(ctx.ticket, stage="llm", outcome="fallback", detail={"error": str(exc)[:300]})
    sentiment = ctx.triage.sentiment if ctx.triage else ctx.ticket.sentiment
    return compose.compose_answer(
        customer=ctx.ticket.customer,
        query=query,
        focus=ctx.message.body,
        passage=passage,
        sentiment=sentiment,
        order=order,
        missing_order=missing if order is None else None,
        workspace=ctx.workspace,
    )
