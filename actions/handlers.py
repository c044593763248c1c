"""Action handlers: policy checks and the words of the confirmation, looked up by type.

Policy, identity and limits live here in code, never in a prompt. Adding an action is adding
one ActionHandler subclass with `type` set, and its tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from actions.connectors.base import store
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


class ActionHandler:
    type = ""
    needs_order = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.type:
            REGISTRY[cls.type] = cls

    def plan(self, *, customer: Customer, order: Order | None, text: str, workspace: Workspace) -> Plan | Refusal:
        raise NotImplementedError

    def execute(self, *, plan_params: dict, order: Order | None, workspace: Workspace) -> dict:
        raise NotImplementedError

    def done_text(self, *, result: dict, order: Order | None) -> str:
        raise NotImplementedError


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
