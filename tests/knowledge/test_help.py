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
