from __future__ import annotations

import pytest

from knowledge.services import article_save


@pytest.mark.django_db
def test_help_centre_lists_searches_and_renders_articles(client, articles):
    index = client.get("/help/")
    assert index.status_code == 200
    assert b"Tracking your order" in index.content or b"track-order" in index.content

    page = client.get("/help/shipping-times-and-costs/")
    assert page.status_code == 200 and b"<h2>" in page.content

    results = client.get("/help/", {"q": "forgot my password"})
    assert b"/help/reset-password/" in results.content


@pytest.mark.django_db
def test_article_markup_is_escaped_and_drafts_are_hidden(client):
    article_save(slug="xss", title="Hostile", body="## Hi\n<script>alert(1)</script> **bold**")
    page = client.get("/help/xss/")
    assert b"<script>alert(1)" not in page.content
    assert b"&lt;script&gt;" in page.content and b"<strong>bold</strong>" in page.content
    article_save(slug="draft", title="Draft", body="secret", status="draft")
    assert client.get("/help/draft/").status_code == 404


@pytest.mark.django_db
def test_only_public_published_articles_reach_customers(
    client, admin_user_, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        article_save(slug="returns", title="Returning an item", body="Return items within 30 days.")
        article_save(
            slug="refund-override",
            title="Refund overrides for agents",
            body="Agents may refund returns up to $50 without approval.",
            audience="internal",
        )
        article_save(
            slug="old-returns",
            title="Old returns",
            body="Returns within 60 days.",
            status="archived",
        )

    listing = client.get("/help/").content.decode()
    assert "Returning an item" in listing
    assert "Refund overrides" not in listing and "Old returns" not in listing
    assert client.get("/help/refund-override/").status_code == 404
    assert client.get("/help/old-returns/").status_code == 404

    results = client.get("/help/", {"q": "refund returns approval"}).content.decode()
    assert "/help/returns/" in results and "refund-override" not in results

    client.force_login(admin_user_)  # the REST API needs a login; it still serves customers' view
    api = client.get("/api/v1/articles/").json()
    slugs = [a["slug"] for a in api.get("results", api)]
    assert slugs == ["returns"]
    assert client.get("/api/v1/articles/refund-override/").status_code == 404


@pytest.mark.django_db
def test_help_centre_filters_by_language(client):
    article_save(slug="returns", title="Returning an item", body="Within 30 days.")
    article_save(
        slug="devolucoes", title="Devolver um item", body="Em até 30 dias.", locale="pt-br"
    )

    everything = client.get("/help/").content.decode()
    assert "Returning an item" in everything and "Devolver um item" in everything
    assert "?lang=pt-br" in everything

    portuguese = client.get("/help/", {"lang": "pt-br"}).content.decode()
    assert "Devolver um item" in portuguese and "Returning an item" not in portuguese
    assert "Returning an item" in client.get("/help/", {"lang": "xx"}).content.decode()
