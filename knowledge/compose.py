"""Offline reply composition: passages + the customer's own data, in the brand's voice.

Every factual sentence comes verbatim from a passage or from the customer's own records
(order, refund, plan); the composer only adds the greeting, the tone, the link and the
sign-off. Tests hold it to that: each sentence of a reply is boilerplate or found in a source.
"""

from __future__ import annotations

import re

import numpy as np
from django.conf import settings

from knowledge.index import sentences as split_sentences
from knowledge.models import Passage
from knowledge.retrieval import query_text
from tickets.embeddings import embed
from tickets.models import Customer, Order, Workspace

MAX_SENTENCES = 3
_PLAN_WORDS = re.compile(r"\b(plan|subscription|membership|tier|upgrade|downgrade)\b", re.I)


def best_sentences(passage_text: str, query: str, limit: int = MAX_SENTENCES) -> list[str]:
    """The passage's sentences closest in meaning to the question, in the passage's own order."""
    sentences = split_sentences(passage_text)
    if len(sentences) <= limit:
        return sentences
    vectors = embed([query_text(query)] + sentences)
    closest = np.argsort(vectors[1:] @ vectors[0])[::-1][:limit]
    return [sentences[i] for i in sorted(closest)]


def _date(value) -> str:
    return value.strftime("%b %-d") if value else ""


def order_facts(order: Order) -> str:
    """One sentence of what the store's records say about the order, and nothing else."""
    items = ", ".join(i.get("name", "") for i in order.items if i.get("name")) or "your items"
    base = f"Order {order.number} ({items}, {order.currency} {order.total})"
    if order.status == Order.Status.DELIVERED:
        return f"{base} was delivered on {_date(order.delivered_at)}."
    if order.status == Order.Status.SHIPPED:
        tracking = f" with {order.carrier}, tracking number {order.tracking_number}" if order.tracking_number else ""
        return f"{base} shipped on {_date(order.shipped_at)}{tracking} and is on its way."
    if order.status in (Order.Status.PENDING, Order.Status.PAID):
        return f"{base} was placed on {_date(order.placed_at)} and has not shipped yet."
    if order.status == Order.Status.REFUNDED:
        return f"{base} has been refunded to {order.payment_label}."
    return f"{base} is {order.status}."


def plan_facts(customer: Customer, workspace: Workspace) -> str:
    if not customer.plan:
        return ""
    price = (workspace.plans or {}).get(customer.plan)
    return f"You are on the {customer.plan} plan" + (f" ({price} a month)." if price else ".")


def greeting(customer: Customer, workspace: Workspace) -> str:
    name = customer.first_name
    if "formal" in (workspace.voice or "").lower():
        return f"Hello {customer.name}," if customer.name else "Hello,"
    return f"Hi {name}," if name else "Hi there,"


def tone_opening(sentiment: str) -> str:
    if sentiment == "negative":
        return "I'm sorry for the trouble, and I'll help you sort this out."
    if sentiment == "positive":
        return "Thanks for getting in touch!"
    return ""


def _calm(text: str) -> str:
    """No exclamation marks to an upset customer."""
    return text.replace("!", ".")


def compose_answer(
    *,
    customer: Customer,
    query: str,
    passage: Passage | None,
    sentiment: str,
    order: Order | None = None,
    missing_order: str | None = None,
    focus: str | None = None,
    workspace: Workspace | None = None,
) -> tuple[str, dict]:
    """The reply and its meta. `focus` is the customer's latest words when `query` also
    carries earlier turns: the sentences quoted are the ones closest to what was just asked.
    `workspace`: the voice to write in (the current workspace when not given)."""
    workspace = workspace or Workspace.current()
    parts = [greeting(customer, workspace)]
    opening = tone_opening(sentiment)
    if opening:
        parts.append(opening)
    if order is not None:
        parts.append(order_facts(order))
    elif missing_order:
        parts.append(
            f"I couldn't find an order {missing_order} on your account. Could you check the number, "
            "or write from the email address you ordered with?"
        )
    if _PLAN_WORDS.search(focus or query):
        parts.append(plan_facts(customer, workspace))
    citations = []
    if passage is not None:
        parts.append(" ".join(best_sentences(passage.text, focus or query)))
        article = passage.article
        parts.append(f"More in our help centre: {article.title} — {settings.SITE_URL}/help/{article.slug}/")
        citations.append({"article": article.slug, "passage": passage.pk, "title": article.title})
    parts.append(workspace.sign_off)
    body = "\n\n".join(p for p in parts if p)
    if sentiment == "negative":
        body = _calm(body)
    return body, {"kind": "answer", "citations": citations}
