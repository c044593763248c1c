"""Reads that need care: order references in customer text, scoped to the customer."""

from __future__ import annotations

import re

from tickets.models import Customer, Order

ORDER_REF = re.compile(r"(?<![\w-])#?([A-Z]{1,4}-?\d{3,})\b", re.I)


def order_numbers_in(text: str) -> list[str]:
    """Order numbers as the store writes them ("N-1042"); "#n1042" and "n-1042" match too."""
    found = []
    for raw in ORDER_REF.findall(text or ""):
        match = re.match(r"([A-Za-z]+)-?(\d+)", raw)
        number = f"{match.group(1).upper()}-{match.group(2)}" if match else raw.upper()
        if number not in found:
            found.append(number)
    return found


def order_for_customer(*, customer: Customer, text: str) -> tuple[Order | None, str | None]:
    """The order the text names, only if it belongs to this customer.

    Returns (order, referenced_number). An order of someone else's is reported as not found,
    so a stranger learns nothing about it.
    """
    numbers = order_numbers_in(text)
    if not numbers:
        return None, None
    order = Order.objects.filter(number__in=numbers, customer=customer).first()
    return order, (order.number if order else numbers[0])


def recent_orders(*, customer: Customer, limit: int = 3) -> list[Order]:
    return list(Order.objects.filter(customer=customer).order_by("-placed_at")[:limit])
