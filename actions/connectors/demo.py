"""The built-in demo store: orders live in this database (tickets.Order)."""

from __future__ import annotations

from django.utils import timezone

from actions.connectors.base import BackendError, StoreBackend
from tickets.models import Order


class DemoStore(StoreBackend):
    def cancel_order(self, *, order_number: str, allowed_states: list[str]) -> dict:
        # Conditional update: a concurrent shipment or a second cancel cannot both win.
        changed = Order.objects.filter(number=order_number, status__in=allowed_states).update(
            status=Order.Status.CANCELLED, updated_at=timezone.now()
        )
        if not changed:
            status = Order.objects.filter(number=order_number).values_list("status", flat=True).first()
            raise BackendError(f"order {order_number} cannot be cancelled (status {status})")
        order = Order.objects.get(number=order_number)
        return {"order": order.number, "status": order.status, "refund": str(order.total)}
