"""Action handlers: policy checks and the words of the confirmation, looked up by type.

Policy, identity and limits live here in code, never in a prompt. Adding an action is adding
one ActionHandler subclass with `type` set, and its tests.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from decimal import Decimal

from actions.connectors.base import store
from tickets import clock
from tickets.models import Customer, Order, Workspace

REGISTRY: dict[str, type[ActionHandler]] = {}


@dataclass
class Plan:
    """What will happen if the customer says yes."""

    summary: str  # names the order and amount: "I will cancel order N-1042 ..."
    order: Order | None = None
    amount: Decimal | None = None
    params: dict = field(default_factory=dict)


@dataclass
class Refusal:
    """The policy says no (or more is needed); the reply explains, or a person takes over."""

    reply: str
    escalate: bool = False
    reason: str = ""


class ActionHandler(ABC):
    """One action type: `plan` checks policy and words the confirmation; `execute` runs it once
    through the store backend; `done_text` tells the customer what happened."""

    type = ""
    needs_order = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.type:
            REGISTRY[cls.type] = cls

    @abstractmethod
    def plan(self, *, customer: Customer, order: Order | None, text: str, workspace: Workspace) -> Plan | Refusal:
        """A Plan to confirm with the customer, or a Refusal saying why not."""

    @abstractmethod
    def execute(self, *, plan_params: dict, order: Order | None, workspace: Workspace) -> dict:
        """Run the confirmed plan; raise BackendError when the store refuses."""

    @abstractmethod
    def done_text(self, *, result: dict, order: Order | None) -> str:
        """The customer-facing sentence after a successful execution."""


def handler_for(action_type: str) -> ActionHandler | None:
    cls = REGISTRY.get(action_type)
    return cls() if cls else None


def _items(order: Order) -> str:
    return ", ".join(i.get("name", "") for i in order.items if i.get("name")) or "your items"


class CancelOrder(ActionHandler):
    type = "cancel_order"

    def plan(self, *, customer, order, text, workspace):
        if order is None:
            return Refusal("Which order would you like to cancel? Please send me its number (for example N-1042).")
        allowed = workspace.cancel_states or ["pending", "paid"]
        if order.status not in allowed:
            if order.status in (Order.Status.SHIPPED, Order.Status.DELIVERED):
                return Refusal(
                    f"Order {order.number} has already {order.status}, so it can no longer be cancelled. "
                    "Once it arrives you can return it for a refund within our return window."
                )
            return Refusal(f"Order {order.number} is {order.status}, so there is nothing to cancel.")
        refund = f" and refund {order.currency} {order.total} to your {order.payment_label}" if order.total else ""
        return Plan(
            summary=f"I will cancel order {order.number} ({_items(order)}){refund}. Shall I go ahead?",
            order=order,
            amount=order.total,
        )

    def execute(self, *, plan_params, order, workspace):
        return store().cancel_order(order_number=order.number, allowed_states=workspace.cancel_states or ["pending", "paid"])

    def done_text(self, *, result, order):
        return (
            f"Done: order {order.number} is cancelled. The refund of {order.currency} {result.get('refund')} "
            f"goes back to your {order.payment_label} within 5 to 10 business days."
        )


def _money(order: Order, amount: Decimal) -> str:
    symbol = "$" if order.currency in ("USD", "CAD") else f"{order.currency} "
    return f"{symbol}{amount:.2f}"


def _named_items(order: Order, text: str) -> tuple[str, Decimal]:
    """The line items the customer names ("the headphones from N-1095"), else the whole order."""
    lowered = text.lower()
    named = [
        item
        for item in order.items
        if item.get("name") and any(w in lowered for w in re.findall(r"[a-z]{4,}", item["name"].lower()))
    ]
    if named and len(named) < len(order.items):
        amount = sum(Decimal(str(i.get("unit_price", 0))) * int(i.get("qty", 1)) for i in named)
        return ", ".join(i["name"] for i in named), amount
    return _items(order), order.total


class Refund(ActionHandler):
    """Money back for a delivered order, inside the refund window and under the approval limit."""

    type = "refund"

    def plan(self, *, customer, order, text, workspace):
        if order is None:
            return Refusal("Which order would you like a refund for? Please send me its number (for example N-1042).")
        if order.status == Order.Status.REFUNDED:
            return Refusal(f"Order {order.number} has already been refunded to your {order.payment_label}.")
        if order.status != Order.Status.DELIVERED or order.delivered_at is None:
            return Refusal(
                f"Order {order.number} is {order.status} and hasn't been delivered, so it can't be refunded yet."
                + (" You can ask me to cancel it instead." if order.status in (workspace.cancel_states or []) else "")
            )
        days = (clock.now() - order.delivered_at).days
        if days > workspace.refund_window_days:
            return Refusal(
                f"Order {order.number} was delivered {days} days ago, outside our {workspace.refund_window_days}-day "
                "refund window, so I can't refund it."
            )
        items, amount = _named_items(order, text)
        if amount > workspace.refund_approval_over:
            return Refusal(
                "",
                escalate=True,
                reason=f"refund of {_money(order, amount)} is over the {workspace.refund_approval_over} approval limit",
            )
        return Plan(
            summary=f"I will refund {_money(order, amount)} for {items} from order {order.number} to your "
            f"{order.payment_label}. Shall I go ahead?",
            order=order,
            amount=amount,
            params={"amount": str(amount)},
        )

    def execute(self, *, plan_params, order, workspace):
        return store().refund(order_number=order.number, amount=plan_params["amount"])

    def done_text(self, *, result, order):
        return (
            f"Done: I've refunded {_money(order, Decimal(result['refunded']))} for order {order.number}. It reaches "
            f"your {order.payment_label} within 5 to 10 business days."
        )


_ADDRESS = re.compile(r"\bto[:\s]+(\d+[^\n]*?)(?:\s+instead)?[.!?]*\s*$", re.I | re.M)


class ChangeAddress(ActionHandler):
    type = "change_address"

    def plan(self, *, customer, order, text, workspace):
        if order is None:
            return Refusal("Which order should go to a new address? Please send me its number and the new address.")
        allowed = workspace.address_change_states or ["pending", "paid"]
        if order.status not in allowed:
            return Refusal(
                f"Order {order.number} has already {order.status}, so its address can no longer be changed. "
                "The carrier's tracking page may let you redirect the parcel."
            )
        match = _ADDRESS.search(text)
        if not match:
            return Refusal(f"What is the new shipping address for order {order.number}? Please send it in full.")
        address = match.group(1).strip().rstrip(".?!").strip()[:300]
        return Plan(
            summary=f"I will change the shipping address of order {order.number} to: {address}. Shall I go ahead?",
            order=order,
            params={"address": address},
        )

    def execute(self, *, plan_params, order, workspace):
        return store().change_address(
            order_number=order.number,
            address=plan_params["address"],
            allowed_states=workspace.address_change_states or ["pending", "paid"],
        )

    def done_text(self, *, result, order):
        return f"Done: order {order.number} will ship to {result['address']}."


class ResetPassword(ActionHandler):
    """Sends a reset link to the email on file — never to an address given in the message."""

    type = "reset_password"
    needs_order = False

    def plan(self, *, customer, order, text, workspace):
        if not customer.email:
            return Refusal("", escalate=True, reason="password reset for a customer without an email on file")
        return Plan(summary=f"I will email a password reset link to {_masked(customer.email)}. Shall I go ahead?",
                    params={"email": customer.email})

    def execute(self, *, plan_params, order, workspace):
        return store().send_password_reset(email=plan_params["email"])

    def done_text(self, *, result, order):
        return f"Done: a reset link is on its way to {_masked(result['sent_to'])}. It works for one hour."


def _masked(email: str) -> str:
    name, _, domain = email.partition("@")
    return f"{name[:1]}{'*' * max(len(name) - 1, 1)}@{domain}"


class ReturnLabel(ActionHandler):
    type = "return_label"

    def plan(self, *, customer, order, text, workspace):
        if order is None:
            return Refusal("Which order would you like to return? Please send me its number (for example N-1042).")
        if order.status != Order.Status.DELIVERED or order.delivered_at is None:
            return Refusal(f"Order {order.number} is {order.status}; a return label is for delivered orders.")
        days = (clock.now() - order.delivered_at).days
        if days > workspace.refund_window_days:
            return Refusal(
                f"Order {order.number} was delivered {days} days ago, outside our {workspace.refund_window_days}-day "
                "return window."
            )
        items, _ = _named_items(order, text)
        return Plan(
            summary=f"I will create a prepaid return label for {items} from order {order.number} and email it to "
            "you. Shall I go ahead?",
            order=order,
        )

    def execute(self, *, plan_params, order, workspace):
        return store().create_return_label(order_number=order.number)

    def done_text(self, *, result, order):
        return (
            f"Done: your return label for order {order.number} is ready ({result['rma']}): {result['label_url']}. "
            "Your refund starts once the parcel reaches us."
        )


class ChangePlan(ActionHandler):
    type = "change_plan"
    needs_order = False

    def plan(self, *, customer, order, text, workspace):
        plans = workspace.plans or {}
        wanted = [p for p in plans if re.search(rf"\b{re.escape(p)}\b", text, re.I)]
        if len(wanted) != 1:
            options = ", ".join(f"{p.title()} (${price}/month)" for p, price in plans.items())
            return Refusal(f"Which plan would you like? We offer {options}." if options else "", escalate=not options,
                           reason="no plans configured")
        plan = wanted[0]
        if customer.plan == plan:
            return Refusal(f"You're already on the {plan.title()} plan.")
        current = f" from {customer.plan.title()}" if customer.plan else ""
        return Plan(
            summary=f"I will switch your membership{current} to {plan.title()} at ${plans[plan]}/month, starting "
            "with your next bill. Shall I go ahead?",
            amount=Decimal(str(plans[plan])),
            params={"plan": plan, "customer": customer.pk},
        )

    def execute(self, *, plan_params, order, workspace):
        return store().change_plan(customer_id=plan_params["customer"], plan=plan_params["plan"])

    def done_text(self, *, result, order):
        return f"Done: you're now on the {result['plan'].title()} plan."
