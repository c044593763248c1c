"""The built-in demo store: orders and plans live in this database (tickets.Order, Customer)."""

from __future__ import annotations

import hashlib
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from actions.connectors.base import BackendError, StoreBackend
from tickets.models import Customer, Order


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

    def refund(self, *, order_number: str, amount: str) -> dict:
        order = Order.objects.get(number=order_number)
        if Decimal(amount) > order.total:
            raise BackendError(f"refund {amount} exceeds the order total {order.total}")
        full = Decimal(amount) == order.total
        changed = Order.objects.filter(number=order_number, status=Order.Status.DELIVERED).update(
            status=Order.Status.REFUNDED if full else Order.Status.DELIVERED, updated_at=timezone.now()
        )
        if not changed:
            raise BackendError(f"order {order_number} cannot be refunded (status {order.status})")
        return {"order": order_number, "refunded": str(amount), "status": "refunded" if full else "partially refunded"}

    def change_address(self, *, order_number: str, address: str, allowed_states: list[str]) -> dict:
        changed = Order.objects.filter(number=order_number, status__in=allowed_states).update(
            shipping_address=address, updated_at=timezone.now()
        )
        if not changed:
            raise BackendError(f"order {order_number} has left the warehouse; its address cannot change")
        return {"order": order_number, "address": address}

    def send_password_reset(self, *, email: str) -> dict:
        from django.core.mail import send_mail

        token = hashlib.sha256(f"{email}{timezone.now().isoformat()}".encode()).hexdigest()[:24]
        link = f"{settings.SITE_URL}/account/reset/{token}/"
        send_mail(
            "Reset your password",
            f"Use this link within 1 hour to choose a new password: {link}\n\nIf you did not ask for it, ignore this email.",
            settings.DEFAULT_FROM_EMAIL,
            [email],
        )
        return {"sent_to": email}

    def create_return_label(self, *, order_number: str) -> dict:
        rma = "RMA-" + hashlib.sha1(order_number.encode()).hexdigest()[:8].upper()
        return {"order": order_number, "rma": rma, "label_url": f"{settings.SITE_URL}/returns/{rma}.pdf"}

    def change_plan(self, *, customer_id: int, plan: str) -> dict:
        Customer.objects.filter(pk=customer_id).update(plan=plan)
        return {"plan": plan}
