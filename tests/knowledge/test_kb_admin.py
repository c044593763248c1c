"""The knowledge base in admin: editing with versions, history, diff, revert, preview, import."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest
from django.urls import reverse

from knowledge.models import Article
from knowledge.services import article_save
from tickets.models import Intent


@pytest.fixture
def manager(client, admin_user_):
    client.force_login(admin_user_)
    return client


@pytest.fixture
def agent(client, agent_user):
    from django.contrib.auth.models import Permission

    agent_user.user_permissions.add(Permission.objects.get(codename="view_article"))
    client.force_login(agent_user)
    return client


def _two_versions(author=None) -> Article:
    article = article_save(
        slug="returns", title="Returns", body="Return within 30 days.\n\nKeep the receipt."
    )
    article_save(
        slug="returns",
        title="Returns policy",
        body="Return within 14 days.\n\nKeep the receipt.\n\n<script>alert(1)</script>",
        author=author,
        note="shorter window",
    )
    return article


@pytest.mark.django_db
def test_saving_in_admin_records_a_version_with_author_and_note(
    manager, admin_user_, django_capture_on_commit_callbacks
):
    Intent.objects.create(name="gift_card")
    form = {
        "title": "Gift cards",
        "slug": "gift-cards",
        "category": "billing",
        "intents": ["gift_card"],
        "audience": "internal",
        "locale": "de",
        "status": "published",
        "body": "Gift cards never expire.",
        "note": "first draft",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = manager.post(reverse("admin:knowledge_article_add"), form)

    assert response.status_code == 302
    article = Article.objects.get(slug="gift-cards")
    assert (article.audience, article.locale, article.intents) == ("internal", "de", ["gift_card"])
    version = article.versions.get()
    assert (version.author, version.note, version.audience) == (
        admin_user_,
        "first draft",
        "internal",
    )
    assert article.index_state == "indexed"


@pytest.mark.django_db
def test_a_bad_locale_is_refused(manager):
    form = {
        "title": "X",
        "slug": "x",
        "status": "published",
        "body": "x",
        "locale": "English!",
    }
    response = manager.post(reverse("admin:knowledge_article_add"), form)
    assert response.status_code == 200 and "language code" in response.content.decode()
    assert not Article.objects.exists()


@pytest.mark.django_db
def test_intents_are_picked_from_the_workspace_and_a_stale_link_survives_a_save(
    manager, django_capture_on_commit_callbacks
):
    Intent.objects.create(name="track_order")
    with django_capture_on_commit_callbacks(execute=True):
        article = article_save(slug="tracking", title="Tracking", body="Use the link.", intents=["retired_intent"])
    url = reverse("admin:knowledge_article_change", args=[article.pk])
    page = manager.get(url).content.decode()
    assert re.search(r'value="track_order"(?![^>]*checked)', page)
    assert re.search(r'value="retired_intent"[^>]*checked', page)

    form = {
        "title": "Tracking",
        "slug": "tracking",
        "status": "published",
        "body": "Use the link.",
        "intents": ["nope"],
        "passages-TOTAL_FORMS": "0",
        "passages-INITIAL_FORMS": "0",
    }
    response = manager.post(url, form)
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()

    form["intents"] = ["track_order", "retired_intent"]
    with django_capture_on_commit_callbacks(execute=True):
        assert manager.post(url, form).status_code == 302
    article.refresh_from_db()
    assert article.intents == ["track_order", "retired_intent"]


@pytest.mark.django_db
def test_changelist_shows_index_state_and_import_link(manager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        article_save(slug="indexed-one", title="Indexed one", body="Text.")
    article_save(slug="draft-one", title="Draft one", body="Text.", status="draft")

    page = manager.get(reverse("admin:knowledge_article_changelist")).content.decode()

    assert ">indexed</span>" in page and ">not indexed</span>" in page
    assert reverse("admin:knowledge_article_import") in page


@pytest.mark.django_db
def test_history_lists_versions_and_diff_shows_escaped_changes(manager, admin_user_):
    article = _two_versions(author=admin_user_)

    history = manager.get(
        reverse("admin:knowledge_article_history", args=[article.pk])
    ).content.decode()
    assert "v2 (current)" in history and "shorter window" in history and "Revert to v1" in history
    assert reverse("admin:knowledge_article_revert", args=[article.pk, 1]) in history

    diff = manager.get(reverse("admin:knowledge_article_diff", args=[article.pk]), {"a": 1, "b": 2})
    page = diff.content.decode()
    assert diff.status_code == 200
    assert "Returns policy" in page and "30" in page and "14" in page
    assert (
        "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    )
    assert (
        manager.get(
            reverse("admin:knowledge_article_diff", args=[article.pk]), {"a": 9}
        ).status_code
        == 404
    )


@pytest.mark.django_db
def test_one_click_revert_adds_a_version_and_reindexes(
    manager, admin_user_, django_capture_on_commit_callbacks
):
    article = _two_versions()
    url = reverse("admin:knowledge_article_revert", args=[article.pk, 1])

    with django_capture_on_commit_callbacks(execute=True):
        response = manager.post(url)

    assert response.status_code == 302
    article.refresh_from_db()
    assert article.title == "Returns" and "30 days" in article.body
    newest = article.versions.first()
    assert (newest.number, newest.author, newest.note) == (3, admin_user_, "Reverted to version 1")
    assert article.index_state == "indexed"
    assert (
        manager.get(url).status_code == 302 and article.versions.count() == 3
    )  # GET never reverts


@pytest.mark.django_db
def test_agents_may_read_history_but_not_revert(agent):
    article = _two_versions()
    assert (
        agent.get(reverse("admin:knowledge_article_history", args=[article.pk])).status_code == 200
    )
    page = agent.get(reverse("admin:knowledge_article_history", args=[article.pk])).content.decode()
    assert "Revert to" not in page
    response = agent.post(reverse("admin:knowledge_article_revert", args=[article.pk, 1]))
    assert response.status_code == 403 and article.versions.count() == 2


@pytest.mark.django_db
def test_preview_renders_markdown_escaped_for_staff_only(manager, client):
    url = reverse("admin:knowledge_article_preview")
    html = manager.post(
        url, {"body": "## Steps\n\n- **Open** <img src=x onerror=alert(1)>"}
    ).json()["html"]
    assert (
        html
        == "<h2>Steps</h2>\n<ul><li><strong>Open</strong> &lt;img src=x onerror=alert(1)&gt;</li></ul>"
    )
    assert manager.get(url).status_code == 405

    client.logout()
    assert client.post(url, {"body": "x"}).status_code == 302  # to the admin login


@pytest.mark.django_db
def test_change_form_has_the_live_preview(manager):
    article = _two_versions()
    page = manager.get(
        reverse("admin:knowledge_article_change", args=[article.pk])
    ).content.decode()
    assert 'id="kb-preview"' in page and reverse("admin:knowledge_article_preview") in page


@pytest.mark.django_db
def test_import_a_zip_in_admin_shows_the_per_file_report(manager):
    article_save(slug="returns", title="Returns", body="30 days.")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("kb/returns.md", "# Returns\n\n14 days.")
        archive.writestr(
            "kb/gift-cards.html", "<h1>Gift cards</h1><p>Never expire.</p><script>x()</script>"
        )
        archive.writestr("kb/logo.png", b"\x89PNG")
        archive.writestr("__MACOSX/kb/._returns.md", b"\x00")
    buffer.seek(0)
    buffer.name = "kb.zip"

    response = manager.post(
        reverse("admin:knowledge_article_import"), {"file": buffer, "status": "draft"}
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "1 created, 1 updated, 0 unchanged, 1 skipped" in page
    assert "kb/logo.png" in page and "not a .md, .html or .jsonl file" in page
    assert "_returns.md" not in page
    assert Article.objects.get(slug="gift-cards").status == "draft"
    assert Article.objects.get(slug="returns").body == "14 days."


@pytest.mark.django_db
def test_import_a_jsonl_in_admin(manager):
    upload = io.BytesIO(json.dumps({"slug": "a", "title": "A", "body": "Text."}).encode())
    upload.name = "kb.jsonl"
    page = manager.post(
        reverse("admin:knowledge_article_import"), {"file": upload, "status": "published"}
    )
    assert "1 created" in page.content.decode() and Article.objects.filter(slug="a").exists()


@pytest.mark.django_db
def test_a_corrupt_zip_is_reported(manager):
    upload = io.BytesIO(b"not a zip")
    upload.name = "kb.zip"
    page = manager.post(
        reverse("admin:knowledge_article_import"), {"file": upload, "status": "published"}
    )
    assert "not a readable .zip" in page.content.decode()


@pytest.mark.django_db
def test_admin_warns_when_retrieval_runs_on_the_lexical_fallback(manager, monkeypatch):
    from tickets import embeddings

    changelist = reverse("admin:knowledge_article_changelist")
    assert "kb-embedder-warning" not in manager.get(changelist).content.decode()

    monkeypatch.setattr(embeddings, "embedder", lambda: embeddings.LexicalFallback())
    page = manager.get(changelist).content.decode()
    assert "kb-embedder-warning" in page and "lexical fallback" in page
