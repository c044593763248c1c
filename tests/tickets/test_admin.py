"""The agents' console in Django admin, driven through the test client as an agent would."""

from __future__ import annotations

from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth.models import User
from django.core import mail
from django.urls import reverse

from actions.models import ActionAudit, ActionRequest
from knowledge.models import Article
from tests.conftest import make_order
from tickets import services
from tickets.models import Customer, Intent, Message, Ticket
from tickets.permissions import groups_ensure

CHANGELIST = "admin:tickets_ticket_changelist"


def _ticket(customer, body="where is my order?", channel="api", **fields) -> Ticket:
    """A ticket through the real intake door; the pipeline is not run (on_commit not executed)."""
    ticket, _, _ = services.ticket_receive(channel=channel, body=body, customer=customer)
    if fields:
        Ticket.objects.filter(pk=ticket.pk).update(**fields)
        ticket.refresh_from_db()
    return ticket


def _change_url(ticket: Ticket) -> str:
    return reverse("admin:tickets_ticket_change", args=[ticket.pk])


@pytest.fixture
def agent_client(client, agent_user):
    groups_ensure()
    client.force_login(agent_user)
    return client


@pytest.mark.django_db
def test_needs_a_human_queue_shows_only_escalated_tickets(agent_client, customer):
    escalated = _ticket(customer, "I want to talk to a lawyer", status=Ticket.Status.ESCALATED)
    answered = _ticket(customer, "how long does shipping take", status=Ticket.Status.ANSWERED)

    everything = agent_client.get(reverse(CHANGELIST))
    queue = agent_client.get(reverse(CHANGELIST), {"queue": "human"})

    assert everything.status_code == 200
    assert {escalated.number, answered.number} <= {
        t.number for t in everything.context["cl"].result_list
    }
    assert [t.number for t in queue.context["cl"].result_list] == [escalated.number]
    assert "Needs a human" in queue.content.decode()


@pytest.mark.django_db
def test_low_confidence_and_assigned_to_me_queues(agent_client, agent_user, customer):
    unsure = _ticket(customer, "hmm", confidence=0.31)
    _ticket(customer, "where is N-1", confidence=0.92)
    mine = _ticket(customer, "refund please", assigned_to=agent_user)

    low = agent_client.get(reverse(CHANGELIST), {"queue": "low"})
    assigned = agent_client.get(reverse(CHANGELIST), {"assigned": "me"})

    assert [t.pk for t in low.context["cl"].result_list] == [unsure.pk]
    assert [t.pk for t in assigned.context["cl"].result_list] == [mine.pk]


@pytest.mark.django_db
def test_search_finds_a_ticket_by_message_text(agent_client, customer, outsider):
    wanted = _ticket(customer, "my parcel arrived soaking wet")
    _ticket(outsider, "change my plan")

    found = agent_client.get(reverse(CHANGELIST), {"q": "soaking"})

    assert [t.pk for t in found.context["cl"].result_list] == [wanted.pk]


@pytest.mark.django_db
def test_changelist_queries_do_not_grow_with_tickets(agent_client, django_assert_max_num_queries):
    agents = [User.objects.create_user(f"agent{i}", is_staff=True) for i in range(4)]
    for i in range(20):
        person = Customer.objects.create(email=f"c{i}@example.com", name=f"Customer {i}")
        _ticket(
            person,
            f"question {i}",
            assigned_to=agents[i % 4],
            intent="order_status",
            confidence=0.8,
        )

    # 11 measured. Twenty rows with a customer and an assignee each: an N+1 adds 20 or more.
    with django_assert_max_num_queries(12):
        response = agent_client.get(reverse(CHANGELIST))

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 20


@pytest.mark.django_db
def test_change_page_shows_the_conversation_and_the_event_trail(agent_client, customer):
    ticket = _ticket(customer, "Where is order N-1042?")
    services.message_post(
        ticket=ticket, author=Message.Author.AI, body="It shipped yesterday with UPS."
    )
    services.event_record(ticket, stage="classify", outcome="order_status", duration_ms=12.5)

    page = agent_client.get(_change_url(ticket)).content.decode()

    assert "Where is order N-1042?" in page
    assert "It shipped yesterday with UPS." in page
    assert "12.5 ms" in page and "order_status" in page
    assert 'class="fl-msg fl-customer"' in page and 'class="fl-msg fl-ai"' in page
    assert "Send and resolve" in page


@pytest.mark.django_db
def test_customer_html_is_escaped_on_the_change_page(agent_client, customer):
    ticket = _ticket(customer, "<script>alert('x')</script> hello")

    page = agent_client.get(_change_url(ticket)).content.decode()

    assert "<script>alert(" not in page
    assert "&lt;script&gt;alert(" in page


