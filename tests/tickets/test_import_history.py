"""Onboarding from history (command and admin upload), intents in admin, agents' corrections."""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from tickets import services
from tickets.importers import HistoryImportError, history_import
from tickets.models import Intent, Ticket, TicketEvent, TrainingExample, TriageModel
from tickets.permissions import groups_ensure

CSV = (
    "subject,body,category,urgency,sentiment,resolution\n"
    'Late,"Where is my parcel, it is late",Where Is My Order,high,negative,sent tracking\n'
    "Refund,I want my money back for the broken kettle,Refunds,normal,negative,refunded\n"
    "Hi,Do you ship to Canada?,Shipping Questions,low,neutral,answered\n"
    ",Has my package left the warehouse yet?,Where Is My Order,,,\n"
    ",Still no parcel after 10 days,where is my order,urgent,furious,\n"
)


def _import(tmp_path, content: str | bytes, name: str, *args: str) -> tuple[str, str]:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    out, err = io.StringIO(), io.StringIO()
    call_command("import_history", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_csv_import_maps_categories_and_reports_volume(tmp_path):
    Intent.objects.create(name="order_status", path=Intent.Path.ANSWER)
    out, err = _import(
        tmp_path,
        CSV,
        "export.csv",
        "--map",
        "Where Is My Order=order_status",
        "--map",
        "Refunds=refund",
    )

    examples = TrainingExample.objects.filter(source=TrainingExample.Source.HISTORY)
    assert examples.count() == 5
    assert examples.filter(intent="order_status").count() == 3  # mapping ignores case
    late = examples.get(text__contains="parcel, it is late")
    assert late.text == "Late. Where is my parcel, it is late"
    assert (late.urgency, late.sentiment) == ("high", "negative")
    assert examples.get(text__startswith="Still").sentiment == ""  # "furious" is no sentiment value
    # Unmapped categories become slug-named intents with the answer path, and are reported.
    assert Intent.objects.get(name="shipping_questions").path == Intent.Path.ANSWER
    assert Intent.objects.get(name="refund").description.startswith("imported from history")
    assert "'Shipping Questions' -> shipping_questions" in out
    assert "2 of 3 intents make up 80 % of volume: order_status, refund" in out
    assert "5/5 rows" in err


@pytest.mark.django_db
def test_jsonl_import_with_a_mapping_file_and_reimport_adds_no_duplicates(tmp_path):
    rows = [
        {"text": "cancel my order please", "intent": "Cancellations"},
        {"message": "I cannot log in", "label": "Login"},
        {"body": "stop my order from shipping", "category": "Cancellations"},
    ]
    content = "\n".join(json.dumps(r) for r in rows) + "\n"
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"Cancellations": "cancel_order", "Login": "account_access"}))

    out, _ = _import(tmp_path, content, "export.jsonl", "--mapping", str(mapping))
    assert sorted(TrainingExample.objects.values_list("intent", flat=True)) == [
        "account_access",
        "cancel_order",
        "cancel_order",
    ]
    assert "Unmapped" not in out

    out, _ = _import(tmp_path, content, "export.jsonl", "--mapping", str(mapping))
    assert TrainingExample.objects.count() == 3
    assert "3 duplicates" in out


@pytest.mark.django_db
def test_bad_rows_are_reported_by_line_and_skipped(tmp_path):
    content = (
        b'{"text": "where is my order", "intent": "order_status"}\n'
        b"{not json\n"
        b'{"intent": "refund"}\n'
        b"\n"
        b'{"text": "caf\xe9 order", "intent": "order_status"}\n'
        b'{"text": "refund me", "category": ""}\n'
        b'{"text": "my refund please", "intent": "refund"}\n'
    )
    out, _ = _import(tmp_path, content, "export.jsonl")

    assert sorted(TrainingExample.objects.values_list("text", flat=True)) == [
        "my refund please",
        "where is my order",
    ]
    assert "line 2: invalid JSON" in out
    assert "line 3: missing text" in out
    assert "line 5: not valid UTF-8" in out
    assert "line 6: missing category" in out
    assert "6 rows read, imported 2, 4 skipped" in out


