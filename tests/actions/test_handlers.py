"""Each built-in action: the policy in code, the confirmation naming what happens, one execution."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from actions import services
from actions.handlers import Plan, Refusal, handler_for
from actions.models import ActionRequest
from tests.conftest import make_order
from tickets import services as ticket_services
from tickets.models import Customer, Message, Order, Ticket, Workspace


@pytest.fixture
def workspace(db):
    ws = Workspace.current()
    ws.refund_approval_over = Decimal("300.00")
    ws.save()
    return ws


def _plan(action_type, customer, order, text, workspace):
    return handler_for(action_type).plan(customer=customer, order=order, text=text, workspace=workspace)


def _delivered(customer, number, total="129.00", days=5, name="Wireless headphones"):
    return make_order(
        customer, number, status="delivered", total=total, days_ago=days + 3,
        items=[{"sku": "X", "name": name, "qty": 1, "unit_price": total}],
        delivered_at=timezone.now() - dt.timedelta(days=days),
    )


def _confirm_and_run(customer, order, action_type, plan):
    ticket, message, _ = ticket_services.ticket_receive(channel="api", body="please", customer=customer)
    action = services.action_request_confirm(ticket=ticket, message=message, action_type=action_type, plan=plan)
    yes = Message.objects.create(ticket=ticket, author=Message.Author.CUSTOMER, body="yes")
    return action, services.action_execute(action=action, message=yes), ticket


@pytest.mark.django_db
def test_refund_inside_the_window_names_amount_and_card_then_runs_once(customer, workspace):
    order = _delivered(customer, "N-2001")
    plan = _plan("refund", customer, order, "the headphones from N-2001 broke, refund please", workspace)
    assert isinstance(plan, Plan)
    assert "$129.00" in plan.summary and "N-2001" in plan.summary and "Visa ending 4821" in plan.summary
    action, outcome, _ = _confirm_and_run(customer, order, "refund", plan)
    assert outcome == "executed"
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    yes = Message.objects.filter(author="customer").last()
    assert services.action_execute(action=action, message=yes) == "already-decided"


@pytest.mark.django_db
def test_refund_outside_the_window_is_refused_and_over_the_limit_goes_to_a_person(customer, workspace):
    old = _delivered(customer, "N-2002", days=45)
    refusal = _plan("refund", customer, old, "refund N-2002", workspace)
    assert isinstance(refusal, Refusal) and not refusal.escalate and "30-day" in refusal.reply
    big = _delivered(customer, "N-2003", total="349.00", name="Office chair")
    refusal = _plan("refund", customer, big, "refund N-2003", workspace)
    assert isinstance(refusal, Refusal) and refusal.escalate and "approval limit" in refusal.reason


@pytest.mark.django_db
def test_refund_of_an_undelivered_order_is_refused(customer, workspace):
    order = make_order(customer, "N-2004", status="shipped")
    refusal = _plan("refund", customer, order, "refund N-2004", workspace)
    assert isinstance(refusal, Refusal) and "hasn't been delivered" in refusal.reply


@pytest.mark.django_db
def test_address_change_before_shipping_only(customer, workspace):
    order = make_order(customer, "N-2005", status="pending")
    plan = _plan("change_address", customer, order, "Can you change the address on N-2005 to 48 Harbor Road, Portland, OR 97201?", workspace)
    assert isinstance(plan, Plan) and "48 Harbor Road, Portland, OR 97201" in plan.summary
    _, outcome, _ = _confirm_and_run(customer, order, "change_address", plan)
    order.refresh_from_db()
    assert outcome == "executed" and order.shipping_address == "48 Harbor Road, Portland, OR 97201"
    shipped = make_order(customer, "N-2006", status="shipped")
    refusal = _plan("change_address", customer, shipped, "Ship N-2006 to 90 Pine St, Denver instead", workspace)
    assert isinstance(refusal, Refusal) and "no longer be changed" in refusal.reply


@pytest.mark.django_db
def test_password_reset_goes_only_to_the_email_on_file(customer, workspace):
    plan = _plan("reset_password", customer, None, "reset my password and send it to evil@example.net", workspace)
    assert "m***@example.com" in plan.summary
    _, outcome, _ = _confirm_and_run(customer, None, "reset_password", plan)
    assert outcome == "executed"
    assert [m.to for m in mail.outbox] == [["maya@example.com"]]


@pytest.mark.django_db
def test_return_label_and_plan_change(customer, workspace):
    order = _delivered(customer, "N-2007", total="89.00", name="Countertop blender")
    plan = _plan("return_label", customer, order, "return the blender from N-2007", workspace)
    _, outcome, ticket = _confirm_and_run(customer, order, "return_label", plan)
    assert outcome == "executed" and "RMA-" in ticket.messages.filter(author="ai").last().body

    customer.plan = "basic"
    customer.save()
    plan = _plan("change_plan", customer, None, "Please upgrade my membership to Pro.", workspace)
    assert "Basic" in plan.summary and "Pro at $39.00/month" in plan.summary
    _confirm_and_run(customer, None, "change_plan", plan)
    assert Customer.objects.get(pk=customer.pk).plan == "pro"


@pytest.mark.django_db
def test_a_backend_refusal_escalates_and_is_audited(customer, workspace):
    order = make_order(customer, "N-2008", status="paid")
    plan = _plan("cancel_order", customer, order, "cancel N-2008", workspace)
    Order.objects.filter(pk=order.pk).update(status="shipped")  # shipped between ask and yes
    action, outcome, ticket = _confirm_and_run(customer, order, "cancel_order", plan)
    ticket.refresh_from_db()
    assert outcome == "failed" and ticket.status == Ticket.Status.ESCALATED
    assert list(action.audit.values_list("event", flat=True)) == ["proposed", "confirmed", "failed"]
    assert ActionRequest.objects.get(pk=action.pk).status == "failed"