@pytest.mark.django_db
def test_reply_goes_out_by_email_and_answers_the_ticket(
    agent_client, agent_user, customer, django_capture_on_commit_callbacks
):
    ticket = _ticket(customer, "Can I change my delivery address?", channel="email")

    with django_capture_on_commit_callbacks(execute=True):
        response = agent_client.post(
            reverse("admin:tickets_ticket_reply", args=[ticket.pk]),
            {"body": "Yes — I've updated it for you.", "action": "reply"},
        )

    assert response.status_code == 302 and response.url == _change_url(ticket)
    ticket.refresh_from_db()
    reply = ticket.messages.get(author=Message.Author.AGENT)
    assert reply.body == "Yes — I've updated it for you." and reply.agent == agent_user
    assert ticket.status == Ticket.Status.ANSWERED and ticket.assigned_to == agent_user
    assert mail.outbox[-1].to == [customer.email]
    assert "I've updated it for you" in mail.outbox[-1].body


@pytest.mark.django_db
def test_send_and_resolve_reaches_an_open_chat(
    agent_client, customer, django_capture_on_commit_callbacks
):
    ticket = _ticket(customer, "is my refund done?", channel="chat")
    layer = get_channel_layer()
    chat = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(services.chat_group(ticket.pk), chat)

    with django_capture_on_commit_callbacks(execute=True):
        agent_client.post(
            reverse("admin:tickets_ticket_reply", args=[ticket.pk]),
            {"body": "Done, it's on its way.", "action": "resolve"},
        )

    ticket.refresh_from_db()
    reply = ticket.messages.get(author=Message.Author.AGENT)
    assert ticket.status == Ticket.Status.RESOLVED and ticket.resolved_at is not None
    event = async_to_sync(layer.receive)(chat)
    assert event["type"] == "ticket.changed" and event["message_id"] == reply.pk


@pytest.mark.django_db
def test_an_empty_reply_is_refused(agent_client, customer):
    ticket = _ticket(customer, "hello?")

    response = agent_client.post(
        reverse("admin:tickets_ticket_reply", args=[ticket.pk]), {"body": "  "}, follow=True
    )

    assert "The reply is empty." in response.content.decode()
    assert not ticket.messages.filter(author=Message.Author.AGENT).exists()


@pytest.mark.django_db
def test_reply_needs_a_staff_user_with_change_permission(client, customer):
    ticket = _ticket(customer, "hello?")
    url = reverse("admin:tickets_ticket_reply", args=[ticket.pk])
    User.objects.create_user("shopper", password="pw")
    User.objects.create_user("intern", password="pw", is_staff=True)

    client.login(username="shopper", password="pw")
    not_staff = client.post(url, {"body": "hi"})
    client.login(username="intern", password="pw")
    no_permission = client.post(url, {"body": "hi"})

    assert not_staff.status_code == 302 and "/admin/login/" in not_staff.url
    assert no_permission.status_code == 403
    assert not ticket.messages.exclude(author=Message.Author.CUSTOMER).exists()


@pytest.mark.django_db
def test_reply_refuses_get_and_missing_csrf(customer, agent_user):
    from django.test import Client

    groups_ensure()
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(agent_user)
    ticket = _ticket(customer, "hello?")
    url = reverse("admin:tickets_ticket_reply", args=[ticket.pk])

    assert strict.get(url).status_code == 405
    assert strict.post(url, {"body": "hi"}).status_code == 403
    assert not ticket.messages.filter(author=Message.Author.AGENT).exists()


@pytest.mark.django_db
def test_bulk_actions_assign_resolve_and_escalate(agent_client, agent_user, customer):
    first = _ticket(customer, "one")
    second = _ticket(customer, "two")

    def act(action, *tickets):
        return agent_client.post(
            reverse(CHANGELIST), {"action": action, "_selected_action": [t.pk for t in tickets]}
        )

    act("assign_to_me", first, second)
    act("escalate", first)
    act("mark_resolved", second)

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.assigned_to == agent_user and second.assigned_to == agent_user
    assert first.status == Ticket.Status.ESCALATED and "agent" in first.escalation_reason
    assert not first.messages.exclude(author=Message.Author.CUSTOMER).exists()
    assert second.status == Ticket.Status.RESOLVED
    assert list(second.events.filter(stage="agent").values_list("outcome", flat=True)) == [
        "assigned",
        "resolved",
    ]


@pytest.mark.django_db
def test_agent_can_reassign_from_the_form_and_it_is_recorded(agent_client, agent_user, customer):
    ticket = _ticket(customer, "hello")
    data = {
        f"{prefix}-{key}": "0"
        for prefix in ("events", "messages", "actions")
        for key in ("TOTAL_FORMS", "INITIAL_FORMS")
    }

    response = agent_client.post(_change_url(ticket), {"assigned_to": agent_user.pk, **data})

    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.assigned_to == agent_user
    assert ticket.events.filter(stage="agent", outcome="assigned").exists()