@pytest.mark.django_db
def test_csv_line_numbers_count_multi_line_fields(tmp_path):
    content = 'text,category\n"first line\nsecond line",billing\n,billing\nok text,billing\n'
    out, _ = _import(tmp_path, content, "export.csv")
    assert "line 4: missing text" in out
    assert TrainingExample.objects.count() == 2


@pytest.mark.django_db
def test_a_file_with_no_usable_row_stores_nothing(tmp_path):
    Intent.objects.create(name="order_status")
    content = '{"text": ""}\n[1, 2]\nnope\n'
    with pytest.raises(
        CommandError, match="no usable rows.*line 1: missing text; line 2: not a JSON object"
    ):
        _import(tmp_path, content, "export.jsonl")
    assert not TrainingExample.objects.exists()
    assert list(Intent.objects.values_list("name", flat=True)) == ["order_status"]


@pytest.mark.django_db
def test_unreadable_files_are_refused(tmp_path):
    with pytest.raises(CommandError, match="needs a text column"):
        _import(tmp_path, "id,name\n1,x\n", "export.csv")
    with pytest.raises(CommandError, match="not a text file"):
        _import(tmp_path, b"\x89PNG\r\n\x1a\n\x00\x00", "export.csv")
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_history", str(tmp_path / "missing.csv"))
    assert not TrainingExample.objects.exists() and not Intent.objects.exists()


