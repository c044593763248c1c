"""Admin-edited routing rules: which tickets always go to a person, which the AI always tries,
and which get a different priority. The route stage (tickets.stages.route) asks this module
first and falls back to the built-in rules only when no escalate/resolve rule matched."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from tickets.models import Order, RoutingRule, Ticket

URGENCY_RANK = {"low": 0, "normal": 1, "high": 2, "urgent": 3}

# "$250", "250 dollars", "USD 250.00", "€1,200": an amount the customer names.
_AMOUNT = re.compile(
    r"(?:[$€£]\s?|\b(?:usd|eur|gbp)\s?)(\d[\d,]*(?:\.\d{1,2})?)\b"
    r"|\b(\d[\d,]*(?:\.\d{1,2})?)\s?(?:dollars|bucks|usd|eur|euros|gbp|pounds)\b",
    re.I,
)


@dataclass
class RouteDecision:
    """`rule` is the escalate/resolve rule that matched, if any; `priorities` every priority set."""

    rule: RoutingRule | None = None
    priorities: list[tuple[str, str]] = field(default_factory=list)  # (rule name, urgency)

    @property
    def action(self) -> str:
        return self.rule.action if self.rule else ""


def amounts_mentioned(text: str) -> list[Decimal]:
    found = []
    for match in _AMOUNT.finditer(text):
        raw = (match.group(1) or match.group(2)).replace(",", "")
        try:
            found.append(Decimal(raw))
        except InvalidOperation:
            continue
    return found


def _orders_named(ticket: Ticket, text: str) -> list[Order]:
    # Only the ticket's own customer's orders: a stranger's order number must not unlock a rule.
    orders = Order.objects.filter(customer_id=ticket.customer_id).only("number", "total")
    return [
        o for o in orders if re.search(rf"(?<![\w-]){re.escape(o.number)}(?![\w-])", text, re.I)
    ]


def _keyword_hit(keywords: list[str], text: str) -> str | None:
    for keyword in keywords or []:
        if keyword and re.search(rf"\b{re.escape(keyword)}\b", text, re.I):
            return keyword
    return None


def rule_matches(
    rule: RoutingRule, *, ticket: Ticket, text: str, intent: str, urgency: str, sentiment: str
) -> bool:
    """Every condition the rule sets must hold; an empty condition holds for any ticket."""
    if rule.intent and rule.intent != intent:
        return False
    if rule.min_urgency and URGENCY_RANK.get(urgency, 1) < URGENCY_RANK[rule.min_urgency]:
        return False
    if rule.sentiment and rule.sentiment != sentiment:
        return False
    if rule.vip_only and not ticket.customer.vip:
        return False
    if rule.keywords and _keyword_hit(rule.keywords, text) is None:
        return False
    if rule.amount_over is not None:
        amounts = amounts_mentioned(text) + [o.total for o in _orders_named(ticket, text)]
        if not any(amount > rule.amount_over for amount in amounts):
            return False
    return True


def rules_evaluate(
    *, ticket: Ticket, text: str, intent: str, urgency: str, sentiment: str
) -> RouteDecision:
    """Walk the enabled rules in (order, id). Every matching set-priority rule applies, and later
    rules see the urgency it set; the first matching escalate or resolve rule ends the walk."""
    decision = RouteDecision()
    for rule in RoutingRule.objects.filter(enabled=True).order_by("order", "id"):
        if not rule_matches(
            rule, ticket=ticket, text=text, intent=intent, urgency=urgency, sentiment=sentiment
        ):
            continue
        if rule.action == RoutingRule.Action.SET_PRIORITY:
            urgency = rule.priority
            decision.priorities.append((rule.name, rule.priority))
            continue
        decision.rule = rule
        break
    return decision
