"""Offline reply composition: passages + the customer's own data, in the brand's voice.

Every factual sentence comes verbatim from a passage or from the customer's order record;
the composer only adds the greeting, the tone and the citation.
"""

from __future__ import annotations

import re

from django.conf import settings

from knowledge.models import Passage
from tickets.models import Customer, Order, Workspace
from tickets.triage import normalise

STOP = set(
    "a an the to of and or for in on at is are be it i my me you your we our us do does did can could "
    "how what when where why which with this that there have has was were will would should please".split()
)


def _sentences(text: str) -> list[str]:
    plain = re.sub(r"[*_`>#]+", "", text)
    plain = re.sub(r"^\s*[-•]\s+", "", plain, flags=re.M)
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", plain) if len(s.strip()) > 2]


def best_sentences(passage_text: str, query: str, limit: int = 3) -> list[str]:
    """The passage's sentences most related to the query, in the passage's own order."""
    sentences = _sentences(passage_text)
    if len(sentences) <= limit:
        return sentences
    words = {w for w in re.findall(r"[a-z]+", normalise(query)) if w not in STOP}
    scored = []
    for i, sentence in enumerate(sentences):
        overlap = len(words & set(re.findall(r"[a-z]+", sentence.lower())))
        scored.append((overlap, -i, i))
    keep = sorted(i for _, _, i in sorted(scored, reverse=True)[:limit])
    if keep and scored[keep[0]][0] == 0:
        keep = list(range(limit))
    return [sentences[i] for i in keep]


def _date(value) -> str:
    return value.strftime("%b %-d") if value else ""


def order_facts(order: Order) -> str:
    items = ", ".join(i.get("name", "") for i in order.items if i.get("name")) or "your items"
    base = f"Order {order.number} ({items}, {order.currency} {order.total})"
    if order.status == Order.Status.DELIVERED:
        return f"{base} was delivered on {_date(order.delivered_at)}."
    if order.status == Order.Status.SHIPPED:
        tracking = f" with {order.carrier}, tracking number {order.tracking_number}" if order.tracking_number else ""
        return f"{base} shipped on {_date(order.shipped_at)}{tracking} and is on its way."
    if order.status in (Order.Status.PENDING, Order.Status.PAID):
        return f"{base} was placed on {_date(order.placed_at)} and has not shipped yet."
    return f"{base} is {order.status}."


def greeting(customer: Customer) -> str:
    name = customer.first_name
    return f"Hi {name}," if name else "Hi there,"


def tone_opening(sentiment: str) -> str:
    if sentiment == "negative":
        return "I'm sorry for the trouble, and I'll help you sort this out."
    if sentiment == "positive":
        return "Thanks for getting in touch!"
    return ""


def compose_answer(
    *,
    customer: Customer,
    query: str,
    passage: Passage | None,
    sentiment: str,
    order: Order | None = None,
    missing_order: str | None = None,
) -> tuple[str, dict]:
    workspace = Workspace.current()
    parts = [greeting(customer)]
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
    citations = []
    if passage is not None:
        parts.append(" ".join(best_sentences(passage.text, query)))
        article = passage.article
        parts.append(f"More in our help centre: {article.title} — {settings.SITE_URL}/help/{article.slug}/")
        citations.append({"article": article.slug, "passage": passage.pk, "title": article.title})
    parts.append(workspace.sign_off)
    return "\n\n".join(p for p in parts if p), {"kind": "answer", "citations": citations}