@pytest.mark.django_db
def test_a_failure_while_storing_rolls_the_whole_import_back(monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(TrainingExample.objects, "bulk_create", fail)
    with pytest.raises(RuntimeError):
        history_import(data=b'{"text": "hello", "intent": "brand_new"}\n', name="x.jsonl")
    assert not Intent.objects.filter(name="brand_new").exists()


@pytest.mark.django_db
def test_dry_run_reports_and_stores_nothing(tmp_path):
    out, _ = _import(tmp_path, CSV, "export.csv", "--dry-run")
    assert "would import 5" in out
    assert not TrainingExample.objects.exists() and not Intent.objects.exists()


@pytest.mark.django_db
def test_train_flag_trains_a_model_on_the_imported_history(tmp_path, monkeypatch):
    calls = []

    def fake_train(**kwargs):
        calls.append(TrainingExample.objects.count())
        return TriageModel.objects.create(version=7, examples=calls[-1], blob=b"", active=True)

    monkeypatch.setattr("tickets.services_triage.triage_train", fake_train)
    out, _ = _import(tmp_path, CSV, "export.csv", "--train")
    assert calls == [5]  # trained after the rows were stored
    assert "Active model: v7" in out


def test_mapping_text_must_be_well_formed():
    from tickets.importers import mapping_parse

    assert mapping_parse("Old Name = new_intent\n\nA=b=c") == {"Old Name": "new_intent", "A=b": "c"}
    with pytest.raises(HistoryImportError, match="mapping line 1"):
        mapping_parse("no equals sign")


# --- admin: upload, intents as data, corrections -------------------------------------------


@pytest.fixture
def manager_client(client, django_user_model):
    groups = groups_ensure()
    user = django_user_model.objects.create_user("manager", password="pw", is_staff=True)
    user.groups.add(groups["Managers"])
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_admin_upload_imports_with_the_same_service(manager_client):
    url = reverse("admin:tickets_history_import")
    assert (
        manager_client.get(reverse("admin:tickets_trainingexample_changelist")).content.count(
            url.encode()
        )
        == 1
    )
    upload = SimpleUploadedFile("export.csv", CSV.encode(), content_type="text/csv")

    response = manager_client.post(
        url, {"file": upload, "mapping": "Where Is My Order=order_status"}
    )

    assert response.status_code == 200
    assert TrainingExample.objects.filter(intent="order_status").count() == 3
    assert b"make up 80 % of volume" in response.content
    assert b"&#x27;Refunds&#x27; -&gt; refunds" in response.content  # file text is escaped


@pytest.mark.django_db
def test_admin_upload_of_a_bad_file_shows_the_error(manager_client):
    upload = SimpleUploadedFile("export.jsonl", b"garbage\n", content_type="application/json")
    response = manager_client.post(reverse("admin:tickets_history_import"), {"file": upload})
    assert b"no usable rows" in response.content and b"line 1: invalid JSON" in response.content
    assert not TrainingExample.objects.exists()


@pytest.mark.django_db
def test_agents_cannot_upload_history(client, agent_user):
    groups_ensure()
    client.force_login(agent_user)
    assert client.get(reverse("admin:tickets_history_import")).status_code == 403


@pytest.mark.django_db
def test_intent_admin_shows_examples_and_the_active_models_scores(manager_client):
    Intent.objects.create(name="refund", path=Intent.Path.ANSWER)
    Intent.objects.create(name="billing", path=Intent.Path.ANSWER)
    TrainingExample.objects.bulk_create(
        TrainingExample(text=f"refund {i}", intent="refund") for i in range(3)
    )
    TriageModel.objects.create(
        version=1,
        blob=b"",
        active=True,
        scores={"per_intent": {"refund": {"precision": 0.9412, "recall": 0.8}}},
    )

    content = manager_client.get(reverse("admin:tickets_intent_changelist")).content.decode()

    assert '<td class="field-example_count">3</td>' in content
    assert '<td class="field-example_count">0</td>' in content
    assert (
        '<td class="field-precision">94.1%</td>' in content
        and '<td class="field-recall">80.0%</td>' in content
    )
    assert '<td class="field-precision">—</td>' in content  # billing: no score in the model


@pytest.mark.django_db
def test_intent_change_page_lists_the_articles_that_answer_it(manager_client):
    from knowledge.models import Article

    intent = Intent.objects.create(name="refund", article_slug="refund-policy")
    Article.objects.create(
        slug="returns-101", title="Returns", body="...", intents=["refund", "returns"]
    )
    Article.objects.create(slug="shipping", title="Shipping", body="...", intents=["shipping"])

    content = manager_client.get(
        reverse("admin:tickets_intent_change", args=[intent.pk])
    ).content.decode()
    assert "refund-policy, returns-101" in content and "shipping," not in content


@pytest.mark.django_db
def test_an_agents_intent_change_is_recorded_as_a_correction(client, agent_user, customer):
    groups_ensure()
    client.force_login(agent_user)
    Intent.objects.create(name="refund")
    Intent.objects.create(name="order_status")
    ticket, _, _ = services.ticket_receive(
        channel="api", body="my kettle arrived broken", customer=customer
    )
    Ticket.objects.filter(pk=ticket.pk).update(intent="order_status")
    services.message_post(ticket=ticket, author="customer", body="hello?")
    formsets = {
        f"{p}-{k}": "0"
        for p in ("events", "messages", "actions")
        for k in ("TOTAL_FORMS", "INITIAL_FORMS")
    }

    response = client.post(
        reverse("admin:tickets_ticket_change", args=[ticket.pk]),
        {"intent": "refund", "assigned_to": "", **formsets},
    )

    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.intent == "refund"
    example = TrainingExample.objects.get(source=TrainingExample.Source.CORRECTION)
    assert (example.text, example.intent) == ("my kettle arrived broken", "refund")
    event = TicketEvent.objects.get(ticket=ticket, stage="triage", outcome="corrected")
    assert event.detail == {"from": "order_status", "to": "refund", "agent": "agent"}

    response = client.post(
        reverse("admin:tickets_ticket_change", args=[ticket.pk]), {"intent": "nonsense", **formsets}
    )
    assert response.status_code == 200  # not a known intent: the form refuses it
    assert TrainingExample.objects.filter(source=TrainingExample.Source.CORRECTION).count() == 1
