"""Routing rules edited in admin, evaluated in order before the built-in ones."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from tests.conftest import make_order
from tickets import routing, services
from tickets.models import RoutingRule, Ticket, Workspace
from tickets.permissions import groups_ensure


@pytest.fixture
def workspace(db):
    # No built-in keywords, so the tests see the editable rules alone.
    ws = Workspace.current()
    ws.escalate_keywords = []
    ws.save()
    return ws


def _send(body, customer, capture) -> Ticket:
    with capture(execute=True):
        ticket, _, _ = services.ticket_receive(channel="api", body=body, customer=customer)
    ticket.refresh_from_db()
    return ticket


def _route_event(ticket: Ticket):
    return ticket.events.get(stage="route")


@pytest.mark.django_db
def test_first_matching_rule_wins_and_disabled_rules_are_ignored(
    triage_model, workspace, customer, django_capture_on_commit_callbacks
):
    RoutingRule.objects.create(name="Switched off", order=1, enabled=False, keywords=["broken"])
    RoutingRule.objects.create(name="Broken goods", order=5, keywords=["broken"])
    # Same order as "Broken goods": the older rule (lower id) is tried first.
    RoutingRule.objects.create(name="Any refund", order=5, keywords=["refund"])
    RoutingRule.objects.create(name="Later", order=9, keywords=["kettle"])

    ticket = _send(
        "my kettle arrived broken, I want a refund", customer, django_capture_on_commit_callbacks
    )

    assert ticket.status == Ticket.Status.ESCALATED
    assert ticket.escalation_reason == "escalated: rule 'Broken goods'"
    assert _route_event(ticket).detail["rule"] == "'Broken goods'"
    assert ticket.events.get(stage="escalate").detail["reason"] == "escalated: rule 'Broken goods'"


@pytest.mark.django_db
def test_keywords_match_whole_words_ignoring_case(workspace, customer):
    rule = RoutingRule.objects.create(name="Chargebacks", keywords=["chargeback", "legal action"])
    ticket = Ticket.objects.create(channel="api", customer=customer)

    def matches(text):
        return routing.rule_matches(
            rule, ticket=ticket, text=text, intent="billing", urgency="normal", sentiment="neutral"
        )

    assert matches("I will file a CHARGEBACK today")
    assert matches("expect Legal Action")
    assert not matches("chargebacks are not my thing")
    assert not matches("a legal actionable idea")


@pytest.mark.django_db
def test_amount_over_reads_amounts_in_the_text_and_named_order_totals(
    workspace, customer, outsider
):
    rule = RoutingRule.objects.create(name="Big money", amount_over=workspace.refund_approval_over)
    make_order(customer, "N-7001", total="180.00")
    make_order(outsider, "N-7002", total="999.00")
    ticket = Ticket.objects.create(channel="api", customer=customer)

    def matches(text):
        return routing.rule_matches(
            rule, ticket=ticket, text=text, intent="refund", urgency="normal", sentiment="neutral"
        )

    assert matches("I was charged $250 twice")
    assert matches("refund 1,200.50 dollars now")
    assert not matches("I was charged $99.99")
    assert matches("refund order n-7001 please")  # its total, 180.00, is over 100.00
    assert not matches("refund order N-7002 please")  # someone else's order
    assert not matches("refund order N-70011 please")
    assert routing.amounts_mentioned("€1,200 or USD 30 or 45 bucks; order 5000") == [
        Decimal("1200"),
        Decimal("30"),
        Decimal("45"),
    ]


@pytest.mark.django_db
def test_conditions_all_hold_vip_sentiment_urgency_and_intent(workspace, customer):
    rule = RoutingRule.objects.create(
        name="Angry VIP refund",
        intent="refund",
        vip_only=True,
        sentiment="negative",
        min_urgency="high",
    )
    ticket = Ticket.objects.create(channel="api", customer=customer)

    def matches(**kw):
        values = {"intent": "refund", "urgency": "urgent", "sentiment": "negative", **kw}
        return routing.rule_matches(rule, ticket=ticket, text="x", **values)

    assert not matches()  # not a VIP
    customer.vip = True
    customer.save()
    ticket.refresh_from_db()
    assert matches()
    assert not matches(urgency="normal")
    assert not matches(sentiment="neutral")
    assert not matches(intent="billing")


@pytest.mark.django_db
def test_set_priority_rules_all_apply_in_order_and_later_rules_see_them(
    triage_model, workspace, customer, django_capture_on_commit_callbacks
):
    RoutingRule.objects.create(
        name="Kettles are high",
        order=1,
        action=RoutingRule.Action.SET_PRIORITY,
        priority="high",
        keywords=["kettle"],
    )
    RoutingRule.objects.create(
        name="Broken is urgent",
        order=2,
        action=RoutingRule.Action.SET_PRIORITY,
        priority="urgent",
        keywords=["broken"],
    )
    RoutingRule.objects.create(name="Urgent to a person", order=3, min_urgency="urgent")

    ticket = _send("the kettle is broken", customer, django_capture_on_commit_callbacks)

    assert ticket.urgency == "urgent"
    assert ticket.escalation_reason == "escalated: rule 'Urgent to a person'"
    assert _route_event(ticket).detail["priority"] == [
        "rule 'Kettles are high' set high",
        "rule 'Broken is urgent' set urgent",
    ]


@pytest.mark.django_db
def test_always_resolve_overrides_the_built_in_escalations(
    triage_model, articles, workspace, customer, django_capture_on_commit_callbacks
):
    workspace.escalate_keywords = ["shipping"]
    workspace.save()
    RoutingRule.objects.create(
        name="Let the AI answer shipping", action=RoutingRule.Action.RESOLVE, keywords=["shipping"]
    )

    ticket = _send("how long does shipping take?", customer, django_capture_on_commit_callbacks)

    assert _route_event(ticket).detail["rule"] == "'Let the AI answer shipping'"
    assert ticket.status == Ticket.Status.ANSWERED


@pytest.mark.django_db
def test_built_in_rules_still_apply_after_the_editable_ones(
    triage_model, customer, django_capture_on_commit_callbacks
):
    RoutingRule.objects.create(name="Unrelated", keywords=["zebra"])
    ticket = _send(
        "I will take legal action and call my lawyer", customer, django_capture_on_commit_callbacks
    )
    # The workspace's keywords are tried in their list order: "lawyer" comes before "legal action".
    assert ticket.escalation_reason == "escalated: rule keyword 'lawyer'"


@pytest.mark.django_db
def test_vip_complaint_is_escalated_by_the_built_in_rule(
    triage_model, workspace, customer, django_capture_on_commit_callbacks
):
    customer.vip = True
    customer.save()
    ticket = _send(
        "where is my order N-1042?? this is ridiculous",
        customer,
        django_capture_on_commit_callbacks,
    )
    assert ticket.intent == "order_status" and ticket.sentiment == "negative"
    assert ticket.status == Ticket.Status.ESCALATED
    assert ticket.escalation_reason == "escalated: rule 'VIP complaint'"


@pytest.mark.django_db
def test_managers_edit_rules_in_admin(client, django_user_model, workspace):
    groups = groups_ensure()
    manager = django_user_model.objects.create_user("manager", password="pw", is_staff=True)
    manager.groups.add(groups["Managers"])
    client.force_login(manager)
    add = reverse("admin:tickets_routingrule_add")
    form = {
        "name": "Chargebacks",
        "order": 10,
        "enabled": "on",
        "keywords": '["chargeback"]',
        "action": "set_priority",
    }

    response = client.post(add, form)
    assert b"needs the priority it sets" in response.content
    response = client.post(add, {**form, "priority": "urgent"})

    assert response.status_code == 302
    rule = RoutingRule.objects.get()
    assert (rule.keywords, rule.priority, rule.intent) == (["chargeback"], "urgent", "")
    listing = client.get(reverse("admin:tickets_routingrule_changelist")).content.decode()
    assert "keywords chargeback" in listing