@pytest.mark.django_db
def test_article_saved_in_admin_is_split_and_indexed(
    client, admin_user_, django_capture_on_commit_callbacks
):
    client.force_login(admin_user_)
    Intent.objects.create(name="return_item")
    body = "Returns are free within 30 days.\n\n## How to start a return\n\nOpen your order and press Return."

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:knowledge_article_add"),
            {
                "title": "Returns",
                "slug": "returns-policy",
                "category": "returns",
                "status": "published",
                "intents": ["return_item"],
                "body": body,
            },
        )

    assert response.status_code == 302
    article = Article.objects.get(slug="returns-policy")
    assert [p.heading for p in article.passages.all()] == ["Returns", "How to start a return"]
    assert article.intents == ["return_item"] and article.indexed_at is not None


@pytest.mark.django_db
def test_editing_an_article_replaces_its_passages_in_place(
    client, admin_user_, django_capture_on_commit_callbacks
):
    from knowledge.services import article_save

    article = article_save(
        slug="gift-cards", title="Gift cards", body="Gift cards expire after a year."
    )
    client.force_login(admin_user_)
    form = {
        "title": "Gift cards",
        "category": "billing",
        "status": "published",
        "body": "Gift cards never expire.",
        "passages-TOTAL_FORMS": "0",
        "passages-INITIAL_FORMS": "0",
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:knowledge_article_change", args=[article.pk]), form)

    assert response.status_code == 302
    assert Article.objects.get().pk == article.pk
    assert [p.text for p in article.passages.all()] == ["Gift cards never expire."]


@pytest.mark.django_db
def test_archive_action_takes_the_article_out_of_the_index(
    client, admin_user_, django_capture_on_commit_callbacks
):
    from knowledge.services import article_save

    with django_capture_on_commit_callbacks(execute=True):
        article = article_save(
            slug="gift-cards", title="Gift cards", body="Gift cards never expire."
        )
    assert Article.objects.get(pk=article.pk).indexed_at is not None
    client.force_login(admin_user_)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:knowledge_article_changelist"),
            {"action": "archive", "_selected_action": [article.pk]},
        )

    article.refresh_from_db()
    assert article.status == Article.Status.ARCHIVED and article.indexed_at is None


@pytest.mark.django_db
def test_agents_read_the_knowledge_base_but_cannot_edit_it(agent_client):
    assert agent_client.get(reverse("admin:knowledge_article_changelist")).status_code == 200
    assert agent_client.get(reverse("admin:knowledge_article_add")).status_code == 403


@pytest.mark.django_db
def test_action_audit_is_read_only_even_for_a_superuser(client, admin_user_, customer):
    ticket = _ticket(customer, "cancel N-7")
    order = make_order(customer, "N-7")
    action = ActionRequest.objects.create(
        ticket=ticket,
        type="cancel_order",
        order=order,
        amount=Decimal("34.99"),
        summary="Cancel N-7",
        idempotency_key="k-7",
    )
    ActionAudit.objects.create(action=action, event="executed", detail={"backend": "demo"})
    client.force_login(admin_user_)
    url = reverse("admin:actions_actionrequest_change", args=[action.pk])

    page = client.get(url).content.decode()

    assert "executed" in page and "Cancel N-7" in page
    assert 'name="audit-0-event"' not in page and "Save" not in page
    assert client.post(url, {"status": "proposed"}).status_code == 403
    assert (
        client.post(
            reverse("admin:actions_actionrequest_delete", args=[action.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert ActionAudit.objects.filter(action=action).count() == 1
    assert ActionRequest.objects.get(pk=action.pk).status == ActionRequest.Status.PROPOSED
    # The ticket page lists the action too.
    assert "Cancel N-7" in client.get(_change_url(ticket)).content.decode()


@pytest.mark.django_db
def test_groups_ensure_is_idempotent():
    first = {
        name: set(g.permissions.values_list("codename", flat=True))
        for name, g in groups_ensure().items()
    }
    again = {
        name: set(g.permissions.values_list("codename", flat=True))
        for name, g in groups_ensure().items()
    }

    assert first == again
    assert {"view_ticket", "change_ticket", "view_article"} <= first["Agents"]
    assert "change_article" not in first["Agents"] and "change_article" in first["Managers"]
    assert not any(code.startswith("delete_ticket") for code in first["Managers"])


@pytest.mark.django_db
def test_manager_can_retrain_triage_from_admin(client, admin_user_, triage_model):
    from tickets.models import TriageModel

    client.force_login(admin_user_)
    response = client.post(
        "/admin/tickets/triagemodel/",
        {"action": "retrain", "_selected_action": [triage_model.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert b"Retraining started" in response.content
    # django-q2 runs inline in tests: a second version exists now.
    assert TriageModel.objects.count() == 2
